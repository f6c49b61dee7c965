/**
 * Two panel-fleet workers on one PostgreSQL server, one real agent: a session made at one worker
 * works at the other (sessions live in the database); every worker hears every event, yet each is
 * stored once and notified once (the (panel, n) key, and the delivery row written with it, claimed
 * by one worker with SKIP LOCKED).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type RunningFleet } from "../../src/fleet/app.js";
import { CodeVault } from "../../src/fleet/code-vault.js";
import type { Db } from "../../src/fleet/db.js";
import { KeypadTestClient } from "../helpers/keypad-client.js";
import { DATABASES } from "./databases.js";
import { AgentFleet, captureLog, until } from "./fixture.js";
import { adminClient, ApiClient, TEST_ADMIN } from "./http-client.js";
import { WebhookReceiver } from "./webhook-receiver.js";

const server = DATABASES.find((d) => d.name.startsWith("PostgreSQL"))!;

describe("two workers on one PostgreSQL server", () => {
  const agents = new AgentFleet();
  const hook = new WebhookReceiver();
  const log = captureLog();
  let db: Db;
  let closeDb: () => Promise<void>;
  const workers: RunningFleet[] = [];

  beforeAll(async () => {
    await hook.start();
    await agents.start(["two-1"]);
    ({ db, close: closeDb } = await server.open());
    for (const workerId of ["w-a", "w-b"]) {
      workers.push(await startFleet({
        db, vault: new CodeVault(Buffer.alloc(32, 5)), brokerUrl: agents.broker.url, signingKey: agents.signingKey, logger: log.logger, port: 0, admin: TEST_ADMIN, workerId,
        webhooks: { notificationUrl: hook.url, pollMs: 50 },
      }));
    }
  }, 90_000);

  afterAll(async () => {
    for (const w of workers) await w.stop();
    await closeDb?.();
    await agents.stop();
    await hook.stop();
  });

  it("shares sessions, stores each event once and notifies a duress once", async () => {
    const a = await adminClient(workers[0]!.url);
    const b = new ApiClient(workers[1]!.url);
    b.cookie = a.cookie;
    b.csrf = a.csrf;
    expect((await b.get("/api/v1/session")).status).toBe(200);
    expect((await a.post("/api/v1/panels", { id: "two-1" })).status).toBe(201);
    const p = await b.post<{ id: string }>("/api/v1/people", { firstName: "Dee", lastName: "Two" });
    const code = (await b.put<{ code: string }>(`/api/v1/people/${p.body.id}/code`, { generate: true })).body.code;
    const on = await a.put<{ commands: string[] }>(`/api/v1/people/${p.body.id}/panels/two-1`, { enabled: true, role: "Duress" });
    await until(async () => (await b.get<{ rows: { status: string }[] }>(`/api/v1/commands?ids=${on.body.commands.join(",")}`)).body.rows.every((r) => r.status === "applied"), 20_000);
    const kp = await KeypadTestClient.connect(agents.agent("two-1").config.keypadSocket);
    await kp.hello("kp-two", [1]);
    kp.send({ t: "entry", action: "arm_away", code });
    await kp.sync();
    kp.close();
    await until(async () => hook.of("duress").length >= 1);
    // both workers had the time to hear it and to try to deliver
    await new Promise((r) => setTimeout(r, 1500));
    expect(hook.of("duress")).toHaveLength(1);
    const rows = await db.query<{ type: string; n: unknown }>("SELECT type, count(*) AS n FROM events WHERE panel_id = 'two-1' AND type IN ('duress', 'access') GROUP BY type ORDER BY type");
    expect(rows.rows.map((r) => [r.type, Number(r.n)])).toEqual([["access", 1], ["duress", 1]]);
    const events = await a.get<{ rows: { type: string; personId: string }[] }>(`/api/v1/events?panelId=two-1&type=duress`);
    expect(events.body.rows).toMatchObject([{ type: "duress", personId: p.body.id }]);
  });
});
