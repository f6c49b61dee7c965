import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { CloudClient } from "../../src/cloud/index.js";
import type { Agent } from "../../src/agent.js";
import { generateSigningKey, type SigningKey } from "../../protocol/index.js";
import { CodeVault } from "../../src/fleet/code-vault.js";
import type { Db } from "../../src/fleet/db.js";
import { COMMAND_LIFETIME_MS, Dispatcher, journalSeqStore } from "../../src/fleet/dispatcher.js";
import { fleetLogger, type Logger } from "../../src/fleet/log.js";
import { migrate } from "../../src/fleet/schema.js";
import { FleetStore } from "../../src/fleet/store.js";
import { agentConfig, startAgent } from "../helpers/agent-harness.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { tempDirs } from "../helpers/tmp.js";

/** Log lines kept in memory (scanned for codes). */
export function captureLog(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      cb();
    },
  });
  return { logger: fleetLogger({ level: "debug", destination }), lines };
}

/** A real mosquitto and real agents (SQLite, keypad socket) that trust one cloud signing key. */
export class AgentFleet {
  readonly dirs = tempDirs();
  readonly signingKey: SigningKey = generateSigningKey();
  readonly broker = new Mosquitto();
  readonly agents = new Map<string, Agent>();

  async start(panelIds: string[]): Promise<this> {
    await this.broker.start();
    for (const panelId of panelIds) {
      const agent = await startAgent(agentConfig(this.dirs.make("fleet-agent-"), this.broker.url, this.signingKey, { panelId }));
      this.agents.set(panelId, agent);
    }
    return this;
  }

  /** Stops a panel's agent and starts it again; with `wipeTable`, its database is gone (a new epoch, lastSeq 0), its keys stay. */
  async restart(panelId: string, options: { wipeTable?: boolean; whileDown?: () => Promise<void> } = {}): Promise<Agent> {
    const old = this.agent(panelId);
    await old.stop();
    await options.whileDown?.();
    if (options.wipeTable) for (const f of readdirSync(old.config.stateDir)) if (f.startsWith("panel-agent.db")) rmSync(join(old.config.stateDir, f));
    const agent = await startAgent(old.config);
    this.agents.set(panelId, agent);
    return agent;
  }

  agent(panelId: string): Agent {
    return this.agents.get(panelId)!;
  }

  async stop(): Promise<void> {
    for (const a of this.agents.values()) await a.stop();
    await this.broker.dispose();
    this.dirs.cleanup();
  }
}

/** The fleet's moving parts on one database: store, a cloud client numbering from the journal, a dispatcher. */
export async function fleetWorker(db: Db, brokerUrl: string, signingKey: SigningKey, vault: CodeVault, logger: Logger, workerId = "w1") {
  await migrate(db);
  const store = new FleetStore(db, vault);
  const client = new CloudClient({ url: brokerUrl, signingKey, seqStore: journalSeqStore(store), ackTimeoutMs: 3000, actor: { kind: "cloud", id: "panel-fleet" }, commandLifetimeMs: COMMAND_LIFETIME_MS });
  await client.connect();
  const dispatcher = new Dispatcher({ store, client, logger, workerId, pollMs: 100 });
  return {
    store,
    client,
    dispatcher,
    async stop() {
      await dispatcher.stop();
      await client.close();
    },
  };
}

export async function until<T>(probe: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}
