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
 */
import { readFileSync } from "node:fs";
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
const agents: Agent[] = [];
const started = performance.now();

async function startOne(panelId: string): Promise<void> {
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
  const agent = new Agent(config, { logger: logger.child({ panel: panelId }) });
  agents.push(agent);
  await agent.start();
}

const queue = [...spec.panels];
await Promise.all(
  Array.from({ length: Math.min(spec.concurrency ?? 25, queue.length) }, async () => {
    for (let p = queue.shift(); p !== undefined; p = queue.shift()) await startOne(p);
  }),
);
process.stdout.write(`${JSON.stringify({ ready: agents.length, ms: Math.round(performance.now() - started), rssMb: Math.round(process.memoryUsage().rss / 1048576) })}\n`);

let stopping = false;
async function stopAll(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(agents.map((a) => a.stop().catch(() => {})));
  process.exit(0);
}
process.on("SIGTERM", () => void stopAll());
process.stdin.on("end", () => void stopAll());
process.stdin.resume();
