/**
 * panelctl watch against a real agent on a real mosquitto: readable lines for access events
 * (granted with the slot, denied with the reason), the raw events with --json, and a line when
 * the broker goes away and one when it is back. No code is ever printed.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSigningKey, rawPrivateKey } from "../../protocol/index.js";
import type { Agent } from "../../src/agent.js";
import { CloudClient } from "../../src/cloud/index.js";
import { Secret } from "../../src/domain/index.js";
import { cloudAgentConfig, runAgent, waitFor } from "../helpers/cloud-harness.js";
import { KeypadTestClient } from "../helpers/keypad-client.js";
import { MOSQUITTO_BIN, Mosquitto } from "../helpers/mosquitto.js";
import { tempDirs } from "../helpers/tmp.js";

const TSX = join(process.cwd(), "node_modules/.bin/tsx");
const CLI = join(process.cwd(), "src/bin/panelctl.ts");
const PIN = "6284";
const WRONG = "9517";

const dirs = tempDirs();
let mosq: Mosquitto;
let agent: Agent;
let dir: string;
const children: ChildProcess[] = [];

function watch(args: string[]): { out: () => string; err: () => string; proc: ChildProcess } {
  const proc = spawn(TSX, [CLI, "watch", "--panel", "w1", "--broker", mosq.url, ...args], { env: { ...process.env, PANELCTL_SEQ_FILE: join(dir, "seq.json") }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(proc);
  let out = "";
  let err = "";
  proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr.on("data", (d: Buffer) => (err += d.toString()));
  return { out: () => out, err: () => err, proc };
}

async function enter(code: string): Promise<void> {
  const c = await KeypadTestClient.connect(agent.config.keypadSocket);
  try {
    await c.hello("kp-w", [1]);
    c.send({ t: "entry", action: "arm_away", code });
    await c.sync();
  } finally {
    c.close();
  }
}

beforeAll(async () => {
  if (!MOSQUITTO_BIN) throw new Error("mosquitto missing: apt-get install mosquitto");
  dir = dirs.make("panelctl-watch-");
  mosq = await new Mosquitto().start();
  const key = generateSigningKey();
  writeFileSync(join(dir, "cloud.key"), rawPrivateKey(key.privateKey).toString("hex") + "\n", { mode: 0o600 });
  agent = await runAgent(cloudAgentConfig(join(dir, "agent"), mosq.url, "w1", key));
  const client = new CloudClient({ url: mosq.url, signingKey: key });
  await client.connect();
  expect(await client.send("w1", { kind: "set_code", slot: 2, code: new Secret(PIN) })).toMatchObject({ status: "applied" });
  await client.close();
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  await agent?.stop();
  await mosq?.dispose();
  dirs.cleanup();
});

describe("panelctl watch", () => {
  it("prints access granted/denied with the slot and the reason, says when the broker goes and comes back, and stops on SIGTERM", async () => {
    const w = watch([]);
    await waitFor(() => w.err().includes("watching"), 20_000);
    await new Promise((r) => setTimeout(r, 300)); // the subscription is in place
    await enter(WRONG);
    await enter(PIN);
    await waitFor(() => /access granted/.test(w.out()), 10_000);
    expect(w.out()).toMatch(/w1 +#\d+ +access denied +keypad kp-w +no user \(code\) +reason unknown_credential: unknown code or tag/);
    expect(w.out()).toMatch(/w1 +#\d+ +access granted +keypad kp-w +slot 2 \(code\)/);

    await mosq.stop();
    await waitFor(() => w.out().includes("went away"), 10_000);
    await mosq.start();
    await waitFor(() => w.out().includes("is back"), 15_000);
    expect(w.out()).toContain(`broker ${mosq.url} went away; reconnecting`);
    expect(w.out()).toContain(`broker ${mosq.url} is back; watching again`);

    const exit = new Promise<number | null>((r) => w.proc.once("exit", (code) => r(code)));
    w.proc.kill("SIGTERM");
    expect(await exit).toBe(0);
    expect(w.out() + w.err()).not.toContain(PIN);
    expect(w.out() + w.err()).not.toContain(WRONG);
  }, 60_000);

  it("--json prints each event as the panel sent it (the reason is on the wire)", async () => {
    const w = watch(["--json"]);
    await waitFor(() => w.err().includes("watching"), 20_000);
    await new Promise((r) => setTimeout(r, 300));
    await enter(WRONG);
    const line = await waitFor(() => w.out().split("\n").find((l) => l.includes('"type":"access"')), 10_000);
    expect(JSON.parse(line)).toMatchObject({ t: "evt", panel: "w1", type: "access", data: { granted: false, reason: "unknown_credential", credential: "pin", point: { kind: "keypad", id: "kp-w" } } });
    w.proc.kill("SIGTERM");
  }, 60_000);
});
