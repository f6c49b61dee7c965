/**
 * Two workers on one fleet subscription (every worker hears every panel's acks and states): the
 * worker that does not hold a panel's lease neither verifies nor records that panel's states, and
 * still takes the panel over with its newest state once the holder goes away (its lease runs out).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloudClient } from "../../src/cloud/index.js";
import { Secret } from "../../src/domain/index.js";
import { CodeVault } from "../../src/fleet/code-vault.js";
import type { Db } from "../../src/fleet/db.js";
import { COMMAND_LIFETIME_MS, Dispatcher, journalSeqStore } from "../../src/fleet/dispatcher.js";
import { enrolPanel } from "../../src/fleet/enrol.js";
import { migrate } from "../../src/fleet/schema.js";
import { FleetStore } from "../../src/fleet/store.js";
import { AgentFleet, captureLog, until } from "./fixture.js";
import { DATABASES } from "./databases.js";

const server = DATABASES.find((d) => d.name.startsWith("PostgreSQL"))!;
const PANEL = "sf-1";
const LEASE_MS = 3000;

interface Worker {
  id: string;
  store: FleetStore;
  client: CloudClient;
  dispatcher: Dispatcher;
  /** Every state the client told (verified), by panel. */
  states: Map<string, number[]>;
}

describe("states of panels another worker holds", () => {
  const fleet = new AgentFleet();
  const log = captureLog();
  const vault = new CodeVault(Buffer.alloc(32, 7));
  let db: Db;
  let closeDb: () => Promise<void>;
  const workers: Worker[] = [];

  async function worker(id: string): Promise<Worker> {
    await migrate(db);
    const store = new FleetStore(db, vault);
    const client = new CloudClient({ url: fleet.broker.url, signingKey: fleet.signingKey, seqStore: journalSeqStore(store), ackTimeoutMs: 3000, actor: { kind: "cloud", id: "panel-fleet" }, commandLifetimeMs: COMMAND_LIFETIME_MS, fleet: true });
    const states = new Map<string, number[]>();
    client.on("state", (panelId, s) => states.set(panelId, [...(states.get(panelId) ?? []), s.lastSeq]));
    await client.connect();
    const dispatcher = new Dispatcher({ store, client, logger: log.logger, workerId: id, pollMs: 100, leaseMs: LEASE_MS });
    return { id, store, client, dispatcher, states };
  }

  beforeAll(async () => {
    await fleet.start([PANEL]);
    ({ db, close: closeDb } = await server.open());
    workers.push(await worker("sf-a"), await worker("sf-b"));
    await enrolPanel(workers[0]!.store, workers[0]!.client, { id: PANEL });
    for (const w of workers) w.dispatcher.start();
  }, 60_000);

  afterAll(async () => {
    for (const w of workers) {
      await w.dispatcher.stop();
      await w.client.close();
    }
    await closeDb?.();
    await fleet.stop();
  });

  it("only the lease holder verifies a panel's states; the other takes over with the newest once the lease ends", async () => {
    const w = workers[0]!;
    const person = await w.store.createPerson({ firstName: "Sid", lastName: "Filter" });
    await w.store.setCode(person.id, new Secret("5820"));
    await w.store.setAccess(person.id, PANEL, { enabled: true });
    for (const x of workers) x.dispatcher.kick();
    const applied = async (n: number) =>
      until(async () => {
        const j = await w.store.commandsOfPanel(PANEL);
        return j.length === n && j.every((c) => c.status === "applied") && j;
      }, 30_000);
    const first = await applied((await w.store.commandsOfPanel(PANEL)).length);
    const lastSeq = first.at(-1)!.seq;
    const ownerId = (await w.store.journal.leaseOwner(PANEL))!;
    const holder = workers.find((x) => x.id === ownerId)!;
    const other = workers.find((x) => x.id !== ownerId)!;
    // the other worker learns of the lease (from the lease statement, or its read of leases every third of a lease)
    await until(async () => !other.dispatcher.wantsState(PANEL), 10_000);
    await until(async () => holder.states.get(PANEL)?.includes(lastSeq), 10_000);
    const heardByOther = (other.states.get(PANEL) ?? []).length;

    // commands while the holder holds it: its states go to the holder only
    await w.store.setAccess(person.id, PANEL, { enabled: true, label: "Sid F" });
    holder.dispatcher.kick();
    const second = await applied((await w.store.commandsOfPanel(PANEL)).length);
    const seq2 = second.at(-1)!.seq;
    expect(seq2).toBeGreaterThan(lastSeq);
    await until(async () => holder.states.get(PANEL)?.includes(seq2), 10_000);
    await until(async () => (await w.store.panel(PANEL))!.lastSeq === seq2, 10_000);
    expect(other.states.get(PANEL)?.length ?? 0).toBe(heardByOther);
    expect(other.dispatcher.wantsState(PANEL)).toBe(false);

    // the holder loses its broker (it takes and renews no lease then): its lease runs out and the other takes over
    await holder.client.close();
    await w.store.setAccess(person.id, PANEL, { enabled: true, label: "Sid Filt" });
    for (const x of workers) x.dispatcher.kick();
    const third = await applied((await w.store.commandsOfPanel(PANEL)).length);
    expect(third.every((c) => c.wireSeq === c.seq)).toBe(true);
    expect(await w.store.journal.leaseOwner(PANEL)).toBe(other.id);
    // it took the panel with the newest state heard while it did not want them (seq2), then the next ones
    const seen = other.states.get(PANEL)!.slice(heardByOther);
    expect(seen[0]).toBe(seq2);
    await until(async () => other.states.get(PANEL)?.includes(third.at(-1)!.seq), 10_000);
    expect(log.lines.filter((l) => l.includes("seq_mismatch"))).toEqual([]);
  }, 90_000);
});
