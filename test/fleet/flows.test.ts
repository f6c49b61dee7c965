/**
 * The documents' flows through the API against a real agent (SQLite, keypad socket) on mosquitto,
 * on PGlite and on the PostgreSQL server: the Users grid and slot details, label / tags / door
 * locks, every page size of the grid, refusals with the agent's rule codes before anything is
 * written, disable and switch off, accounts
 * (assign, suspended, unassign, reset password and remove through the account webhook), the
 * access periods (weekly, temporary, at all times), contacts, dealer access (grant 2 h, revoke, a dealer's request confirmed once
 * through the one-time link from the notification webhook), events stored once and queryable, a
 * duress code notified through a receiver that fails the first attempts, the drift report of an
 * offline panel, and the action log.
 */
import { createHash, createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type RunningFleet } from "../../src/fleet/app.js";
import { CodeVault } from "../../src/fleet/code-vault.js";
import type { Db } from "../../src/fleet/db.js";
import { KeypadTestClient, lastDisplay } from "../helpers/keypad-client.js";
import { DATABASES, logicalDump } from "./databases.js";
import { AgentFleet, captureLog, until } from "./fixture.js";
import { adminClient, type ApiClient, TEST_ADMIN } from "./http-client.js";
import { leaks } from "./leaks.js";
import { WebhookReceiver } from "./webhook-receiver.js";

type ErrorBody = { error: { code: string; message: string; detail?: Record<string, unknown> } };
type Fate = { id: string; status: string; code?: string; kind: string };
const SECRET = "hook-secret";

describe.each(DATABASES)("the documents' flows through the API (fleet on $name)", (database) => {
  const panelId = `flow-${database.name.startsWith("PG") ? "lite" : "pg"}`;
  const agents = new AgentFleet();
  const hook = new WebhookReceiver();
  const log = captureLog();
  let db: Db;
  let closeDb: () => Promise<void>;
  let fleet: RunningFleet;
  let api: ApiClient;
  const codes: string[] = [];
  /** Every client of this file: their traffic is checked against the routes' response schemas. */
  const clients: ApiClient[] = [];

  const start = () =>
    startFleet({
      db, vault: new CodeVault(Buffer.alloc(32, 9)), brokerUrl: agents.broker.url, signingKey: agents.signingKey, logger: log.logger, port: 0, admin: TEST_ADMIN, workerId: `flows-${database.name}`,
      webhooks: { notificationUrl: hook.url, accountUrl: hook.url, secret: SECRET, baseDelayMs: 100, pollMs: 100, claimMs: 2000 },
      publicUrl: "https://console.example",
    });

  const settled = async (ids: string[]): Promise<Fate[]> =>
    until(async () => {
      const r = await api.get<{ rows: Fate[] }>(`/api/v1/commands?ids=${ids.join(",")}`);
      return r.body.rows.length === ids.length && r.body.rows.every((f) => f.status !== "pending") && r.body.rows;
    }, 20_000);

  const keypad = async (code: string): Promise<string | undefined> => {
    const c = await KeypadTestClient.connect(agents.agent(panelId).config.keypadSocket);
    try {
      await c.hello("kp-flows", [1]);
      c.send({ t: "entry", action: "arm_away", code });
      return lastDisplay(await c.sync())?.line2 as string | undefined;
    } finally {
      c.close();
    }
  };

  const person = async (firstName: string, lastName: string) => {
    const p = await api.post<{ id: string }>("/api/v1/people", { firstName, lastName });
    const gen = await api.put<{ code: string }>(`/api/v1/people/${p.body.id}/code`, { generate: true });
    codes.push(gen.body.code);
    return { id: p.body.id, code: gen.body.code };
  };

  beforeAll(async () => {
    await hook.start();
    await agents.start([panelId]);
    ({ db, close: closeDb } = await database.open());
    fleet = await start();
    api = await adminClient(fleet.url);
    clients.push(api);
    expect((await api.post("/api/v1/panels", { id: panelId, doorLocks: ["front"] })).status).toBe(201);
  }, 90_000);

  afterAll(async () => {
    await fleet?.stop();
    await closeDb?.();
    await agents.stop();
    await hook.stop();
  });

  it("lists the panel, shows every slot in the grid and a slot's details; label, tags and door locks reach the panel", async () => {
    const list = await api.get<{ rows: { id: string; online: boolean; usersCount: number; converged: boolean }[]; range: string }>(`/api/v1/panels?q=${panelId.slice(2)}`);
    expect(list.body).toMatchObject({ range: "1-1 of 1", rows: [{ id: panelId, online: true, usersCount: 0, converged: true }] });
    const detail = await api.get(`/api/v1/panels/${panelId}`);
    expect(detail.body).toMatchObject({ capacity: 1000, features: { doorLocks: ["front"], tags: ["keypad", "doorlock"], roles: ["Master", "Supervisor", "User", "One-time User", "Duress"] }, converged: true, drift: null });

    const ada = await person("Ada", "Lovelace");
    const on = await api.put<{ commands: string[]; access: { slot: number } }>(`/api/v1/people/${ada.id}/panels/${panelId}`, { enabled: true, label: "Ada L", doorLocks: ["front"], tags: [{ kind: "keypad", id: "TAG-0042" }] });
    expect(on.status).toBe(200);
    const slot = on.body.access.slot;
    const pendingRow = (await api.get<{ rows: { slot: number; pending: boolean }[] }>(`/api/v1/panels/${panelId}/users?perPage=10`)).body.rows[slot - 1];
    expect(pendingRow?.slot).toBe(slot);
    const fates = await settled(on.body.commands);
    expect(fates.map((f) => [f.kind, f.status])).toEqual([["set_code", "applied"], ["set_label", "applied"], ["set_role", "applied"], ["set_partitions", "applied"], ["set_schedule", "applied"], ["set_door_locks", "applied"], ["set_proximity_tags", "applied"]]);
    const grid = await api.get<{ range: string; rows: Record<string, unknown>[] }>(`/api/v1/panels/${panelId}/users?page=1&perPage=15`);
    expect(grid.body.range).toBe("1-15 of 1000");
    expect(grid.body.rows).toHaveLength(15);
    expect(grid.body.rows[slot - 1]).toMatchObject({ slot, personId: ada.id, label: "Ada L", codeSet: true, enabled: true, pending: false, status: "Unknown", account: null });
    expect((await api.get<{ range: string }>(`/api/v1/panels/${panelId}/users?page=67&perPage=15`)).body.range).toBe("991-1000 of 1000");
    // every page size the grid offers (001: 10, 15, 50, 100, 200)
    for (const perPage of [10, 50, 100, 200]) {
      const page = (await api.get<{ range: string; rows: unknown[]; pages: number }>(`/api/v1/panels/${panelId}/users?perPage=${perPage}`)).body;
      expect([perPage, page.range, page.rows.length, page.pages]).toEqual([perPage, `1-${perPage} of 1000`, perPage, 1000 / perPage]);
    }
    expect((await api.get<{ range: string }>(`/api/v1/panels/${panelId}/users?page=5&perPage=200`)).body.range).toBe("801-1000 of 1000");
    expect((await api.get<ErrorBody>(`/api/v1/panels/${panelId}/users?perPage=20`)).body.error.code).toBe("invalid_request");
    const one = await api.get(`/api/v1/panels/${panelId}/users/${slot}`);
    expect(one.body).toMatchObject({ slot, doorLocks: ["front"], tags: [{ kind: "keypad" }], person: { id: ada.id, firstName: "Ada", lastName: "Lovelace" }, schedule: { kind: "always" } });
    expect(JSON.stringify(one.body)).not.toContain("TAG-0042");
    // the agent holds what the fleet wanted
    const held = agents.agent(panelId).core!.table.slot(slot);
    expect([held.label, held.doorLocks, held.tags.length]).toEqual(["Ada L", ["front"], 1]);
    expect(await keypad(ada.code)).toBe("Access granted — Ada L");
    // converged once the panel's state after the last ack is recorded
    await until(async () => (await api.get<{ converged: boolean }>(`/api/v1/panels/${panelId}`)).body.converged);
  });

  it("adds and removes a panel user's proximity tags one at a time, keeping the others (ids never answered back); the grid's page comes with the panel; the log names the person", async () => {
    const bob = await person("Bob", "Tagger");
    const on = await api.put<{ commands: string[]; access: { slot: number } }>(`/api/v1/people/${bob.id}/panels/${panelId}`, { enabled: true, tags: [{ kind: "keypad", id: "TAG-0777" }] });
    expect(on.status).toBe(200);
    const slot = on.body.access.slot;
    await settled(on.body.commands);
    const add = await api.post<{ access: { tags: { kind: string }[] }; commands: string[] }>(`/api/v1/panels/${panelId}/users/${slot}/tags`, { kind: "doorlock", id: "TAG-0888" });
    expect(add.status).toBe(200);
    expect(add.body.access.tags).toEqual([{ kind: "keypad" }, { kind: "doorlock" }]);
    expect((await settled(add.body.commands)).map((f) => [f.kind, f.status])).toEqual([["set_proximity_tags", "applied"]]);
    // both reach the panel: the first one was kept although the API never answers it back
    expect(agents.agent(panelId).core!.table.slot(slot).tags.map((t) => t.kind)).toEqual(["keypad", "doorlock"]);
    // a third is one too many on a DSC (two a user), refused before anything is written
    const third = await api.post<{ error: { code: string; message: string } }>(`/api/v1/panels/${panelId}/users/${slot}/tags`, { kind: "keypad", id: "TAG-0999" });
    expect([third.status, third.body.error.code]).toEqual([422, "too_many_tags"]);
    const removed = await api.call<{ access: { tags: { kind: string }[] }; commands: string[] }>("DELETE", `/api/v1/panels/${panelId}/users/${slot}/tags/0`);
    expect(removed.status).toBe(200);
    expect(removed.body.access.tags).toEqual([{ kind: "doorlock" }]);
    await settled(removed.body.commands);
    expect(agents.agent(panelId).core!.table.slot(slot).tags.map((t) => t.kind)).toEqual(["doorlock"]);
    for (const [method, path, body, status, code] of [
      ["DELETE", `/api/v1/panels/${panelId}/users/${slot}/tags/5`, undefined, 404, "not_found"],
      ["POST", `/api/v1/panels/${panelId}/users/999/tags`, { kind: "keypad", id: "TAG-1000" }, 404, "slot_not_in_use"],
      ["POST", `/api/v1/panels/${panelId}/users/${slot}/tags`, { kind: "keypad", id: "x" }, 400, "invalid_request"],
      ["POST", `/api/v1/panels/nope/users/${slot}/tags`, { kind: "keypad", id: "TAG-1001" }, 404, "panel_not_found"],
    ] as const) {
      const r = await api.call<{ error: { code: string; message: string } }>(method, path, body);
      expect([path, r.status, r.body.error.code]).toEqual([path, status, code]);
      expect(r.body.error.message.length).toBeGreaterThan(10);
    }
    // the console's first paint: one request, the grid's page with the panel's settings and features
    const page = await api.get<{ range: string; panel: { id: string; partitions: number; features: { tags: string[]; maxTags: number; roles: string[] }; reported: { online: boolean } } }>(`/api/v1/panels/${panelId}/users?include=panel`);
    expect(page.body).toMatchObject({ range: "1-15 of 1000", panel: { id: panelId, partitions: 8, features: { tags: ["keypad", "doorlock"], maxTags: 2 }, reported: { online: true } } });
    expect("panel" in (await api.get(`/api/v1/panels/${panelId}/users`)).body).toBe(false);
    const log = await api.get<{ rows: { action: string; personName?: string; slot: number | null }[] }>(`/api/v1/action-log?personId=${bob.id}&perPage=50`);
    expect(log.body.rows.map((r) => r.action)).toEqual(expect.arrayContaining(["add_tag:doorlock", "remove_tag:keypad"]));
    expect(log.body.rows.every((r) => r.personName === "Bob Tagger")).toBe(true);
    const text = JSON.stringify(api.traffic.filter((t) => t.path.includes(`/users/${slot}`) || t.path.includes("/action-log")).map((t) => t.text));
    for (const id of ["TAG-0777", "TAG-0888"]) expect(text).not.toContain(id);
  });

  it("refuses early with the agent's rule codes and sentences, writing nothing; a Master cannot be disabled", async () => {
    const master = await person("Grace", "Master");
    const before = (await api.get<{ commands: unknown[] }>(`/api/v1/panels/${panelId}/commands`)).body.commands.length;
    const cases: [unknown, string][] = [
      [{ enabled: true, role: "Master", partitions: [1] }, "master_all_partitions"],
      [{ enabled: true, label: "A label much too long for a DSC" }, "label_too_long"],
      [{ enabled: true, doorLocks: ["back"] }, "unknown_door_lock"],
      [{ enabled: true, tags: [{ kind: "keypad", id: "TAG-1001" }, { kind: "keypad", id: "TAG-1002" }, { kind: "doorlock", id: "TAG-1003" }] }, "too_many_tags"],
      [{ enabled: true, role: "Installer" }, "invalid_role_for_panel"],
      [{ enabled: true, slot: 1001 }, "slot_out_of_range"],
    ];
    for (const [body, code] of cases) {
      const r = await api.put<ErrorBody>(`/api/v1/people/${master.id}/panels/${panelId}`, body);
      expect([code, r.body.error.code]).toEqual([code, code]);
    }
    const sentence = (await api.put<ErrorBody>(`/api/v1/people/${master.id}/panels/${panelId}`, cases[0]![0])).body.error.message;
    expect(sentence).toBe("A Master user always has all partitions of the panel; its partitions cannot be changed.");
    expect((await api.get<{ commands: unknown[] }>(`/api/v1/panels/${panelId}/commands`)).body.commands.length).toBe(before);
    const on = await api.put<{ commands: string[]; access: { slot: number } }>(`/api/v1/people/${master.id}/panels/${panelId}`, { enabled: true, role: "Master" });
    expect(on.body.access.slot).toBe(1);
    await settled(on.body.commands);
    const off = await api.post<ErrorBody>(`/api/v1/panels/${panelId}/users/1/disable`);
    expect([off.status, off.body.error.code]).toEqual([422, "master_cannot_be_disabled"]);
    const log = await api.get<{ rows: { outcome: string; code?: string; action: string }[] }>(`/api/v1/action-log?panelId=${panelId}&perPage=10`);
    expect(log.body.rows[0]).toMatchObject({ outcome: "refused", code: "master_cannot_be_disabled" });
  });

  it("disables a panel user who is not the Master, and switches a person off at the panel: the code stops working there", async () => {
    const dee = await person("Dee", "Disabled");
    const on = await api.put<{ commands: string[]; access: { slot: number } }>(`/api/v1/people/${dee.id}/panels/${panelId}`, { enabled: true });
    await settled(on.body.commands);
    const slot = on.body.access.slot;
    expect(await keypad(dee.code)).toBe("Access granted — Dee Disabled");
    const disabled = await api.post<{ commands: string[] }>(`/api/v1/panels/${panelId}/users/${slot}/disable`);
    expect(disabled.status).toBe(200);
    expect((await settled(disabled.body.commands)).every((f) => f.status === "applied")).toBe(true);
    expect(await keypad(dee.code)).not.toMatch(/^Access granted/);
    expect((await api.get(`/api/v1/panels/${panelId}/users/${slot}`)).body).toMatchObject({ slot, enabled: false });
    // on again, then switched off (000's Device Access switch): the slot is emptied at the panel
    await settled((await api.put<{ commands: string[] }>(`/api/v1/people/${dee.id}/panels/${panelId}`, { enabled: true })).body.commands);
    expect(await keypad(dee.code)).toBe("Access granted — Dee Disabled");
    const off = await api.put<{ commands: string[] }>(`/api/v1/people/${dee.id}/panels/${panelId}`, { enabled: false });
    expect(off.status).toBe(200);
    expect((await settled(off.body.commands)).every((f) => f.status === "applied")).toBe(true);
    expect(await keypad(dee.code)).not.toMatch(/^Access granted/);
    expect(agents.agent(panelId).core!.table.slot(slot).codeDigest).toBeNull();
    const entries = (await api.get<{ rows: { action: string; personId: string | null }[] }>(`/api/v1/action-log?personId=${dee.id}&perPage=50`)).body.rows.map((e) => e.action);
    expect(entries).toEqual(expect.arrayContaining(["disable_user", "switch_off"]));
  });

  it("assigns accounts (suspended refused), unassigns, resets a password and removes an account through the account webhook", async () => {
    const bob = await person("Bob", "Builder");
    const on = await api.put<{ commands: string[]; access: { slot: number } }>(`/api/v1/people/${bob.id}/panels/${panelId}`, { enabled: true });
    await settled(on.body.commands);
    const slot = on.body.access.slot;
    const active = await api.post<{ id: string }>("/api/v1/accounts", { email: "bob@builder.example", status: "Active", personId: bob.id });
    const suspended = await api.post<{ id: string }>("/api/v1/accounts", { email: "bobby@builder.example", status: "Suspended" });
    expect((await api.get<{ rows: { email: string }[] }>("/api/v1/accounts?q=bob")).body.rows.map((r) => r.email)).toEqual(["bob@builder.example", "bobby@builder.example"]);
    const refused = await api.put<ErrorBody>(`/api/v1/panels/${panelId}/users/${slot}/account`, { accountId: suspended.body.id });
    expect([refused.status, refused.body.error.code]).toEqual([409, "account_suspended"]);
    const assigned = await api.put<{ commands: string[] }>(`/api/v1/panels/${panelId}/users/${slot}/account`, { accountId: active.body.id });
    expect((await settled(assigned.body.commands)).map((f) => f.status)).toEqual(["applied"]);
    expect((await api.get(`/api/v1/panels/${panelId}/users/${slot}`)).body).toMatchObject({ status: "Active", account: { email: "bob@builder.example" } });
    const un = await api.delete<{ commands: string[] }>(`/api/v1/panels/${panelId}/users/${slot}/account`);
    await settled(un.body.commands);
    expect((await api.delete<ErrorBody>(`/api/v1/panels/${panelId}/users/${slot}/account`)).body.error.code).toBe("account_not_assigned");
    await settled((await api.put<{ commands: string[] }>(`/api/v1/panels/${panelId}/users/${slot}/account`, { accountId: active.body.id })).body.commands);

    // the account system reports a suspension: the panel loses the account; active again: it gets it back
    const suspend = await api.put<{ commands: string[] }>(`/api/v1/accounts/${active.body.id}/status`, { status: "Suspended" });
    expect((await settled(suspend.body.commands)).map((f) => [f.kind, f.status])).toEqual([["unassign_account", "applied"]]);
    expect(agents.agent(panelId).core!.table.slot(slot).account).toBeNull();
    expect((await api.get(`/api/v1/panels/${panelId}/users/${slot}`)).body).toMatchObject({ status: "Suspended" });
    const back = await api.put<{ commands: string[] }>(`/api/v1/accounts/${active.body.id}/status`, { status: "Active" });
    expect((await settled(back.body.commands)).map((f) => [f.kind, f.status])).toEqual([["assign_account", "applied"]]);
    expect(agents.agent(panelId).core!.table.slot(slot).account).toMatchObject({ id: active.body.id, status: "Active" });

    expect((await api.post(`/api/v1/accounts/${active.body.id}/reset-password`)).status).toBe(202);
    const removed = await api.delete<{ commands: string[] }>(`/api/v1/accounts/${active.body.id}`);
    expect(removed.status).toBe(202);
    expect((await settled(removed.body.commands)).map((f) => [f.kind, f.status])).toEqual([["remove_account", "applied"]]);
    expect(agents.agent(panelId).core!.table.slot(slot).account).toBeNull();
    const sent = await until(async () => hook.of("account.remove").length === 1 && hook.of("account.reset_password").length === 1 && hook);
    expect(sent.of("account.reset_password")[0]!.body.data).toEqual({ accountId: active.body.id, email: "bob@builder.example" });
    const r = sent.of("account.remove")[0]!;
    expect(r.signature).toBe(`sha256=${createHmac("sha256", SECRET).update(JSON.stringify(r.body)).digest("hex")}`);
    expect((await api.get(`/api/v1/panels/${panelId}/users/${slot}`)).body).toMatchObject({ account: null, status: "Unknown" });
  });

  it("sets the access period at every panel and replaces contacts; the person's page shows them", async () => {
    const cy = await person("Cy", "Period");
    await settled((await api.put<{ commands: string[] }>(`/api/v1/people/${cy.id}/panels/${panelId}`, { enabled: true })).body.commands);
    const weekly = { kind: "weekly", windows: [{ days: [1, 2, 3, 4, 5], start: 480, end: 1020 }] };
    const set = await api.put<{ commands: string[] }>(`/api/v1/people/${cy.id}/access-period`, weekly);
    expect((await settled(set.body.commands)).map((f) => [f.kind, f.status])).toEqual([["set_schedule", "applied"]]);
    const contacts = [{ kind: "mobile", value: "+49 170 000000", country: "DE", carrier: "Telekom", enabled: true }, { kind: "email", value: "cy@example.com", enabled: false }];
    expect((await api.put(`/api/v1/people/${cy.id}/contacts`, contacts)).status).toBe(200);
    const page = await api.get(`/api/v1/people/${cy.id}`);
    expect(page.body).toMatchObject({ accessPeriod: weekly, contacts: [{ kind: "mobile", carrier: "Telekom" }, { kind: "email", enabled: false }], panels: [{ panelId, enabled: true }] });
    const people = await api.get<{ rows: { id: string; panels: string[]; codeSet: boolean }[] }>("/api/v1/people?q=period");
    expect(people.body.rows).toEqual([{ id: cy.id, firstName: "Cy", lastName: "Period", codeSet: true, panels: [panelId] }]);
    expect((await api.put<ErrorBody>(`/api/v1/people/${cy.id}/access-period`, { kind: "temporary", from: 2000, to: 1000 })).body.error.code).toBe("invalid_schedule");
    // 000's other two access periods: Temporary (from .. to), then At All Times again
    const temporary = { kind: "temporary", from: Date.now() - 3_600_000, to: Date.now() + 86_400_000 };
    expect((await settled((await api.put<{ commands: string[] }>(`/api/v1/people/${cy.id}/access-period`, temporary)).body.commands)).map((f) => [f.kind, f.status])).toEqual([["set_schedule", "applied"]]);
    const slot = (await api.get<{ panels: { panelId: string; slot: number }[] }>(`/api/v1/people/${cy.id}`)).body.panels[0]!.slot;
    expect(agents.agent(panelId).core!.table.slot(slot).schedule).toMatchObject({ kind: "temporary", from: temporary.from, to: temporary.to });
    expect(await keypad(cy.code)).toBe("Access granted — Cy Period");
    expect((await settled((await api.put<{ commands: string[] }>(`/api/v1/people/${cy.id}/access-period`, { kind: "always" })).body.commands)).map((f) => f.status)).toEqual(["applied"]);
    expect(agents.agent(panelId).core!.table.slot(slot).schedule).toEqual({ kind: "always" });
    expect((await api.get(`/api/v1/people/${cy.id}`)).body).toMatchObject({ accessPeriod: { kind: "always" } });
  });

  it("grants dealer access for 2 h, revokes it, and confirms a dealer's request once through the one-time link (24 h)", async () => {
    expect((await api.get(`/api/v1/panels/${panelId}/dealer`)).body).toEqual({ open: false, until: null, hours: null, remainingMs: null, pendingRequest: null });
    expect((await api.post<ErrorBody>(`/api/v1/panels/${panelId}/dealer/revoke`)).body.error.code).toBe("dealer_access_not_active");
    const grant = await api.post<{ commands: string[] }>(`/api/v1/panels/${panelId}/dealer/grant`, { hours: 2 });
    expect((await settled(grant.body.commands)).map((f) => f.status)).toEqual(["applied"]);
    const open = await until(async () => {
      const d = (await api.get<{ open: boolean; hours: number; remainingMs: number }>(`/api/v1/panels/${panelId}/dealer`)).body;
      return d.open && d;
    });
    expect(open.hours).toBe(2);
    expect(open.remainingMs).toBeGreaterThan(7_000_000);
    const revoke = await api.post<{ commands: string[] }>(`/api/v1/panels/${panelId}/dealer/revoke`);
    expect((await settled(revoke.body.commands)).map((f) => f.status)).toEqual(["applied"]);
    await until(async () => !(await api.get<{ open: boolean }>(`/api/v1/panels/${panelId}/dealer`)).body.open);

    const req = await api.post<{ id: string }>(`/api/v1/panels/${panelId}/dealer/requests`);
    expect(req.status).toBe(201);
    expect((await api.get<{ pendingRequest: { id: string } }>(`/api/v1/panels/${panelId}/dealer`)).body.pendingRequest.id).toBe(req.body.id);
    const note = await until(async () => hook.of("dealer_access.requested")[0]);
    const link = String(note.body.data.link);
    expect(link).toMatch(/^https:\/\/console\.example\/dealer-requests\/[A-Za-z0-9_-]{43}$/);
    const token = link.split("/").at(-1)!;
    const anonymous = new (api.constructor as typeof import("./http-client.js").ApiClient)(fleet.url);
    clients.push(anonymous);
    expect((await anonymous.get(`/api/v1/dealer-requests/${token}`)).body).toMatchObject({ panelId, hours: 24, status: "pending" });
    const confirmed = await anonymous.post<{ commands: string[] }>(`/api/v1/dealer-requests/${token}/confirm`);
    expect((await settled(confirmed.body.commands)).map((f) => f.status)).toEqual(["applied"]);
    expect((await anonymous.post<ErrorBody>(`/api/v1/dealer-requests/${token}/confirm`)).body.error.code).toBe("dealer_request_used");
    expect((await anonymous.get(`/api/v1/dealer-requests/${token}`)).body).toMatchObject({ status: "confirmed" });
    expect((await anonymous.get<ErrorBody>("/api/v1/dealer-requests/not-a-token")).body.error.code).toBe("dealer_request_not_found");
    const d = await until(async () => {
      const v = (await api.get<{ open: boolean; hours: number }>(`/api/v1/panels/${panelId}/dealer`)).body;
      return v.open && v.hours === 24 && v;
    });
    expect(d).toMatchObject({ open: true, hours: 24, pendingRequest: null });
    // the request keeps only the token's SHA-256 (the link itself is in the notification's delivery row, see README)
    const kept = (await db.query<{ token_hash: string }>("SELECT token_hash FROM dealer_requests WHERE id = $1", [req.body.id])).rows[0]!.token_hash;
    expect(kept).toBe(createHash("sha256").update(token).digest("hex"));
    // once delivered, the link (a credential) is no longer in the database
    await until(async () => (await db.query<{ status: string }>("SELECT status FROM webhook_deliveries WHERE event = 'dealer_access.requested'")).rows[0]?.status === "delivered");
    expect(await logicalDump(db)).not.toContain(token);
    const granted = await until(async () => hook.of("dealer_access.granted").length === 2 && hook.of("dealer_access.revoked").length === 1 && hook.of("dealer_access.granted"));
    expect(granted.map((g) => g.body.data.hours)).toEqual([2, 24]);
  });

  it("stores events once, queryable by panel, person and type; a duress code is notified through retries, across a restart", async () => {
    const dan = await person("Dan", "Duress");
    const on = await api.put<{ commands: string[] }>(`/api/v1/people/${dan.id}/panels/${panelId}`, { enabled: true, role: "Duress" });
    await settled(on.body.commands);
    hook.failFirst = 2;
    // The fleet stops before the receiver answers: the delivery row waits in the database for the next start.
    expect(await keypad(dan.code)).toMatch(/^Access granted/);
    const stored = await until(async () => (await api.get<{ rows: { type: string; personId: string }[] }>(`/api/v1/events?personId=${dan.id}&type=duress`)).body.rows[0]);
    expect(stored.personId).toBe(dan.id);
    await until(async () => (hook.attempts.size > 0 && [...hook.attempts.values()].some((n) => n >= 1)) || undefined);
    await fleet.stop();
    const waiting = await db.query<{ status: string; attempts: unknown }>("SELECT status, attempts FROM webhook_deliveries WHERE event = 'duress'");
    expect(waiting.rows.map((r) => r.status)).toEqual(["pending"]);
    fleet = await start();
    api = await adminClient(fleet.url);
    clients.push(api);
    const duress = await until(async () => hook.of("duress")[0], 20_000);
    expect(duress.body.data).toMatchObject({ panelId, personId: dan.id, point: { kind: "keypad" } });
    expect(hook.attempts.get(duress.body.id)).toBe(3);
    const rows = await until(async () => {
      const r = (await db.query<{ status: string; attempts: unknown }>("SELECT status, attempts FROM webhook_deliveries WHERE event = 'duress'")).rows;
      return r[0]?.status === "delivered" && r;
    });
    expect(rows.map((r) => [r.status, Number(r.attempts)])).toEqual([["delivered", 3]]);
    hook.failFirst = 0;

    const access = await api.get<{ rows: { type: string; personId: string | null; data: { granted: boolean } }[]; total: number }>(`/api/v1/events?panelId=${panelId}&type=access&perPage=50`);
    expect(access.body.rows.some((e) => e.personId === dan.id && e.data.granted)).toBe(true);
    // one row per (panel, epoch, n): the n are unique in the panel's database
    const dup = await db.query<{ n: unknown }>("SELECT count(*) AS n FROM (SELECT panel_id, epoch, n FROM events GROUP BY panel_id, epoch, n HAVING count(*) > 1) d");
    expect(Number(dup.rows[0]!.n)).toBe(0);
    const types = new Set((await api.get<{ rows: { type: string }[] }>(`/api/v1/events?panelId=${panelId}&perPage=200`)).body.rows.map((e) => e.type));
    expect([...types]).toEqual(expect.arrayContaining(["access", "duress", "dealer_access"]));
  });

  it("is converged (its digest is the desired table's); a change made beside the fleet is reconciled by one snapshot and shows in the drift report meanwhile", async () => {
    expect((await api.get<{ rows: unknown[] }>("/api/v1/drift")).body.rows).toEqual([]);
    expect((await api.get(`/api/v1/panels/${panelId}`)).body).toMatchObject({ converged: true, drift: null });
    const core = agents.agent(panelId).core!;
    const before = core.table.slot(2).label;
    expect(before).toBe("Ada L");
    // A change beside the fleet: the panel's own table changes, its digest with it.
    const [out] = core.execute([{ command: { id: `beside-${Date.now()}`, actor: { kind: "system", id: "test" }, kind: "set_label", slot: 2, label: "Mallory" } as never }]);
    expect(out?.status).toBe("applied");
    const snapshot = await until(async () => {
      const all = (await api.get<{ commands: { kind: string; status: string }[] }>(`/api/v1/panels/${panelId}/commands`)).body.commands;
      const last = all.at(-1);
      return last?.kind === "snapshot" && last.status === "applied" && last;
    });
    expect(snapshot.status).toBe("applied");
    expect(core.table.slot(2).label).toBe("Ada L");
    await until(async () => (await api.get<{ converged: boolean }>(`/api/v1/panels/${panelId}`)).body.converged);
    expect((await api.get<{ rows: unknown[] }>("/api/v1/drift")).body.rows).toEqual([]);
    const snapshots = (await api.get<{ commands: { kind: string }[] }>(`/api/v1/panels/${panelId}/commands`)).body.commands.filter((c) => c.kind === "snapshot");
    expect(snapshots).toHaveLength(1);
  });

  it("lists an offline panel with commands waiting in the drift report (offline, how many, both digests); back online it converges and leaves the report", async () => {
    const eve = await person("Eve", "Offline");
    let waiting: string[] = [];
    await agents.restart(panelId, {
      whileDown: async () => {
        waiting = (await api.put<{ commands: string[] }>(`/api/v1/people/${eve.id}/panels/${panelId}`, { enabled: true })).body.commands;
        const drift = await until(async () => {
          const rows = (await api.get<{ rows: { id: string; drift: string; pending: number; online: boolean; reportedDigest: string; desiredDigest: string }[] }>("/api/v1/drift")).body.rows;
          return rows[0]?.drift === "offline" && rows;
        }, 20_000);
        expect(drift).toEqual([expect.objectContaining({ id: panelId, drift: "offline", online: false, pending: waiting.length, converged: false })]);
        expect(drift[0]!.reportedDigest).not.toBe(drift[0]!.desiredDigest);
        expect((await api.get(`/api/v1/panels/${panelId}`)).body).toMatchObject({ converged: false, drift: "offline" });
      },
    });
    expect((await settled(waiting)).every((f) => f.status === "applied")).toBe(true);
    await until(async () => (await api.get<{ rows: unknown[] }>("/api/v1/drift")).body.rows.length === 0 && (await api.get<{ converged: boolean }>(`/api/v1/panels/${panelId}`)).body.converged, 20_000);
    expect(await keypad(eve.code)).toBe("Access granted — Eve Offline");
  });

  it("logs who changed what and each panel's acks, newest first; no code or tag id anywhere", async () => {
    const entries = (await api.get<{ rows: { actor: { kind: string; name?: string }; action: string; outcome: string }[]; total: number }>(`/api/v1/action-log?panelId=${panelId}&perPage=200`)).body;
    expect(entries.total).toBeGreaterThan(30);
    expect(entries.rows.some((e) => e.actor.kind === "api_user" && e.actor.name === "Administrator" && e.action === "set_access" && e.outcome === "requested")).toBe(true);
    expect(entries.rows.some((e) => e.actor.kind === "panel" && e.action === "set_code" && e.outcome === "applied")).toBe(true);
    const dump = await logicalDump(db);
    expect(leaks(dump, codes)).toEqual([]);
    for (const id of ["TAG-0042", "TAG-0777", "TAG-0888"]) expect(dump).not.toContain(id);
    expect(leaks(log.lines.join("\n"), codes)).toEqual([]);
    for (const id of ["TAG-0042", "TAG-0777", "TAG-0888"]) expect(log.lines.join("\n")).not.toContain(id);
    const responses = api.traffic.filter((t) => !(t.method === "PUT" && t.path.endsWith("/code")));
    expect(leaks(responses.map((t) => t.text).join("\n"), codes)).toEqual([]);
    expect(hook.received.map((r) => JSON.stringify(r.body)).join("\n")).not.toContain("TAG-0042");
  });
  it("answered every successful request with the body its route's response schema (the OpenAPI document's) describes", async () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const t of clients.flatMap((c) => c.traffic)) {
      if (t.status >= 300) continue;
      const route = fleet.api.matchRoute(t.method, t.path.split("?")[0]!);
      if (!route?.response) {
        if (t.text !== "") wrong.push(`${t.method} ${t.path}: a body but no response schema`);
        continue;
      }
      const r = route.response.safeParse(JSON.parse(t.text));
      checked++;
      if (!r.success) wrong.push(`${t.method} ${route.path}: ${r.error.issues[0]?.path.join(".")} ${r.error.issues[0]?.message}`);
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(50);
    expect(new Set(clients.flatMap((c) => c.traffic).map((t) => fleet.api.matchRoute(t.method, t.path.split("?")[0]!)?.path)).size).toBeGreaterThan(25);
  });
});
