/**
 * The agent's log says why a keypad entry was denied (issue 12, item 10), while the keypad shows
 * the same "Access denied" whatever the reason, and no code reaches the log.
 */
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { PanelCore, type AgentEvent } from "../../src/core.js";
import { Secret, type Command } from "../../src/domain/index.js";
import { KeypadServer } from "../../src/keypad/server.js";
import { KeypadTestClient, lastDisplay } from "../helpers/keypad-client.js";
import { captureLogger } from "../helpers/log-capture.js";
import { tempDirs } from "../helpers/tmp.js";

const dirs = tempDirs();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  dirs.cleanup();
});

it("logs the reason of a denied entry, the keypad shows only 'Access denied'", async () => {
  const dir = dirs.make();
  const core = new PanelCore({ stateDir: dir, config: { panelId: "p1", type: "DSC", codeLength: 4, timeZone: "Europe/Berlin", doorLocks: [] }, encodeEvent: (e: AgentEvent) => ({ kind: "evt", body: Buffer.from(JSON.stringify(e)) }) });
  cleanups.push(() => core.close());
  const cloud = { kind: "cloud" as const, id: "ops" };
  core.execute([
    { command: { id: "a", actor: cloud, kind: "set_code", slot: 1, code: new Secret("1470") } as Command, seq: 1 },
    { command: { id: "b", actor: cloud, kind: "set_code", slot: 2, code: new Secret("2581") } as Command, seq: 2 },
    { command: { id: "c", actor: cloud, kind: "set_partitions", slot: 2, partitions: [2] } as Command, seq: 3 },
  ]);
  const { logger, lines } = captureLogger();
  const server = new KeypadServer({ path: join(dir, "kp.sock"), backend: core, codeLength: 4, logger: logger });
  await server.start();
  cleanups.push(() => server.stop());
  const kp = await KeypadTestClient.connect(server.path);
  cleanups.push(() => void kp.socket.destroy());
  await kp.hello("kp1", [1]);

  const wrong = await kp.keys("9999");
  const otherPartition = await kp.keys("2581");
  expect(lastDisplay(wrong)?.line2).toBe(lastDisplay(otherPartition)?.line2);
  expect(String(lastDisplay(wrong)?.line2)).toMatch(/Access denied/);

  await new Promise((r) => setTimeout(r, 50));
  const access = lines.filter((l) => l.msg === "keypad access");
  expect(access.map((l) => [l.granted, l.reason, l.slot])).toEqual([
    [false, "unknown_credential", undefined],
    [false, "partition_not_allowed", 2],
  ]);
  const text = JSON.stringify(lines);
  for (const code of ["9999", "2581", "1470"]) expect(text).not.toContain(code);
});
