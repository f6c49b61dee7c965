/**
 * One API call, one transaction: its writes and its action-log entries commit together
 * (src/fleet/unit-of-work.ts), on PGlite and on the PostgreSQL 15 server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type RunningFleet } from "../../src/fleet/app.js";
import { CodeVault } from "../../src/fleet/code-vault.js";
import type { Db } from "../../src/fleet/db.js";
import { afterCommit, unitAware, type UnitDb } from "../../src/fleet/unit-of-work.js";
import { DATABASES } from "./databases.js";
import { AgentFleet, captureLog } from "./fixture.js";
import { adminClient, TEST_ADMIN } from "./http-client.js";

const count = async (db: Db, table: string) => Number((await db.query<{ n: unknown }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);

for (const database of DATABASES) {
  describe(`a unit of work (${database.name})`, () => {
    let raw: Db;
    let db: UnitDb;
    let close: () => Promise<void>;

    beforeAll(async () => {
      ({ db: raw, close } = await database.open());
      db = unitAware(raw);
      await raw.query("CREATE TABLE uow_probe (v text NOT NULL)");
    }, 60_000);

    afterAll(async () => {
      await close?.();
    });

    it("commits its queries and inner transactions together, and nothing of them when it throws", async () => {
      await db.unitOfWork(async () => {
        await db.query("INSERT INTO uow_probe VALUES ('a')");
        await db.transaction(async (tx) => {
          await tx.query("INSERT INTO uow_probe VALUES ('b')");
        });
      });
      expect(await count(raw, "uow_probe")).toBe(2);
      await expect(db.unitOfWork(async () => {
        await db.query("INSERT INTO uow_probe VALUES ('c')");
        await db.transaction(async (tx) => tx.query("INSERT INTO uow_probe VALUES ('d')"));
        throw new Error("refused after writing");
      })).rejects.toThrow("refused after writing");
      expect(await count(raw, "uow_probe")).toBe(2);
    });

    it("rolls back only an inner transaction that failed when the caller handles its error", async () => {
      await raw.query("DELETE FROM uow_probe");
      await db.unitOfWork(async () => {
        await db.query("INSERT INTO uow_probe VALUES ('kept')");
        await db.transaction(async (tx) => {
          await tx.query("INSERT INTO uow_probe VALUES ('undone')");
          await tx.query("INSERT INTO uow_probe VALUES (NULL)"); // NOT NULL
        }).catch(() => undefined);
        await db.query("INSERT INTO uow_probe VALUES ('after')");
      });
      expect((await raw.query<{ v: string }>("SELECT v FROM uow_probe ORDER BY v")).rows.map((r) => r.v)).toEqual(["after", "kept"]);
    });

    it("throws, committing nothing, when a failed statement's error was swallowed (its COMMIT would have rolled back quietly)", async () => {
      await raw.query("DELETE FROM uow_probe");
      await expect(db.unitOfWork(async () => {
        await db.query("INSERT INTO uow_probe VALUES ('x')");
        await db.query("INSERT INTO uow_probe VALUES (NULL)").catch(() => undefined);
        return "looks fine";
      })).rejects.toThrow(/nothing of the call was committed/);
      expect(await count(raw, "uow_probe")).toBe(0);
    });

    it("runs afterCommit work once the rows are visible to others, and never when the unit rolls back", async () => {
      await raw.query("DELETE FROM uow_probe");
      const seen: number[] = [];
      await db.unitOfWork(async () => {
        await db.query("INSERT INTO uow_probe VALUES ('visible')");
        afterCommit(() => void raw.query<{ n: unknown }>("SELECT count(*) AS n FROM uow_probe").then((r) => seen.push(Number(r.rows[0]!.n))));
        expect(seen).toEqual([]);
      });
      await expect.poll(() => seen).toEqual([1]);
      let ran = false;
      await db.unitOfWork(async () => {
        afterCommit(() => (ran = true));
        throw new Error("no");
      }).catch(() => undefined);
      expect(ran).toBe(false);
      // outside a unit it runs at once
      afterCommit(() => (ran = true));
      expect(ran).toBe(true);
    });

    it("a timer started inside a unit that fires after it ended writes through the pool, on its own", async () => {
      await raw.query("DELETE FROM uow_probe");
      let later!: Promise<unknown>;
      await db.unitOfWork(async () => {
        later = new Promise((r) => setTimeout(r, 50)).then(() => db.query("INSERT INTO uow_probe VALUES ('late')"));
      });
      await later;
      expect(await count(raw, "uow_probe")).toBe(1);
    });
  });
}

describe("the API: a change and its action-log entry commit together (PGlite)", () => {
  const agents = new AgentFleet();
  let raw: Db;
  let close: () => Promise<void>;
  let fleet: RunningFleet;

  beforeAll(async () => {
    await agents.start(["uow-1"]);
    ({ db: raw, close } = await DATABASES[0]!.open());
    fleet = await startFleet({ db: raw, vault: new CodeVault(Buffer.alloc(32, 6)), brokerUrl: agents.broker.url, signingKey: agents.signingKey, logger: captureLog().logger, port: 0, admin: TEST_ADMIN, workerId: "uow-w" });
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
    await close?.();
    await agents.stop();
  });

  it("answers 500 and writes neither the access nor its commands when the action log refuses the entry", async () => {
    const api = await adminClient(fleet.url);
    expect((await api.post("/api/v1/panels", { id: "uow-1" })).status).toBe(201);
    const person = await api.post<{ id: string }>("/api/v1/people", { firstName: "Unit", lastName: "Work" });
    expect((await api.put(`/api/v1/people/${person.body.id}/code`, { code: "4826" })).status).toBe(200);
    const commandsBefore = await count(raw, "commands");
    // the action log fails every entry of a set_access (a disk full, a constraint added by an operator...)
    await raw.query(`CREATE FUNCTION uow_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.action = 'set_access' THEN RAISE EXCEPTION 'action log refused'; END IF; RETURN NEW; END $$`);
    await raw.query("CREATE TRIGGER uow_refuse BEFORE INSERT ON action_log FOR EACH ROW EXECUTE FUNCTION uow_refuse()");
    const refused = await api.put<{ error: { code: string } }>(`/api/v1/people/${person.body.id}/panels/uow-1`, { enabled: true, label: "Unit" });
    expect(refused.status).toBe(500);
    expect(refused.body.error.code).toBe("internal_error");
    expect(await count(raw, "commands")).toBe(commandsBefore);
    expect((await raw.query("SELECT 1 FROM person_panels WHERE person_id = $1", [person.body.id])).rows).toEqual([]);
    await raw.query("DROP TRIGGER uow_refuse ON action_log");
    const ok = await api.put<{ commands: string[] }>(`/api/v1/people/${person.body.id}/panels/uow-1`, { enabled: true, label: "Unit" });
    expect(ok.status).toBe(200);
    const entries = await raw.query<{ action: string; outcome: string }>("SELECT action, outcome FROM action_log WHERE person_id = $1 AND actor_kind = 'api_user' ORDER BY id", [person.body.id]);
    // the refused call is in the log as refused (written after its unit rolled back), the second as requested
    expect(entries.rows.filter((e) => e.action.includes("panels")).map((e) => e.outcome)).toEqual(["refused"]);
    expect(entries.rows.filter((e) => e.action === "set_access").map((e) => e.outcome)).toEqual(["requested"]);
  });
});
