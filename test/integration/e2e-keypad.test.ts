/**
 * End to end: a real agent (SQLite file, keypad socket) on a real broker, a cloud peer speaking
 * the protocol, and the emulator driven through --script as a child process.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Agent } from "../../src/agent.js";
import { Secret } from "../../src/domain/index.js";
import type { WireCommandInput } from "../../protocol/index.js";
import { startEmbeddedBroker, type EmbeddedBroker } from "../../src/sync/embedded-broker.js";
import { agentConfig, CloudPeer, startAgent } from "../helpers/agent-harness.js";
import { tempDirs } from "../helpers/tmp.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const dirs = tempDirs();
let broker: EmbeddedBroker;
let peer: CloudPeer;
let agent: Agent;
let seq = 0;

async function send(input: Record<string, unknown>): Promise<void> {
  const command = { id: `e2e-${++seq}`, actor: { kind: "cloud", id: "ops" }, ...input } as WireCommandInput;
  await peer.send({ seq, expiresAt: Date.now() + 60_000, command });
  const out = await peer.until(() => peer.outcome(command.id));
  if (!out.ok) throw new Error(`command rejected: ${out.error.code}`);
}

function emulate(script: string, keypad = "kp-e2e"): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = execFile(`${root}/node_modules/.bin/tsx`, ["emulator/main.ts", "--socket", agent.config.keypadSocket, "--keypad", keypad, "--script", "-"], { cwd: root, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`emulator failed: ${err.message} ${stderr}`));
      else resolve(stdout.trim().split("\n"));
    });
    child.stdin!.end(script);
  });
}

beforeAll(async () => {
  broker = await startEmbeddedBroker();
  peer = await new CloudPeer(broker.url, "panel-1").connect();
  agent = await startAgent(agentConfig(dirs.make(), broker.url, peer.signingKey, { lockout: { maxAttempts: 3, lockSeconds: 60 } }));
  await peer.until(() => peer.state);
  await send({ kind: "set_code", slot: 1, code: new Secret("1470") });
  await send({ kind: "set_code", slot: 2, code: new Secret("2581") });
  await send({ kind: "set_label", slot: 2, label: "Anna" });
  await send({ kind: "set_code", slot: 3, code: new Secret("3692") });
  await send({ kind: "set_role", slot: 3, role: "One-time User" });
  await send({ kind: "set_code", slot: 4, code: new Secret("4703") });
  await send({ kind: "set_role", slot: 4, role: "Duress" });
}, 60_000);

afterAll(async () => {
  await agent?.stop();
  await peer?.close();
  await broker?.close();
  dirs.cleanup();
});

describe("emulator against the running agent", () => {
  it("grants a code set by the cloud and arms, then disarms", async () => {
    const lines = await emulate("entry arm_away 2581\nentry disarm 2581\n");
    expect(lines).toContain("P1 Armed away | Access granted — Anna");
    expect(lines).toContain("P1 Disarmed | Access granted — Anna");
  });

  it("lets a one-time user disarm once and denies a second disarm the same day", async () => {
    const lines = await emulate("entry arm_away 3692\nentry disarm 3692\nentry arm_away 3692\nentry disarm 3692\n");
    const results = lines.map((l) => l.split(" | ")[1]);
    expect(results.filter((r) => r === "Access granted — User 3")).toHaveLength(3);
    expect(results.at(-1)).toBe("Access denied");
    await peer.until(() => peer.events.find((e) => e.type === "one_time_consumed"));
  });

  it("shows duress as an ordinary disarm and sends the silent duress event", async () => {
    const lines = await emulate("entry arm_away 2581\nentry disarm 4703\n");
    expect(lines.at(-1)).toBe("P1 Disarmed | Access granted — User 4");
    const duress = await peer.until(() => peer.events.find((e) => e.type === "duress"));
    expect(duress.data).toMatchObject({ slot: 4, point: { kind: "keypad", id: "kp-e2e" } });
  });

  it("locks the keypad after wrong codes, the same answer for every denial", async () => {
    const lines = await emulate("entry disarm 0001\nentry disarm 0002\nentry disarm 0003\nentry disarm 2581\n", "kp-lock");
    const results = lines.map((l) => l.split(" | ")[1]);
    expect(results.slice(-4, -1)).toEqual(["Access denied", "Access denied", expect.stringMatching(/^Keypad locked \d+ s$/)]);
    expect(results.at(-1)).toMatch(/^Keypad locked \d+ s$/);
    await peer.until(() => peer.events.find((e) => e.type === "lockout"));
  });

  it("lets the Master program a user at the keypad, and the change reaches the cloud as an event", async () => {
    const lines = await emulate("keys *5\nkeys 1470\nkeys 9#\nkeys 1\nkeys 9517\nkeys ##\nentry arm_away 9517\n", "kp-prog");
    expect(lines).toContain("User 9 code set | 1 Code  2 Partitions  3 Delete  # Back");
    expect(lines.at(-1)).toBe("P1 Armed away | Access granted — User 9");
    const change = await peer.until(() => peer.events.find((e) => e.type === "local_change"));
    expect(change.data).toMatchObject({ action: "set_code", slot: 9, actor: { kind: "keypad_user", slot: 1 } });
    // The code as a value of its own (timestamps are digits too, so not a bare substring search).
    expect(JSON.stringify(peer.events)).not.toMatch(/(?<![0-9])9517(?![0-9])/);
  });
});
