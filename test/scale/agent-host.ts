/**
 * Hosts many real agents in one process for the fleet's scale runs: each with its own state
 * directory (SQLite database, keys), its own MQTT session and its own keypad socket, exactly as
 * `panel-agent` runs one. Several hosts share the machine's cores.
 *
 *   node --import tsx test/scale/agent-host.ts HOST.json
 *
 * HOST.json: { brokerUrl, trustedKeyHex, dir, panels: [panelId, ...], concurrency? }. Prints one
 * JSON line `{ ready, ms, rssMb }` once every agent is connected, then stops them all on SIGTERM
 * (or when stdin closes) and exits 0.
 *
 * On stdin, one JSON line per request:
 *   { "reset": [panelId, ...] }  each agent is stopped, its database deleted (its keys stay: a new
 *                                epoch, lastSeq 0, an empty table) and started again; answers
 *                                `{ "reset": n, "ms": ... }` once all of them are connected again.
 */
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { Agent } from "../../src/agent.js";
import { parseConfig } from "../../src/config.js";

interface HostSpec {
  brokerUrl: string;
  trustedKeyHex: string;
  dir: string;
  panels: string[];
  concurrency?: number;
  panelType?: string;
  codeLength?: number;
}

const spec = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as HostSpec;
const logger = pino({ level: "error" });
const agents = new Map<string, Agent>();
const started = performance.now();

async function startOne(panelId: string): Promise<void> {
  const agent = new Agent(configOf(panelId), { logger: logger.child({ panel: panelId }) });
  agents.set(panelId, agent);
  await agent.start();
}

function configOf(panelId: string) {
  const base = join(spec.dir, panelId);
  const config = parseConfig({
    panelId,
    panelType: spec.panelType ?? "DSC",
    codeLength: spec.codeLength ?? 4,
    timeZone: "Europe/Berlin",
    stateDir: join(base, "state"),
    keypadSocket: join(base, "keypad.sock"),
    broker: { url: spec.brokerUrl, protocolVersion: 4, keepaliveSeconds: 60 },
    trustedCloudKeys: [spec.trustedKeyHex],
    logLevel: "error",
  });
  return config;
}

/** Stops the panel's agent, deletes its database (not its keys) and starts it again. */
async function resetOne(panelId: string): Promise<void> {
  const old = agents.get(panelId);
  if (!old) throw new Error(`no agent ${panelId} in this host`);
  await old.stop();
  const stateDir = old.config.stateDir;
  for (const f of readdirSync(stateDir)) if (f.startsWith("panel-agent.db")) rmSync(join(stateDir, f));
  await startOne(panelId);
}

/** Runs `fn` over `ids`, `concurrency` at a time (the start-up's pace). */
async function each(ids: string[], fn: (id: string) => Promise<void>): Promise<void> {
  const queue = [...ids];
  await Promise.all(Array.from({ length: Math.min(spec.concurrency ?? 25, queue.length) }, async () => {
    for (let p = queue.shift(); p !== undefined; p = queue.shift()) await fn(p);
  }));
}

await each(spec.panels, startOne);
process.stdout.write(`${JSON.stringify({ ready: agents.size, ms: Math.round(performance.now() - started), rssMb: Math.round(process.memoryUsage().rss / 1048576) })}\n`);

let stopping = false;
async function stopAll(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all([...agents.values()].map((a) => a.stop().catch(() => {})));
  process.exit(0);
}
process.on("SIGTERM", () => void stopAll());
process.stdin.on("end", () => void stopAll());
let pendingInput = "";
let requests = Promise.resolve();
process.stdin.on("data", (d: Buffer) => {
  pendingInput += d.toString();
  const lines = pendingInput.split("\n");
  pendingInput = lines.pop()!;
  for (const line of lines.filter((l) => l.trim())) {
    requests = requests.then(async () => {
      const req = JSON.parse(line) as { reset?: string[] };
      const t0 = performance.now();
      // At once: every agent asked for is stopped, wiped and started together.
      await Promise.all((req.reset ?? []).map(resetOne));
      process.stdout.write(`${JSON.stringify({ reset: req.reset?.length ?? 0, ms: Math.round(performance.now() - t0) })}\n`);
    }).catch((err: unknown) => void process.stdout.write(`${JSON.stringify({ error: (err as Error).message })}\n`));
  }
});
