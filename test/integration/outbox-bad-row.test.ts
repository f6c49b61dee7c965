/**
 * Outbox rows that cannot become events. An agent stores acks and events in their final signed
 * form, made in the transaction that numbers them: an event no encoder accepts is dropped there,
 * without a number and without failing its commit. Rows an older agent left (bare events, encoded
 * at publish) still go out after an upgrade; one that no encoder accepts (found when a bench seeded
 * the table with a stub event encoder; it crashed the daemon at every start) is dropped with an
 * error line, and the rows after it are published.
 */
import { afterEach, expect, it } from "vitest";
import { Agent } from "../../src/agent.js";
import { PanelCore } from "../../src/core.js";
import { startEmbeddedBroker } from "../../src/sync/embedded-broker.js";
import { decodeEvent } from "../../protocol/index.js";
import { LEGACY_OUTBOX_EVENT, legacyEventRow, OUTBOX_EVENT, OutboxRows } from "../../src/sync/outbox-rows.js";
import { agentConfig, CloudPeer } from "../helpers/agent-harness.js";
import { captureLogger } from "../helpers/log-capture.js";
import { tempDirs } from "../helpers/tmp.js";

const dirs = tempDirs();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  dirs.cleanup();
});

it("drops an unencodable event row an older agent left with an error line and publishes the next one", async () => {
  const b = await startEmbeddedBroker();
  cleanups.push(() => b.close());
  const peer = await new CloudPeer(b.url, "panel-1").connect();
  cleanups.push(() => peer.close());
  const config = agentConfig(dirs.make(), b.url, peer.signingKey);
  const seeded = new PanelCore({ stateDir: config.stateDir, config: { panelId: config.panelId, type: config.panelType, codeLength: config.codeLength, timeZone: config.timeZone, doorLocks: config.doorLocks }, encodeEvent: legacyEventRow });
  seeded.enqueue([{ kind: LEGACY_OUTBOX_EVENT, body: new Uint8Array(), numbered: true }], {}, Date.now());
  seeded.enqueue([legacyEventRow({ type: "lockout", at: Date.now(), scope: "keypad", id: "kp-1", failures: 10, lockedForMs: 90_000 })], {}, Date.now());
  seeded.close();

  const { logger, lines } = captureLogger();
  const agent = new Agent(config, { logger: logger });
  cleanups.push(() => agent.stop());
  await agent.start();
  await peer.until(() => peer.events.length >= 1);
  expect(peer.events.map((e) => e.type)).toEqual(["lockout"]);
  expect(lines.some((l) => l.msg === "outbox row cannot be encoded as an event; dropped")).toBe(true);
});

it("drops an event no encoder accepts in the transaction that would number it, without a gap and without failing the commit", () => {
  const dir = dirs.make();
  const dropped: string[] = [];
  const rows = new OutboxRows("panel-1", (type) => dropped.push(type));
  rows.setFinish((b) => b);
  const core = new PanelCore({ stateDir: dir, config: { panelId: "panel-1", type: "DSC", codeLength: 4, timeZone: "Europe/Berlin", doorLocks: [] }, encodeEvent: (e) => rows.agentEvent(e) });
  try {
    const at = Date.now();
    core.enqueue([rows.event("temporary_access_expired", at, { slot: 2, until: at })]);
    core.enqueue([rows.event("temporary_access_expired", at, { slot: -1, until: "never" } as never), rows.event("temporary_access_expired", at, { slot: 3, until: at })]);
    const out = core.outboxPeek(10);
    expect(dropped).toEqual(["temporary_access_expired"]);
    expect(out.map((r) => [r.kind, r.n])).toEqual([[OUTBOX_EVENT, 1], [OUTBOX_EVENT, 2]]);
    // The stored bytes are the event as it is published: numbered, for this panel, nothing to re-encode.
    const second = decodeEvent(out[1]!.body);
    expect(second.ok && second.value).toMatchObject({ panel: "panel-1", n: 2, type: "temporary_access_expired", data: { slot: 3 } });
  } finally {
    core.close();
  }
});
