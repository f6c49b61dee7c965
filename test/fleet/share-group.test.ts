/**
 * Two panel-fleet workers sharing the panels' events through an MQTT shared subscription
 * (`eventShareGroup`, FLEET_EVENT_SHARE_GROUP) on a real mosquitto and one PostgreSQL server: each
 * event reaches ONE of the workers (both get a share, none gets an event twice), and the fleet
 * still stores every event once, with none missing; a worker away meanwhile gets its share when it
 * is back with its id (its persistent session kept it), and none is lost or stored twice.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type RunningFleet } from "../../src/fleet/app.js";
import { CodeVault } from "../../src/fleet/code-vault.js";
import type { Db } from "../../src/fleet/db.js";
import { Secret } from "../../src/domain/index.js";
import { DATABASES } from "./databases.js";
import { AgentFleet, captureLog, until } from "./fixture.js";
import { adminClient, TEST_ADMIN } from "./http-client.js";

const server = DATABASES.find((d) => d.name.startsWith("PostgreSQL"))!;
const ATTEMPTS = 24;

describe("two workers in one event share group", () => {
  const agents = new AgentFleet();
  const log = captureLog();
  let db: Db;
  let closeDb: () => Promise<void>;
  const workers: RunningFleet[] = [];
  const heard = new Map<string, number[]>();

  beforeAll(async () => {
    await agents.start(["share-1"]);
    ({ db, close: closeDb } = await server.open());
    for (const workerId of ["w-a", "w-b"]) {
      const w = await startFleet({ db, vault: new CodeVault(Buffer.alloc(32, 6)), brokerUrl: agents.broker.url, signingKey: agents.signingKey, logger: log.logger, port: 0, admin: TEST_ADMIN, workerId, eventShareGroup: "panel-fleet" });
      heard.set(workerId, []);
      w.client.on("event", (_panelId, e) => heard.get(workerId)!.push(e.n));
      workers.push(w);
    }
  }, 90_000);

  afterAll(async () => {
    for (const w of workers) await w.stop();
    await closeDb?.();
    await agents.stop();
  });

  it("gives each event to one worker, both get a share, and every event is stored once", async () => {
    const a = await adminClient(workers[0]!.url);
    expect((await a.post("/api/v1/panels", { id: "share-1" })).status).toBe(201);
    const agent = agents.agent("share-1");
    // Wrong codes at three keypads: an access event each, and lockouts beside them.
    for (let i = 0; i < ATTEMPTS; i++) await agent.core!.access({ keypadId: `kp${i % 3}`, partitions: [1] }, { kind: "pin", value: new Secret("9999") }, "disarm");
    const top = async () => Number((await db.query<{ n: unknown }>("SELECT coalesce(max(n), 0) AS n FROM events WHERE panel_id = 'share-1'")).rows[0]!.n);
    await until(async () => (await top()) >= ATTEMPTS, 30_000);
    const highest = await top();
    const stored = await db.query<{ n: unknown; c: unknown }>("SELECT n, count(*) AS c FROM events WHERE panel_id = 'share-1' GROUP BY n ORDER BY n");
    expect(stored.rows.map((r) => Number(r.n))).toEqual(Array.from({ length: highest }, (_, i) => i + 1));
    expect(stored.rows.every((r) => Number(r.c) === 1)).toBe(true);
    await until(async () => heard.get("w-a")!.length + heard.get("w-b")!.length >= highest, 10_000);
    const [ha, hb] = [heard.get("w-a")!, heard.get("w-b")!];
    expect(ha.length).toBeGreaterThan(0);
    expect(hb.length).toBeGreaterThan(0);
    expect(ha.filter((n) => hb.includes(n))).toEqual([]);
    expect(new Set([...ha, ...hb]).size).toBe(highest);
  }, 60_000);

  it("loses no event while a worker of the group is away: its share waits in its session and reaches it when it is back with its id", async () => {
    const agent = agents.agent("share-1");
    const top = async () => Number((await db.query<{ n: unknown }>("SELECT coalesce(max(n), 0) AS n FROM events WHERE panel_id = 'share-1'")).rows[0]!.n);
    const from = await top();
    // w-a goes (its persistent session stays at the broker), the panel goes on making events
    await workers[0]!.stop();
    for (let i = 0; i < ATTEMPTS; i++) await agent.core!.access({ keypadId: `kp${i % 3}`, partitions: [1] }, { kind: "pin", value: new Secret("9999") }, "disarm");
    const back = await startFleet({ db, vault: new CodeVault(Buffer.alloc(32, 6)), brokerUrl: agents.broker.url, signingKey: agents.signingKey, logger: log.logger, port: 0, admin: TEST_ADMIN, workerId: "w-a", eventShareGroup: "panel-fleet" });
    workers[0] = back;
    const whileAway: number[] = [];
    back.client.on("event", (_panelId, e) => whileAway.push(e.n));
    const highest = await until(async () => {
      const n = await top();
      const stored = await db.query<{ n: unknown }>("SELECT count(DISTINCT n) AS n FROM events WHERE panel_id = 'share-1' AND n > $1", [from]);
      // every number after `from` is stored (the agent numbers its events without gaps)
      return n >= from + ATTEMPTS && Number(stored.rows[0]!.n) === n - from && n;
    }, 30_000);
    const dup = await db.query<{ n: unknown }>("SELECT count(*) AS n FROM (SELECT n FROM events WHERE panel_id = 'share-1' GROUP BY epoch, n HAVING count(*) > 1) d");
    expect(Number(dup.rows[0]!.n)).toBe(0);
    expect(highest).toBeGreaterThanOrEqual(from + ATTEMPTS);
    // what the broker kept for w-a's session while it was away reached it on its return (or none was routed to it)
    console.log(`share-group: ${whileAway.filter((n) => n > from).length} of ${highest - from} events reached w-a after its return`);
  }, 60_000);
});
