import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type RunningFleet } from "../../src/fleet/app.js";
import { CodeVault } from "../../src/fleet/code-vault.js";
import type { Db } from "../../src/fleet/db.js";
import { freshPglite } from "./databases.js";
import { AgentFleet, captureLog, until } from "./fixture.js";
import { adminClient, ApiClient, TEST_ADMIN } from "./http-client.js";
import { leaks } from "./leaks.js";

const agents = new AgentFleet();
const log = captureLog();
let db: Db;
let fleet: RunningFleet;
let api: ApiClient;

beforeAll(async () => {
  await agents.start(["http-1"]);
  db = await freshPglite();
  fleet = await startFleet({ db, vault: new CodeVault(Buffer.alloc(32, 4)), brokerUrl: agents.broker.url, signingKey: agents.signingKey, logger: log.logger, port: 0, admin: TEST_ADMIN, workerId: "http-w" });
  api = await adminClient(fleet.url);
}, 60_000);

afterAll(async () => {
  await fleet?.stop();
  await db?.close();
  await agents.stop();
});

type ErrorBody = { error: { code: string; message: string; detail?: Record<string, unknown> } };

describe("HTTP API /api/v1", () => {
  it("enrols a panel from its retained state and refuses a second enrolment or a mismatch", async () => {
    const r = await api.post("/api/v1/panels", { id: "http-1" });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ id: "http-1", type: "DSC", codeLength: 4, timeZone: "Europe/Berlin", reported: { lastSeq: 0 } });
    expect(String(r.body.identity)).toMatch(/^[0-9a-f]{64}$/);
    // the panel's Ed25519 identity key from its retained state, pinned at enrolment
    const identityKey = String(r.body.identityKey);
    expect(identityKey).toMatch(/^[0-9a-f]{64}$/);
    expect(identityKey).toBe(Buffer.from((await fleet.client.panelState("http-1", 2000))!.identityKey!).toString("hex"));
    expect((await api.post<ErrorBody>("/api/v1/panels", { id: "http-1" })).body.error.code).toBe("panel_exists");
    expect((await api.post<ErrorBody>("/api/v1/panels", { id: "bad id" })).body.error).toMatchObject({ code: "invalid_request", detail: { path: "id" } });
  });

  it("answers every refusal with a stable code and a sentence", async () => {
    const cases: [string, string, unknown, number, string][] = [
      ["POST", "/api/v1/people", { firstName: "A" }, 400, "invalid_request"],
      ["POST", "/api/v1/people", "{not json", 400, "invalid_json"],
      ["POST", "/api/v1/people", { firstName: "A", lastName: "B", extra: 1 }, 400, "invalid_request"],
      ["GET", "/api/v1/people/nobody", undefined, 404, "person_not_found"],
      ["PUT", "/api/v1/people/nobody/code", { generate: true }, 404, "person_not_found"],
      ["GET", "/api/v1/commands/none", undefined, 404, "command_not_found"],
      ["GET", "/api/v1/panels/none/users", undefined, 404, "panel_not_found"],
      ["GET", "/api/v1/panels/http-1/users?perPage=20", undefined, 400, "invalid_request"],
      ["DELETE", "/api/v1/people", undefined, 405, "method_not_allowed"],
      ["GET", "/api/v2/anything", undefined, 404, "not_found"],
    ];
    for (const [method, path, body, status, code] of cases) {
      const r = await api.call<ErrorBody>(method, path, body);
      expect([path, r.status, r.body.error.code]).toEqual([path, status, code]);
      expect(r.body.error.message.length).toBeGreaterThan(10);
    }
  });

  it("generates a code once, refuses typed codes that do not fit, pages users and shows each command's fate", async () => {
    const created = await api.post<{ id: string; codeSet: boolean; accounts: { id: string }[] }>("/api/v1/people", { firstName: "Grace", lastName: "Hopper", contacts: [{ kind: "mobile", value: "+1 555 0100", country: "US", carrier: "Verizon", enabled: true }, { kind: "email", value: "grace@example.com" }], accounts: [{ email: "grace@example.com" }] });
    expect(created.status).toBe(201);
    expect(created.body.codeSet).toBe(false);
    const pid = created.body.id;
    expect((await api.put<ErrorBody>(`/api/v1/people/${pid}/panels/http-1`, { enabled: true })).body.error.code).toBe("code_required");
    const gen = await api.put<{ code: string; commands: string[] }>(`/api/v1/people/${pid}/code`, { generate: true });
    expect(gen.body.code).toMatch(/^[0-9]{4}$/);
    const code = gen.body.code;
    expect((await api.put<ErrorBody>(`/api/v1/people/${pid}/code`, { code: "12a4" })).body.error.code).toBe("invalid_code");
    const on = await api.put<{ access: { slot: number }; commands: string[] }>(`/api/v1/people/${pid}/panels/http-1`, { enabled: true, partitions: [1, 2], schedule: { kind: "weekly", windows: [{ days: [1, 2, 3, 4, 5], start: 480, end: 1080 }] }, doorLocks: ["front"], accountId: created.body.accounts[0]!.id });
    expect(on.status).toBe(200);
    expect(on.body.access.slot).toBe(2);
    expect(on.body.commands).toHaveLength(7);
    expect((await api.put<ErrorBody>(`/api/v1/people/${pid}/code`, { code: "123" })).body.error.code).toBe("invalid_code_length");
    expect((await api.put<ErrorBody>(`/api/v1/people/${pid}/panels/http-1`, { enabled: true, role: "Installer" })).body.error.code).toBe("invalid_role_for_panel");
    const fates = await until(async () => {
      const all = await Promise.all(on.body.commands.map((id) => api.get<{ status: string; seq: number; kind: string }>(`/api/v1/commands/${id}`)));
      return all.every((r) => r.body.status !== "pending") && all.map((r) => r.body);
    });
    expect(fates.map((f) => [f.seq, f.kind, f.status])).toEqual([
      [1, "set_code", "applied"],
      [2, "set_label", "applied"],
      [3, "set_role", "applied"],
      [4, "set_partitions", "applied"],
      [5, "set_schedule", "applied"],
      [6, "set_door_locks", "applied"],
      [7, "assign_account", "applied"],
    ]);
    const users = await api.get<{ range: string; rows: { slot: number; label: string; codeSet: boolean; partitions: number[] }[] }>("/api/v1/panels/http-1/users?page=1&perPage=10");
    expect(users.body.range).toBe("1-10 of 1000");
    expect(users.body.rows[1]).toMatchObject({ slot: 2, label: "Grace Hopper", codeSet: true, partitions: [1, 2], status: "Not confirmed", enabled: true });
    expect(users.body.rows[0]).toMatchObject({ slot: 1, personId: null, role: "Master", codeSet: false, status: "Unknown" });
    const person = await api.get(`/api/v1/people/${pid}`);
    expect(person.body).toMatchObject({ codeSet: true, contacts: [{ kind: "mobile", country: "US", carrier: "Verizon" }, { kind: "email" }], accounts: [{ status: "Not confirmed" }] });
    // the code is in the generate response and nowhere else
    const others = api.traffic.filter((t) => !(t.path.endsWith("/code") && t.text.includes('"code":"')));
    expect(api.traffic.filter((t) => leaks(t.text, [code]).length > 0)).toHaveLength(1);
    expect(leaks(others.map((t) => t.text).join("\n"), [code])).toEqual([]);
    expect(leaks(log.lines.join("\n"), [code])).toEqual([]);
  });
});
