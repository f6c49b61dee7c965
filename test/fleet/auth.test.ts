/**
 * Sessions, tokens and roles, on PGlite and the PostgreSQL server: sign-in (one answer for an
 * unknown email and a wrong password), the cookie's attributes, CSRF on cookie writes, bearer
 * tokens, idle and absolute expiry, sign-out; passwords and tokens only hashed in the database;
 * and every route of the API tried with every role (the route table is read from the server, so
 * a route added later is tried too).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type RunningFleet } from "../../src/fleet/app.js";
import { API_ROLE_NAMES, roleAllows, type ApiRole } from "../../src/fleet/auth/permissions.js";
import { CodeVault } from "../../src/fleet/code-vault.js";
import { FLEET_ERRORS } from "../../src/fleet/errors.js";
import type { Db } from "../../src/fleet/db.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { generateSigningKey } from "../../protocol/index.js";
import { DATABASES, logicalDump } from "./databases.js";
import { captureLog } from "./fixture.js";
import { adminClient, ApiClient, TEST_ADMIN } from "./http-client.js";

type ErrorBody = { error: { code: string; message: string; detail?: Record<string, unknown> } };

const broker = new Mosquitto();
beforeAll(async () => {
  await broker.start();
});
afterAll(async () => {
  await broker.dispose();
});

describe.each(DATABASES)("sessions, tokens and roles (fleet on $name)", (database) => {
  let db: Db;
  let closeDb: () => Promise<void>;
  let fleet: RunningFleet;
  let admin: ApiClient;
  const log = captureLog();
  const passwords: Record<string, string> = {};
  const tokens: Partial<Record<ApiRole, string>> = {};

  beforeAll(async () => {
    ({ db, close: closeDb } = await database.open());
    fleet = await startFleet({ db, vault: new CodeVault(Buffer.alloc(32, 3)), brokerUrl: broker.url, signingKey: generateSigningKey(), logger: log.logger, port: 0, admin: TEST_ADMIN, workerId: `auth-${database.name}` });
    admin = await adminClient(fleet.url);
    for (const role of API_ROLE_NAMES) {
      const password = `pw-${role}-${Math.random().toString(36).slice(2)}`;
      passwords[role] = password;
      const u = await admin.post<{ id: string }>("/api/v1/api-users", { email: `${role}@roles.test`, name: `The ${role}`, role, password });
      expect(u.status).toBe(201);
      const t = await admin.post<{ token: string }>(`/api/v1/api-users/${u.body.id}/tokens`, { name: `${role} client` });
      expect(t.status).toBe(201);
      tokens[role] = t.body.token;
    }
  }, 90_000);

  afterAll(async () => {
    await fleet?.stop();
    await closeDb?.();
  });

  it("signs in with a HttpOnly SameSite=Strict cookie, answers the same 401 for an unknown email and a wrong password, and signs out server-side", async () => {
    const c = new ApiClient(fleet.url);
    const wrong = await c.signIn(TEST_ADMIN.email, "not the password");
    const unknown = await c.signIn("nobody@fleet.test", "not the password");
    expect([wrong.status, unknown.status]).toEqual([401, 401]);
    expect(wrong.body).toEqual(unknown.body);
    expect((wrong.body as ErrorBody).error.code).toBe("invalid_credentials");
    expect((await c.get<ErrorBody>("/api/v1/session")).body.error.code).toBe("not_signed_in");

    const ok = await c.signIn("Installer@roles.test", passwords.installer!);
    expect(ok.status).toBe(200);
    expect(ok.setCookie).toMatch(/^fleet_session=[A-Za-z0-9_-]{40,}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=43200$/);
    expect(ok.body).toMatchObject({ user: { email: "installer@roles.test", role: "installer", permissions: ["view_equipment", "view_panel_users", "manage_panel_users", "view_action_log"] } });
    const again = await c.get<{ csrfToken: string; user: { role: string } }>("/api/v1/session");
    expect(again.body.user.role).toBe("installer");
    expect(again.body.csrfToken).toBe(c.csrf);

    const cookie = c.cookie!;
    const out = await c.delete("/api/v1/session");
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toMatch(/^fleet_session=; .*Max-Age=0/);
    // The old cookie no longer opens anything.
    const stale = new ApiClient(fleet.url);
    stale.cookie = cookie;
    expect((await stale.get<ErrorBody>("/api/v1/session")).body.error.code).toBe("not_signed_in");
  });

  it("refuses a cookie write without this session's X-CSRF-Token; a bearer token needs none", async () => {
    const c = new ApiClient(fleet.url);
    await c.signIn("installer@roles.test", passwords.installer!);
    c.sendCsrf = false;
    const bare = await c.post<ErrorBody>("/api/v1/people", { firstName: "Csrf", lastName: "Test" });
    expect([bare.status, bare.body.error.code]).toEqual([403, "csrf_failed"]);
    const forged = await c.call<ErrorBody>("POST", "/api/v1/people", { firstName: "Csrf", lastName: "Test" }, { "x-csrf-token": admin.csrf! });
    expect([forged.status, forged.body.error.code]).toEqual([403, "csrf_failed"]);
    c.sendCsrf = true;
    expect((await c.post("/api/v1/people", { firstName: "Csrf", lastName: "Ok" })).status).toBe(201);

    const b = new ApiClient(fleet.url);
    b.bearer = tokens.installer!;
    expect((await b.post("/api/v1/people", { firstName: "Bearer", lastName: "Ok" })).status).toBe(201);
    // a revoked token opens nothing
    const extra = await admin.post<{ id: string; token: string }>(`/api/v1/api-users/${(await admin.get<{ user: { id: string } }>("/api/v1/session")).body.user.id}/tokens`, { name: "short-lived" });
    b.bearer = extra.body.token;
    expect((await b.get("/api/v1/panels")).status).toBe(200);
    expect((await admin.delete(`/api/v1/api-tokens/${extra.body.id}`)).status).toBe(204);
    expect((await b.get<ErrorBody>("/api/v1/panels")).body.error.code).toBe("not_signed_in");
    expect((await admin.delete<ErrorBody>(`/api/v1/api-tokens/${extra.body.id}`)).body.error.code).toBe("api_token_not_found");
    b.bearer = "ft_not-a-token";
    expect((await b.get<ErrorBody>("/api/v1/panels")).body.error.code).toBe("not_signed_in");
  });

  it("ends sessions idle too long or past their absolute lifetime (401 session_expired)", async () => {
    const idle = new ApiClient(fleet.url);
    await idle.signIn("viewer@roles.test", passwords.viewer!);
    const absolute = new ApiClient(fleet.url);
    await absolute.signIn("viewer@roles.test", passwords.viewer!);
    expect((await idle.get("/api/v1/panels")).status).toBe(200);
    // The database's clock decides; moving the rows' times is the same as waiting.
    const hash = async (c: ApiClient) => (await import("../../src/fleet/auth/auth-store.js")).tokenHash(c.cookie!.split("=")[1]!);
    await db.query("UPDATE api_sessions SET last_seen_at = now() - interval '31 minutes' WHERE token_hash = $1", [await hash(idle)]);
    await db.query("UPDATE api_sessions SET expires_at = now() - interval '1 second' WHERE token_hash = $1", [await hash(absolute)]);
    for (const c of [idle, absolute]) {
      const r = await c.get<ErrorBody>("/api/v1/panels");
      expect([r.status, r.body.error.code]).toEqual([401, "session_expired"]);
      expect((await c.get<ErrorBody>("/api/v1/panels")).body.error.code).toBe("not_signed_in");
    }
    // one that ended and is never presented again is purged (hourly, with the event retention)
    const forgotten = new ApiClient(fleet.url);
    await forgotten.signIn("viewer@roles.test", passwords.viewer!);
    await db.query("UPDATE api_sessions SET last_seen_at = now() - interval '2 hours' WHERE token_hash = $1", [await hash(forgotten)]);
    expect(await fleet.auth.purgeEndedSessions()).toBe(1);
    expect((await db.query("SELECT 1 FROM api_sessions WHERE token_hash = $1", [await hash(forgotten)])).rows).toEqual([]);
  });

  it("touches a session in use once per interval, not at every call, and keeps it alive", async () => {
    const { sessionTouchMs, tokenHash, DEFAULT_SESSION_POLICY } = await import("../../src/fleet/auth/auth-store.js");
    expect(sessionTouchMs(DEFAULT_SESSION_POLICY)).toBe(30_000);
    const c = new ApiClient(fleet.url);
    await c.signIn("viewer@roles.test", passwords.viewer!);
    const h = tokenHash(c.cookie!.split("=")[1]!);
    const seen = async () => String((await db.query("SELECT last_seen_at::text AS t FROM api_sessions WHERE token_hash = $1", [h])).rows[0]!.t);
    // 10 s ago: within the interval, calls leave it as it is
    await db.query("UPDATE api_sessions SET last_seen_at = now() - interval '10 seconds' WHERE token_hash = $1", [h]);
    const before = await seen();
    for (let i = 0; i < 3; i++) expect((await c.get("/api/v1/panels")).status).toBe(200);
    expect(await seen()).toBe(before);
    // 29 minutes ago (older than the interval, within the idle time): the next call touches it
    await db.query("UPDATE api_sessions SET last_seen_at = now() - interval '29 minutes' WHERE token_hash = $1", [h]);
    expect((await c.get("/api/v1/panels")).status).toBe(200);
    const fresh = await db.query<{ age: unknown }>("SELECT extract(epoch FROM now() - last_seen_at) AS age FROM api_sessions WHERE token_hash = $1", [h]);
    expect(Number(fresh.rows[0]!.age)).toBeLessThan(5);
  });

  it("keeps passwords as scrypt hashes and tokens as SHA-256 only", async () => {
    const dump = await logicalDump(db);
    for (const role of API_ROLE_NAMES) {
      expect(dump).not.toContain(passwords[role]!);
      expect(dump).not.toContain(tokens[role]!);
    }
    expect(dump).not.toContain(TEST_ADMIN.password);
    expect(dump).not.toContain(admin.cookie!.split("=")[1]!);
    expect(dump).toMatch(/"password_hash":"scrypt\$32768\$8\$1\$/);
    expect(log.lines.join("\n")).not.toContain(TEST_ADMIN.password);
  });

  it("tries every route with every role: 403 permission_denied (in the action log) exactly where the role lacks the permission, 401 without credentials", async () => {
    const routes = fleet.api.routes();
    expect(routes.length).toBeGreaterThan(35);
    const anonymous = new ApiClient(fleet.url);
    const seen: string[] = [];
    for (const r of routes) {
      const path = r.path.replace(/:slot\b/, "1").replace(/:[A-Za-z]+/g, "nope");
      const body = r.method === "GET" ? undefined : {};
      const anon = await anonymous.call<ErrorBody | undefined>(r.method, path, body);
      if (r.access === "public") {
        expect([r.method, r.path, anon.status === 401]).toEqual([r.method, r.path, false]);
        continue;
      }
      expect([r.method, r.path, anon.status, anon.body?.error.code]).toEqual([r.method, r.path, 401, "not_signed_in"]);
      for (const role of API_ROLE_NAMES) {
        const c = new ApiClient(fleet.url);
        c.bearer = tokens[role]!;
        const res = await c.call<ErrorBody | undefined>(r.method, path, body);
        const allowed = r.access === "signed_in" || roleAllows(role, r.access);
        if (allowed) expect([r.method, r.path, role, res.body?.error?.code === "permission_denied"]).toEqual([r.method, r.path, role, false]);
        else {
          expect([r.method, r.path, role, res.status, res.body?.error.code, res.body?.error.detail]).toEqual([r.method, r.path, role, 403, "permission_denied", { permission: r.access }]);
          seen.push(`${role} ${r.method} ${r.path}`);
        }
      }
    }
    // every role but admin was refused somewhere, and each refusal is in the action log
    expect(new Set(seen.map((s) => s.split(" ")[0]))).toEqual(new Set(["installer", "support", "viewer"]));
    const logged = await db.query<{ n: unknown }>("SELECT count(*) AS n FROM action_log WHERE outcome = 'refused' AND code = 'permission_denied'");
    expect(Number(logged.rows[0]!.n)).toBe(seen.length);
    const page = await admin.get<{ rows: { actor: { kind: string; name: string }; action: string; outcome: string; code: string }[] }>("/api/v1/action-log?perPage=10");
    expect(page.body.rows[0]).toMatchObject({ actor: { kind: "api_user" }, outcome: "refused", code: "permission_denied" });
  });

  it("asks for the permission seed doc 001 names: accounts (assign, unassign, reset, remove) need manage accounts, through any route", async () => {
    // 001, "Required permissions": codes, labels, partitions, disabling need "manage panel users";
    // assigning, unassigning, resetting or removing accounts needs "manage accounts".
    const doc001: [string, string, string][] = [
      ["PUT", "/api/v1/people/:personId/code", "manage_panel_users"],
      ["PUT", "/api/v1/people/:personId/panels/:panelId", "manage_panel_users"],
      ["POST", "/api/v1/panels/:panelId/users/:slot/disable", "manage_panel_users"],
      ["PUT", "/api/v1/panels/:panelId/users/:slot/account", "manage_accounts"],
      ["DELETE", "/api/v1/panels/:panelId/users/:slot/account", "manage_accounts"],
      ["POST", "/api/v1/accounts/:accountId/reset-password", "manage_accounts"],
      ["DELETE", "/api/v1/accounts/:accountId", "manage_accounts"],
    ];
    const table = new Map(fleet.api.routes().map((r) => [`${r.method} ${r.path}`, r.access]));
    expect(doc001.map(([m, p]) => [m, p, table.get(`${m} ${p}`)])).toEqual(doc001);
    const as = (role: ApiRole) => {
      const c = new ApiClient(fleet.url);
      c.bearer = tokens[role]!;
      return c;
    };
    // naming an account through the access routes needs manage accounts as well
    const denied = { status: 403, code: "permission_denied", detail: { permission: "manage_accounts" } };
    const outcome = (r: { status: number; body: ErrorBody | undefined }) => ({ status: r.status, code: r.body?.error?.code, detail: r.body?.error?.detail });
    expect(outcome(await as("installer").put<ErrorBody>("/api/v1/people/nope/panels/nope", { enabled: true, accountId: "acc-1" }))).toEqual(denied);
    expect(outcome(await as("installer").put<ErrorBody>("/api/v1/people/nope/panels/nope", { enabled: true, accountId: null }))).toEqual(denied);
    expect(outcome(await as("installer").put<ErrorBody>("/api/v1/people/nope/panels", { panels: [{ panelId: "a", enabled: true }, { panelId: "b", enabled: true, accountId: "acc-1" }] }))).toEqual(denied);
    // without one it is a panel-user change (the person does not exist: 404, not 403)
    expect((await as("installer").put<ErrorBody>("/api/v1/people/nope/panels/nope", { enabled: true, label: "Front" })).status).not.toBe(403);
    expect((await as("installer").put<ErrorBody>("/api/v1/people/nope/panels", { panels: [{ panelId: "a", enabled: true }] })).status).not.toBe(403);
    // support manages accounts without managing panel users: it assigns and unassigns, and sets no label
    expect((await as("support").put<ErrorBody>("/api/v1/panels/nope/users/3/account", { accountId: "acc-1" })).status).not.toBe(403);
    expect((await as("support").call<ErrorBody>("DELETE", "/api/v1/panels/nope/users/3/account")).status).not.toBe(403);
    expect(outcome(await as("support").put<ErrorBody>("/api/v1/people/nope/panels/nope", { enabled: true, accountId: "acc-1" }))).toEqual({ ...denied, detail: { permission: "manage_panel_users" } });
    expect(outcome(await as("installer").put<ErrorBody>("/api/v1/panels/nope/users/3/account", { accountId: "acc-1" }))).toEqual(denied);
    // registering accounts with a new person is account management too; the person alone is not
    expect(outcome(await as("installer").post<ErrorBody>("/api/v1/people", { firstName: "Acc", lastName: "Ount", accounts: [{ email: "acc@roles.test", status: "Active" }] }))).toEqual(denied);
    expect((await as("installer").post<ErrorBody>("/api/v1/people", { firstName: "No", lastName: "Accounts", accounts: [] })).status).toBe(201);
    expect((await as("admin").post<ErrorBody>("/api/v1/people", { firstName: "Acc", lastName: "Ount", accounts: [{ email: "acc@roles.test", status: "Active" }] })).status).toBe(201);
    // the OpenAPI document says so
    const doc = (await new ApiClient(fleet.url).get<{ paths: Record<string, Record<string, Record<string, unknown>>> }>("/api/v1/openapi.json")).body;
    expect(doc.paths["/api/v1/people/{personId}/panels/{panelId}"]!.put!["x-permission-also"]).toMatchObject({ permission: "manage_accounts" });
    const refusals = await db.query<{ action: string }>("SELECT action FROM action_log WHERE outcome = 'refused' AND code = 'permission_denied' AND action LIKE 'PUT /api/v1/people/:personId/panels%' ORDER BY id");
    expect(refusals.rows.length).toBeGreaterThanOrEqual(4);
  });

  it("answers malformed input on every route with a stable code, never internal_error", async () => {
    const c = new ApiClient(fleet.url);
    c.bearer = tokens.admin!;
    const bodies: unknown[] = ["{not json", "[]", "null", "42", '"text"', { enabled: "yes", slot: -1, tags: "x" }, { email: 7, firstName: { a: 1 }, code: ["1", "2"] }, { hours: 24, kind: "weekly", windows: [{ days: [9] }] }];
    const known = new Set(Object.keys(FLEET_ERRORS));
    const bad: string[] = [];
    for (const r of fleet.api.routes()) {
      if (r.method === "GET" || r.path === "/api/v1/session") continue;
      for (const path of [r.path.replace(/:slot\b/, "1").replace(/:[A-Za-z]+/g, "nope"), r.path.replace(/:slot\b/, "abc").replace(/:[A-Za-z]+/g, "%E0%A4%A")]) {
        for (const body of bodies) {
          const res = await c.call<ErrorBody | undefined>(r.method, path, body);
          // a 503 webhook_not_configured is a stable answer (this fleet has no account webhook); internal_error never is
          const code = res.body?.error?.code ?? "";
          if (res.status >= 400 && (!known.has(code) || code === "internal_error" || (res.status >= 500 && code !== "webhook_not_configured"))) bad.push(`${r.method} ${path} ${JSON.stringify(body)} -> ${res.status} ${res.body?.error.code}`);
        }
      }
    }
    expect(bad).toEqual([]);
    expect(log.lines.some((l) => l.includes('"request failed"'))).toBe(false);
  });

  it("serves an OpenAPI 3.1 document listing every route with its permission", async () => {
    const doc = (await new ApiClient(fleet.url).get<{ openapi: string; paths: Record<string, Record<string, { "x-permission": string }>> }>("/api/v1/openapi.json")).body;
    expect(doc.openapi).toBe("3.1.0");
    for (const r of fleet.api.routes()) {
      const op = doc.paths[r.path.replace(/:([A-Za-z]+)/g, "{$1}")]?.[r.method.toLowerCase()];
      expect([r.method, r.path, op?.["x-permission"]]).toEqual([r.method, r.path, r.access]);
    }
  });
});
