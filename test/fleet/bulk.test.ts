/**
 * PUT /api/v1/people/:personId/panels (seed doc 000's Device Access: one Save, a switch per panel):
 * one transaction through the per-panel path. All panels' commands or none: one refused panel
 * refuses the call with that panel's code and changes nothing (no command, no seq, no access row);
 * without manage_panel_users it is 403. The code applied at each panel is granted at its keypad.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type RunningFleet } from "../../src/fleet/app.js";
import { CodeVault } from "../../src/fleet/code-vault.js";
import type { Db } from "../../src/fleet/db.js";
import { KeypadTestClient, lastDisplay } from "../helpers/keypad-client.js";
import { BULK_MAX_BODY } from "../../src/fleet/http/routes-bulk.js";
import { DATABASES } from "./databases.js";
import { AgentFleet, captureLog, until } from "./fixture.js";
import { adminClient, ApiClient, type ApiClient as Api } from "./http-client.js";

const PANELS = ["bulk-1", "bulk-2", "bulk-3"];

describe.each(DATABASES)("bulk access: one call, one transaction ($name)", (database) => {
  const agents = new AgentFleet();
  const log = captureLog();
  let db: Db;
  let closeDb: () => Promise<void>;
  let fleet: RunningFleet;
  let admin: Api;

  beforeAll(async () => {
    await agents.start(PANELS);
    ({ db, close: closeDb } = await database.open());
    fleet = await startFleet({ db, vault: new CodeVault(Buffer.alloc(32, 9)), brokerUrl: agents.broker.url, signingKey: agents.signingKey, logger: log.logger, port: 0, admin: { email: "admin@fleet.test", password: "correct horse battery staple" } });
    admin = await adminClient(fleet.url);
    for (const id of PANELS) expect((await admin.post("/api/v1/panels", { id })).status).toBe(201);
  }, 90_000);

  afterAll(async () => {
    await fleet?.stop();
    await closeDb?.();
    await agents.stop();
  });

  const journal = async () => Number((await db.query<{ n: unknown }>("SELECT count(*) AS n FROM commands")).rows[0]!.n);
  const seqs = async () => (await db.query<{ id: string; next_seq: unknown }>("SELECT id, next_seq FROM panels ORDER BY id")).rows.map((r) => [r.id, Number(r.next_seq)]);

  it("switches a person on at every panel in one call; the code is granted at each keypad", async () => {
    const p = await admin.post<{ id: string }>("/api/v1/people", { firstName: "Bulk", lastName: "Person" });
    const code = (await admin.put<{ code: string }>(`/api/v1/people/${p.body.id}/code`, { generate: true, length: 4 })).body.code;
    const r = await admin.put<{ commands: string[] }>(`/api/v1/people/${p.body.id}/panels`, { panels: PANELS.map((panelId) => ({ panelId, enabled: true })) });
    expect(r.status).toBe(200);
    expect(r.body.commands.length).toBeGreaterThanOrEqual(PANELS.length);
    await until(async () => (await admin.get<{ rows: { status: string }[] }>(`/api/v1/commands?ids=${r.body.commands.join(",")}`)).body.rows.every((c) => c.status === "applied"), 20_000);
    // the action log has one entry per panel of the call, in panel order (one INSERT of them all)
    const logged = await admin.get<{ rows: { panelId: string; personId: string; action: string; outcome: string; actor: { kind: string } }[] }>(`/api/v1/action-log?personId=${p.body.id}&perPage=50`);
    const mine = logged.body.rows.filter((e) => e.action === "set_access").reverse();
    expect(mine.map((e) => [e.panelId, e.personId, e.outcome, e.actor.kind])).toEqual(PANELS.map((id) => [id, p.body.id, "requested", "api_user"]));
    for (const id of PANELS) {
      const kp = await KeypadTestClient.connect(agents.agent(id).config.keypadSocket);
      await kp.hello("kp-bulk", [1]);
      kp.send({ t: "entry", action: "arm_away", code });
      expect(lastDisplay(await kp.sync())?.line2).toBe("Access granted — Bulk Person");
      kp.close();
    }
  });

  it("refuses the whole call with the refused panel's code and changes nothing", async () => {
    const p = await admin.post<{ id: string }>("/api/v1/people", { firstName: "Half", lastName: "Way" });
    expect((await admin.put(`/api/v1/people/${p.body.id}/code`, { generate: true, length: 4 })).status).toBe(200);
    const before = { journal: await journal(), seqs: await seqs() };
    // bulk-2's slot 99999 is past its capacity: slot_out_of_range there; bulk-1 and bulk-3 would be fine
    const r = await admin.put<{ error: { code: string; detail?: Record<string, unknown> } }>(`/api/v1/people/${p.body.id}/panels`, { panels: [{ panelId: "bulk-1", enabled: true }, { panelId: "bulk-2", enabled: true, slot: 99_999 }, { panelId: "bulk-3", enabled: true }] });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(r.body.error.code).toBe("slot_out_of_range");
    // the refusal names the refused panel among the call's
    expect(r.body.error).toMatchObject({ detail: { slot: 99_999, panelId: "bulk-2" } });
    expect(await journal()).toBe(before.journal);
    expect(await seqs()).toEqual(before.seqs);
    expect((await db.query("SELECT 1 FROM person_panels WHERE person_id = $1", [p.body.id])).rows).toHaveLength(0);
    const unknown = await admin.put<{ error: { code: string } }>(`/api/v1/people/${p.body.id}/panels`, { panels: [{ panelId: "bulk-1", enabled: true }, { panelId: "no-such-panel", enabled: true }] });
    expect(unknown.body.error.code).toBe("panel_not_found");
    expect(await journal()).toBe(before.journal);
  });

  it("takes the 5,000 panels its schema allows in one body; a body past its limit is 413 payload_too_large", async () => {
    const p = await admin.post<{ id: string }>("/api/v1/people", { firstName: "Many", lastName: "Panels" });
    const panels = Array.from({ length: 5_000 }, (_, i) => ({ panelId: `fleet-panel-${String(i).padStart(5, "0")}`, enabled: true, label: `Front door ${i}`, partitions: [1, 2] }));
    // read and validated whole: the first unknown panel is the refusal (not the body's size)
    const r = await admin.put<{ error: { code: string; detail?: Record<string, unknown> } }>(`/api/v1/people/${p.body.id}/panels`, { panels });
    expect([r.status, r.body.error.code, r.body.error.detail?.panelId]).toEqual([404, "panel_not_found", "fleet-panel-00000"]);
    const big = await admin.put<{ error: { code: string; detail?: Record<string, unknown> } }>(`/api/v1/people/${p.body.id}/panels`, { panels: [{ panelId: "bulk-1", enabled: true, label: "x".repeat(BULK_MAX_BODY) }] });
    expect([big.status, big.body.error.code, big.body.error.detail]).toEqual([413, "payload_too_large", { limit: BULK_MAX_BODY }]);
    const tooMany = await admin.put<{ error: { code: string } }>(`/api/v1/people/${p.body.id}/panels`, { panels: [...panels, { panelId: "one-more", enabled: true }] });
    expect([tooMany.status, tooMany.body.error.code]).toEqual([400, "invalid_request"]);
  });

  it("is 403 permission_denied without manage_panel_users", async () => {
    const u = await admin.post<{ id: string }>("/api/v1/api-users", { email: "viewer@bulk.test", name: "The viewer", role: "viewer", password: "viewer password long enough" });
    expect(u.status).toBe(201);
    const viewer = new ApiClient(fleet.url);
    expect((await viewer.signIn("viewer@bulk.test", "viewer password long enough")).status).toBe(200);
    const p = await admin.post<{ id: string }>("/api/v1/people", { firstName: "No", lastName: "Right" });
    const before = await journal();
    const r = await viewer.put<{ error: { code: string; detail: { permission: string } } }>(`/api/v1/people/${p.body.id}/panels`, { panels: [{ panelId: "bulk-1", enabled: true }] });
    expect(r.status).toBe(403);
    expect(r.body.error).toMatchObject({ code: "permission_denied", detail: { permission: "manage_panel_users" } });
    expect(await journal()).toBe(before);
  });
});
