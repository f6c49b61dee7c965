/**
 * An outbox row that no event encoder accepts (found when a bench seeded the table with a stub
 * event encoder) crashed the daemon at every start; it is dropped with an error line, and the
 * rows after it are published.
 */
import { afterEach, expect, it } from "vitest";
import { Agent, outboxEventRow } from "../../src/agent.js";
import { PanelCore } from "../../src/core.js";
import { startEmbeddedBroker } from "../../src/sync/embedded-broker.js";
import { OUTBOX_EVENT } from "../../src/sync/engine.js";
import { agentConfig, CloudPeer } from "../helpers/agent-harness.js";
import { captureLogger } from "../helpers/log-capture.js";
import { tempDirs } from "../helpers/tmp.js";

const dirs = tempDirs();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  dirs.cleanup();
});

it("drops an unencodable event row with an error line and publishes the next one", async () => {
  const b = await startEmbeddedBroker();
  cleanups.push(() => b.close());
  const peer = await new CloudPeer(b.url, "panel-1").connect();
  cleanups.push(() => peer.close());
  const config = agentConfig(dirs.make(), b.url, peer.signingKey);
  const seeded = new PanelCore({ stateDir: config.stateDir, config: { panelId: config.panelId, type: config.panelType, codeLength: config.codeLength, timeZone: config.timeZone, doorLocks: config.doorLocks }, encodeEvent: outboxEventRow });
  seeded.enqueue([{ kind: OUTBOX_EVENT, body: new Uint8Array(), numbered: true }], {}, Date.now());
  seeded.enqueue([outboxEventRow({ type: "lockout", at: Date.now(), scope: "keypad", id: "kp-1", failures: 10, lockedForMs: 90_000 })], {}, Date.now());
  seeded.close();

  const { logger, lines } = captureLogger();
  const agent = new Agent(config, { logger: logger });
  cleanups.push(() => agent.stop());
  await agent.start();
  await peer.until(() => peer.events.length >= 1);
  expect(peer.events.map((e) => e.type)).toEqual(["lockout"]);
  expect(lines.some((l) => l.msg === "outbox row cannot be encoded as an event; dropped")).toBe(true);
});
