/**
 * The fleet end to end: three real agents (SQLite, keypad socket) on a real mosquitto; the fleet's
 * HTTP API on PGlite and on the PostgreSQL server. A person made through the API with a generated
 * code is switched on at three panels; once the commands are applied, each panel's keypad grants
 * the code. The code is then looked for everywhere it must not be: the database, the fleet's log,
 * every HTTP response but the one that generated it, and the MQTT traffic.
 */
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type RunningFleet } from "../../src/fleet/app.js";
import { CodeVault } from "../../src/fleet/code-vault.js";
import type { Db } from "../../src/fleet/db.js";
import { KeypadTestClient, lastDisplay } from "../helpers/keypad-client.js";
import { DATABASES, logicalDump } from "./databases.js";
import { AgentFleet, captureLog, until } from "./fixture.js";
import { adminClient, ApiClient, TEST_ADMIN } from "./http-client.js";
import { leaks } from "./leaks.js";

const PANELS = ["site-north", "site-south", "site-east"];
const agents = new AgentFleet();
let sniffer: mqtt.MqttClient;
const wire: Buffer[] = [];

beforeAll(async () => {
  await agents.start(PANELS);
  sniffer = await mqtt.connectAsync(agents.broker.url, { clientId: `sniffer-${process.pid}` });
  sniffer.on("message", (_topic, payload) => wire.push(Buffer.from(payload)));
  await sniffer.subscribeAsync("panels/#", { qos: 1 });
}, 60_000);

afterAll(async () => {
  await sniffer?.endAsync();
  await agents.stop();
});

async function keypadAnswer(panelId: string, code: string): Promise<string | undefined> {
  const c = await KeypadTestClient.connect(agents.agent(panelId).config.keypadSocket);
  try {
    await c.hello("kp-fleet", [1]);
    c.send({ t: "entry", action: "arm_away", code });
    const shown = lastDisplay(await c.sync());
    return shown?.line2 as string | undefined;
  } finally {
    c.close();
  }
}

describe.each(DATABASES)("a person made through the API reaches three panels (fleet on $name)", (database) => {
  let db: Db;
  let closeDb: () => Promise<void>;
  let pgDump: (() => Promise<string>) | undefined;
  let fleet: RunningFleet;
  let api: ApiClient;
  const log = captureLog();
  let code = "";

  beforeAll(async () => {
    ({ db, close: closeDb, pgDump } = await database.open());
    fleet = await startFleet({ db, vault: new CodeVault(Buffer.alloc(32, 8)), brokerUrl: agents.broker.url, signingKey: agents.signingKey, logger: log.logger, port: 0, admin: TEST_ADMIN, workerId: `e2e-${database.name}` });
    api = await adminClient(fleet.url);
    for (const id of PANELS) expect((await api.post("/api/v1/panels", { id })).status).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
    await closeDb?.();
  });

  it("applies the commands at each panel and the generated code is granted at each keypad", async () => {
    const person = await api.post<{ id: string }>("/api/v1/people", { firstName: "Margaret", lastName: "Hamilton", contacts: [{ kind: "email", value: "mh@example.com" }] });
    expect(person.status).toBe(201);
    const gen = await api.put<{ code: string }>(`/api/v1/people/${person.body.id}/code`, { generate: true });
    code = gen.body.code;
    expect(code).toMatch(/^[0-9]{4}$/);
    const before = new Map<string, number>();
    for (const id of PANELS) before.set(id, (await api.get<{ reported: { lastSeq: number } }>(`/api/v1/panels/${id}`)).body.reported.lastSeq);
    const commandIds: string[] = [];
    for (const id of PANELS) {
      const on = await api.put<{ commands: string[]; access: { slot: number } }>(`/api/v1/people/${person.body.id}/panels/${id}`, { enabled: true });
      expect(on.status).toBe(200);
      expect(on.body.access.slot).toBe(2);
      commandIds.push(...on.body.commands);
    }
    expect(commandIds).toHaveLength(15);
    const fates = await until(async () => {
      const all = await Promise.all(commandIds.map(async (id) => (await api.get<{ status: string; panelId: string; seq: number; wireSeq: number }>(`/api/v1/commands/${id}`)).body));
      return all.every((f) => f.status !== "pending") && all;
    }, 20_000);
    expect(fates.filter((f) => f.status !== "applied")).toEqual([]);
    for (const id of PANELS) {
      const mine = fates.filter((f) => f.panelId === id).map((f) => f.seq);
      expect(mine).toEqual(Array.from({ length: 5 }, (_, i) => before.get(id)! + 1 + i));
      expect(fates.filter((f) => f.panelId === id).every((f) => f.wireSeq === f.seq)).toBe(true);
      expect(await keypadAnswer(id, code)).toBe("Access granted — Margaret Hamil");
      const wrong = String((Number(code) + 1111) % 10000).padStart(4, "0");
      expect(await keypadAnswer(id, wrong)).toBe("Access denied");
      // what the panel reported reaches the panel's row
      const reported = await until(async () => {
        const r = (await api.get<{ reported: { lastSeq: number; online: boolean; lastAckAt: string | null } }>(`/api/v1/panels/${id}`)).body.reported;
        return r.lastSeq === before.get(id)! + 5 && r.online === true && r;
      });
      expect(reported.lastAckAt).not.toBeNull();
      const users = await api.get<{ range: string; rows: { slot: number; codeSet: boolean; label: string | null; pending: boolean }[] }>(`/api/v1/panels/${id}/users?perPage=10`);
      expect(users.body.range).toBe("1-10 of 1000");
      expect(users.body.rows[1]).toMatchObject({ slot: 2, codeSet: true, label: "Margaret Hamil", pending: false });
    }
  });

  it("keeps the code out of the database, the log, the HTTP responses (but the generating one) and the MQTT traffic", async () => {
    expect(code).not.toBe("");
    const dump = await logicalDump(db);
    expect(dump).toContain("Hamilton");
    expect(leaks(dump, [code])).toEqual([]);
    if (pgDump) {
      const full = await pgDump();
      expect(full).toContain("Hamilton");
      expect(leaks(full, [code])).toEqual([]);
    }
    const responses = api.traffic.filter((t) => !(t.method === "PUT" && t.path.endsWith("/code")));
    expect(responses.length).toBeGreaterThan(20);
    expect(leaks(responses.map((t) => t.text).join("\n"), [code])).toEqual([]);
    expect(api.traffic.filter((t) => t.path.endsWith("/code")).map((t) => leaks(t.text, [code]))).toEqual([[code]]);
    expect(log.lines.length).toBeGreaterThan(20);
    expect(leaks(log.lines.join("\n"), [code])).toEqual([]);
    expect(wire.length).toBeGreaterThan(10);
    expect(leaks(wire.map((b) => b.toString("latin1")).join("\n"), [code])).toEqual([]);
  });
});
