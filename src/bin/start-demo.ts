#!/usr/bin/env node
/**
 * `npm start`: the whole thing on one machine in one terminal. An embedded MQTT broker on
 * loopback, the agent with its state under ./.data/, panel-fleet on PGlite (./.data/fleet) with
 * the demo panel enrolled and a demo admin, the demo users seeded through the fleet (their codes
 * are printed once, on first start), and the keypad emulator in this terminal. The agent's log
 * goes to ./.data/agent.log and the fleet's to ./.data/fleet.log so they do not draw over the keypad.
 *
 * Environment: DEMO_PORT (broker port, default 1883, a free one if taken), DEMO_FLEET_PORT (the
 * fleet's HTTP port, default 8080, a free one if taken), DEMO_DIR (default ./.data),
 * DEMO_NO_EMULATOR=1 (run broker, agent and fleet only, e.g. to use your own emulator or panelctl).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { randomInt } from "node:crypto";
import { pino } from "pino";
import { generateSigningKey, loadSigningKey, rawPrivateKey } from "../../protocol/index.js";
import { Agent } from "../agent.js";
import { parseConfig } from "../config.js";
import { makeCommand } from "../domain/index.js";
import { seedThroughFleet, startDemoFleet, type DemoFleet, type DemoUser } from "../fleet/demo.js";
import { startEmbeddedBroker, type EmbeddedBroker } from "../sync/embedded-broker.js";
import { buildConsole } from "../console/build.js";

const dir = resolve(process.env.DEMO_DIR ?? ".data");
const panelId = "demo";
mkdirSync(dir, { recursive: true, mode: 0o750 });

async function broker(): Promise<EmbeddedBroker> {
  const wanted = Number(process.env.DEMO_PORT ?? 1883);
  try {
    return await startEmbeddedBroker({ port: wanted });
  } catch {
    return startEmbeddedBroker({ port: 0 });
  }
}

function cloudKey() {
  const path = join(dir, "demo-cloud.key");
  if (existsSync(path)) return { key: loadSigningKey(readFileSync(path)), path };
  const key = generateSigningKey();
  writeFileSync(path, rawPrivateKey(key.privateKey), { mode: 0o600 });
  return { key, path };
}

/** A demo code: 4 digits, all different from each other and not a run like 1234. */
function demoCode(taken: Set<string>): string {
  for (;;) {
    const c = String(randomInt(0, 10_000)).padStart(4, "0");
    const d = [...c].map(Number);
    const run = d.every((x, i) => i === 0 || x === d[i - 1]! + 1) || d.every((x, i) => i === 0 || x === d[i - 1]! - 1);
    if (new Set(d).size >= 3 && !run && !taken.has(c)) {
      taken.add(c);
      return c;
    }
  }
}

const DURESS_NAME = "Ben";

/**
 * A demo seeded before the duress user had a person's name still labels it "Duress", which the
 * keypad would show on a grant: rename it (the label only; its code stays).
 */
function renameOldDuressUser(agent: Agent): void {
  const core = agent.core!;
  const table = core.table;
  for (const n of table.activeSlotNumbers()) {
    const slot = table.slot(n);
    if (slot.role !== "Duress" || slot.label !== "Duress") continue;
    const cmd = makeCommand("set_label", `demo-rename-${n}-${Date.now()}`, { kind: "system", id: "demo" }, { slot: n, label: DURESS_NAME });
    core.execute([{ command: cmd }]);
  }
}

/** First start: the demo users go to the panel through panel-fleet (people with codes, switched on), so the fleet's desired table is the panel's. */
async function seed(agent: Agent, demo: DemoFleet): Promise<string[]> {
  const core = agent.core!;
  if (core.table.activeSlotNumbers().length > 0 || demo.hasPeople || !demo.enrolled) {
    renameOldDuressUser(agent);
    return [];
  }
  const now = Date.now();
  const taken = new Set<string>();
  const users: Omit<DemoUser, "code">[] = [
    { slot: 1, label: "Owner", role: "Master" },
    { slot: 2, label: "Anna", role: "User", partitions: [1, 2] },
    { slot: 3, label: "Supervisor", role: "Supervisor" },
    { slot: 4, label: "Cleaner", role: "One-time User" },
    { slot: 5, label: "Office hours", role: "User", schedule: { kind: "weekly", windows: [{ days: [1, 2, 3, 4, 5], start: 8 * 60, end: 18 * 60 }] } },
    { slot: 6, label: "Guest week", role: "User", schedule: { kind: "temporary", from: now - 60_000, to: now + 7 * 24 * 3600_000 } },
    // The keypad shows a duress grant as an ordinary one ("Access granted — Ben"): a label
    // that said "Duress" would give the silent alarm away to whoever forces the code.
    { slot: 7, label: DURESS_NAME, role: "Duress" },
  ];
  const withCodes = users.map((u) => ({ ...u, code: demoCode(taken) }));
  await seedThroughFleet(demo, panelId, withCodes);
  return withCodes.map((u) => {
    const note = u.role === "Duress" ? "  (silent alarm; the keypad shows an ordinary grant)" : "";
    return `  ${String(u.slot).padStart(2)}  ${u.code}  ${u.label.padEnd(13)} ${u.role}${note}`;
  });
}

async function main(): Promise<void> {
  const b = await broker();
  const { key, path: keyPath } = cloudKey();
  const config = parseConfig({
    panelId,
    panelType: "DSC",
    codeLength: 4,
    timeZone: process.env.TZ && process.env.TZ !== "" ? process.env.TZ : Intl.DateTimeFormat().resolvedOptions().timeZone,
    partitions: 2,
    doorLocks: ["front-door"],
    stateDir: join(dir, "state"),
    keypadSocket: join(dir, "keypad.sock"),
    broker: { url: b.url },
    trustedCloudKeys: [key.publicRaw.toString("hex")],
    lockout: { maxAttempts: 5, lockSeconds: 30 },
  }, process.env);
  const logFd = openSync(join(dir, "agent.log"), "a");
  const logger = pino({ level: "info" }, pino.destination({ dest: logFd, sync: false }));
  const agent = new Agent(config, { logger });
  await agent.start();
  // A .data/ seeded before npm start ran panel-fleet: the fleet would bring the panel to its own
  // (empty) table, so that panel is not enrolled; deleting .data/ starts over with both.
  const fromBeforeTheFleet = agent.core!.table.activeSlotNumbers().length > 0 && !existsSync(join(dir, "fleet", "pgdata"));
  // panel-fleet serves the console from dist/console: bundle it first (esbuild, well under a
  // second), so `npm start` alone opens it, fresh from the sources.
  await buildConsole();
  const demo = await startDemoFleet({ dir, brokerUrl: b.url, signingKey: key, panelId, port: Number(process.env.DEMO_FLEET_PORT ?? 8080), logFile: join(dir, "fleet.log"), doorLocks: config.doorLocks, partitions: config.partitions ?? 2, enrol: !fromBeforeTheFleet });
  const seeded = await seed(agent, demo);
  const api = demo.fleet.url;

  const out: string[] = [];
  out.push(`panel-agent demo — panel "${panelId}" (DSC, 4-digit codes, partitions 1-2), state in ${dir}`);
  out.push(`MQTT broker (embedded aedes): ${b.url}    agent log: ${join(dir, "agent.log")}`);
  if (seeded.length > 0) {
    out.push("", "Demo users (codes shown this once; the panel keeps only HMAC digests, panel-fleet only ciphertext under .data/fleet/code.key):", "  No  Code  Label         Role", ...seeded);
  } else {
    out.push("", "Demo users were seeded on an earlier start; their codes were printed then. Delete .data/ to start over.");
  }
  out.push(
    "",
    `panel-fleet API: ${api}/api/v1  (log: ${join(dir, "fleet.log")}; OpenAPI: ${api}/api/v1/openapi.json; console: ${api}/)`,
    `  admin: ${demo.admin.email}  password: ${demo.admin.password}`,
    ...(demo.enrolled ? [] : ["  (this .data/ was seeded before npm start ran panel-fleet: the demo panel is not enrolled in it; delete .data/ to start over with both)"]),
    `  curl -c /tmp/fleet.jar -H 'content-type: application/json' -d '{"email":"${demo.admin.email}","password":"${demo.admin.password}"}' ${api}/api/v1/session`,
    `  curl -b /tmp/fleet.jar ${api}/api/v1/panels/${panelId}/users?perPage=10`,
  );
  out.push("", `panelctl: npm run panelctl -- users --broker ${b.url} --key ${keyPath} --panel ${panelId}`);
  out.push(`keypad socket: ${config.keypadSocket}  (another keypad: npm run emulator -- --socket ${config.keypadSocket})`, "");
  process.stdout.write(out.join("\n") + "\n");

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await demo.stop();
    await agent.stop();
    await b.close();
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));

  if (process.env.DEMO_NO_EMULATOR === "1") {
    process.stdout.write("Running without the emulator; Ctrl-C stops.\n");
    return;
  }
  if (process.stdin.isTTY) {
    // The keypad takes over the screen: let the new user note a code (or read that the codes
    // were printed on an earlier start) first.
    process.stdout.write(seeded.length > 0 ? "Note a code above, then press Enter to open the keypad... " : "Press Enter to open the keypad... ");
    await new Promise<void>((done) => process.stdin.once("data", () => done()));
    process.stdin.pause();
  }
  const tsx = resolve("node_modules/.bin/tsx");
  const emulator = spawn(existsSync(tsx) ? tsx : "npx", [...(existsSync(tsx) ? [] : ["tsx"]), "emulator/main.ts", "--socket", config.keypadSocket, "--keypad", "keypad-1", "--partition", "1"], { stdio: "inherit" });
  emulator.on("exit", (code) => void stop(code ?? 0));
}

main().catch((err: unknown) => {
  process.stderr.write(`npm start failed: ${(err as Error).message}\n`);
  process.exit(1);
});
