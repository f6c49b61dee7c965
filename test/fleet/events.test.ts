/**
 * Events and webhook deliveries on PGlite and the PostgreSQL server, without an agent: an event
 * is stored once per (panel, epoch, n) with its person resolved from the slot; only duress and dealer
 * access granted / revoked / session started make a notification; events past the retention
 * period are pruned; a delivery that keeps failing is retried with growing delays and given up
 * after its attempts, one that succeeds is marked delivered, and a delivery is never lost by a
 * deliverer stopped mid-way.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WireEvent } from "../../protocol/index.js";
import { CodeVault } from "../../src/fleet/code-vault.js";
import type { Db } from "../../src/fleet/db.js";
import { ingestEvent, listEvents, notificationOf, pruneEvents } from "../../src/fleet/events.js";
import { migrate } from "../../src/fleet/schema.js";
import { FleetStore, Secret } from "../../src/fleet/store.js";
import { deliveries, enqueueDelivery, WebhookDeliverer } from "../../src/fleet/webhooks.js";
import { DATABASES } from "./databases.js";
import { captureLog, until } from "./fixture.js";
import { WebhookReceiver } from "./webhook-receiver.js";

const at = Date.now();
const ev = (n: number, type: string, data: Record<string, unknown>, when = at): WireEvent => ({ v: 1, t: "evt", panel: "ev-1", n, at: when, type, data }) as unknown as WireEvent;
const point = { kind: "keypad", id: "kp-1" };

describe.each(DATABASES)("events and webhook deliveries ($name)", (database) => {
  let db: Db;
  let closeDb: () => Promise<void>;
  let store: FleetStore;
  const hook = new WebhookReceiver();
  const log = captureLog();
  let personId = "";

  beforeAll(async () => {
    await hook.start();
    ({ db, close: closeDb } = await database.open());
    await migrate(db);
    store = new FleetStore(db, new CodeVault(Buffer.alloc(32, 2)));
    await store.enrolPanel({ id: "ev-1", type: "DSC", codeLength: 4, timeZone: "UTC", sealKey: Buffer.alloc(32, 1), lastSeq: 0 });
    const p = await store.createPerson({ firstName: "Eve", lastName: "Event" });
    personId = p.id;
    await store.setCode(p.id, new Secret("7351"));
    await store.setAccess(p.id, "ev-1", { enabled: true, slot: 5, role: "Duress" });
  }, 60_000);

  afterAll(async () => {
    await closeDb?.();
    await hook.stop();
  });

  it("stores each (panel, n) once with the person of its slot; notifies only what the documents name", async () => {
    const events = [
      ev(1, "access", { point, credential: "pin", granted: true, reason: "ok", slot: 5, duress: true }),
      ev(2, "duress", { slot: 5, point }),
      ev(3, "lockout", { point, scope: "keypad", failures: 5, until: at + 30_000 }),
      ev(4, "one_time_consumed", { slot: 9, localDay: "2026-12-02" }),
      ev(5, "dealer_access", { change: "granted", hours: 2, until: at + 7_200_000 }),
      ev(6, "dealer_access", { change: "session_started" }),
      ev(7, "dealer_access", { change: "expired" }),
      ev(8, "dealer_access", { change: "revoked" }),
    ];
    for (const e of events) expect(await ingestEvent(db, "ev-1", e, { notify: true })).toBe(true);
    // a second worker hearing the same events stores and notifies nothing more
    for (const e of events) expect(await ingestEvent(db, "ev-1", e, { notify: true })).toBe(false);
    expect(await ingestEvent(db, "not-enrolled", ev(1, "duress", { slot: 1, point }), { notify: true })).toBe(false);
    expect(events.map(notificationOf)).toEqual([null, "duress", null, null, "dealer_access.granted", "dealer_access.session_started", null, "dealer_access.revoked"]);
    expect((await deliveries(db)).map((d) => d.event).sort()).toEqual(["dealer_access.granted", "dealer_access.revoked", "dealer_access.session_started", "duress"]);
    const mine = await listEvents(db, { personId }, 1, 10);
    expect(mine.rows.map((e) => e.type).sort()).toEqual(["access", "duress"]);
    expect((await listEvents(db, { panelId: "ev-1", type: "lockout" }, 1, 10)).rows).toMatchObject([{ n: 3, slot: null, personId: null, data: { failures: 5 } }]);
    expect((await listEvents(db, { panelId: "ev-1" }, 1, 10)).range).toBe("1-8 of 8");
  });

  it("counts a reset panel's numbers in its new epoch: its first events are stored and notified, not taken for the old database's", async () => {
    const [oldEpoch, newEpoch] = ["00000000000000aa", "00000000000000bb"];
    const inEpoch = (epoch: string, e: WireEvent): WireEvent => ({ ...e, epoch });
    await db.query("DELETE FROM webhook_deliveries");
    expect(await ingestEvent(db, "ev-1", inEpoch(oldEpoch, ev(1, "access", { point, credential: "pin", granted: true, reason: "ok", slot: 5 })), { notify: true })).toBe(true);
    // the database made anew: numbers from 1 again, a duress among them
    expect(await ingestEvent(db, "ev-1", inEpoch(newEpoch, ev(1, "duress", { slot: 5, point })), { notify: true })).toBe(true);
    expect(await ingestEvent(db, "ev-1", inEpoch(newEpoch, ev(2, "access", { point, credential: "pin", granted: true, reason: "ok", slot: 5, duress: true })), { notify: true })).toBe(true);
    // redeliveries of either epoch are duplicates
    expect(await ingestEvent(db, "ev-1", inEpoch(newEpoch, ev(1, "duress", { slot: 5, point })), { notify: true })).toBe(false);
    expect(await ingestEvent(db, "ev-1", inEpoch(oldEpoch, ev(1, "access", { point, credential: "pin", granted: true, reason: "ok", slot: 5 })), { notify: true })).toBe(false);
    expect((await deliveries(db)).map((d) => d.event)).toEqual(["duress"]);
    const stored = await db.query<{ epoch: string; n: unknown }>("SELECT epoch, n FROM events WHERE panel_id = 'ev-1' AND epoch <> '' ORDER BY id");
    expect(stored.rows.map((r) => `${r.epoch}:${String(r.n)}`)).toEqual([`${oldEpoch}:1`, `${newEpoch}:1`, `${newEpoch}:2`]);
    expect((await listEvents(db, { panelId: "ev-1", type: "duress" }, 1, 10)).rows.map((e) => e.epoch)).toEqual([newEpoch, null]);
    await db.query("DELETE FROM events WHERE epoch <> ''");
  });

  it("prunes events older than the retention period", async () => {
    await ingestEvent(db, "ev-1", ev(100, "access", { point, credential: "pin", granted: false, reason: "unknown_credential" }, at - 10 * 24 * 3600_000), { notify: false });
    expect(await pruneEvents(db, 7 * 24 * 3600_000)).toBe(1);
    expect((await listEvents(db, { panelId: "ev-1" }, 1, 50)).total).toBe(8);
  });

  it("retries a failing receiver with growing delays, gives up after its attempts, delivers once it answers, and loses nothing when stopped mid-way", async () => {
    await db.query("DELETE FROM webhook_deliveries");
    hook.failFirst = 1_000;
    const failing = new WebhookDeliverer(db, { notificationUrl: hook.url, maxAttempts: 3, baseDelayMs: 250, pollMs: 20 }, log.logger);
    const gaveUp = await enqueueDelivery(db, "notification", "duress", { panelId: "ev-1" });
    failing.start();
    await until(async () => (await deliveries(db)).find((d) => d.id === gaveUp)?.status === "failed", 10_000);
    await failing.stop();
    expect((await deliveries(db)).find((d) => d.id === gaveUp)).toMatchObject({ status: "failed", attempts: 3, lastError: "HTTP 500" });
    expect(hook.attempts.get(gaveUp)).toBe(3);
    // the delay doubles: at least 250 ms, then at least 500 ms (the database's clock decides when a row is due)
    const [t1, t2, t3] = hook.times.get(gaveUp)!;
    expect(t2! - t1!).toBeGreaterThanOrEqual(240);
    expect(t3! - t2!).toBeGreaterThanOrEqual(490);

    hook.failFirst = 2;
    const first = new WebhookDeliverer(db, { notificationUrl: hook.url, baseDelayMs: 300, pollMs: 20 }, log.logger);
    const later = await enqueueDelivery(db, "notification", "dealer_access.granted", { panelId: "ev-1", hours: 2 });
    first.start();
    await until(async () => (hook.attempts.get(later) ?? 0) >= 1);
    await first.stop();
    expect((await deliveries(db)).find((d) => d.id === later)?.status).toBe("pending");
    const second = new WebhookDeliverer(db, { notificationUrl: hook.url, baseDelayMs: 100, pollMs: 20 }, log.logger);
    second.start();
    await until(async () => (await deliveries(db)).find((d) => d.id === later)?.status === "delivered", 10_000);
    await second.stop();
    expect(hook.attempts.get(later)).toBe(3);
    expect(hook.received.filter((r) => r.body.id === later)).toHaveLength(1);
  });
});
