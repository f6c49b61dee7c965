import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PG_WAIT_LIMITS, postgresDb } from "../../src/fleet/db.js";
import { PostgresServer } from "../helpers/postgres.js";

let server: PostgresServer;

beforeAll(async () => {
  server = await PostgresServer.start();
});

afterAll(async () => {
  await server?.stop();
});

describe("the PostgreSQL test server", () => {
  it("answers on its connection string with fsync on, and pg_dump sees what was written", async () => {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ version: string; fsync: string }>("SELECT version() AS version, current_setting('fsync') AS fsync");
      expect(rows[0]!.version).toMatch(/^PostgreSQL 15\./);
      expect(rows[0]!.fsync).toBe("on");
      await client.query("CREATE TABLE probe (v text)");
      await client.query("INSERT INTO probe VALUES ($1)", ["dumped-marker"]);
    } finally {
      await client.end();
    }
    expect(await server.dump()).toContain("dumped-marker");
  });
});

describe("postgresDb, the fleet's driver for a server", () => {
  it("names its sessions and bounds every wait: the settings are on each session", async () => {
    const db = postgresDb(server.url, { applicationName: "panel-fleet w-probe" });
    try {
      const r = await db.query<{ app: string; lock: string; idle: string }>(
        "SELECT current_setting('application_name') AS app, current_setting('lock_timeout') AS lock, current_setting('idle_in_transaction_session_timeout') AS idle",
      );
      expect(r.rows[0]).toEqual({ app: "panel-fleet w-probe", lock: `${PG_WAIT_LIMITS.lock_timeout / 1000}s`, idle: `${PG_WAIT_LIMITS.idle_in_transaction_session_timeout / 60_000}min` });
    } finally {
      await db.close();
    }
  });

  it("a row lock held past lock_timeout fails the transaction with an error instead of waiting for ever, and changes nothing", async () => {
    const holder = new pg.Client({ connectionString: server.url });
    await holder.connect();
    const db = postgresDb(server.url, { waitLimits: { lock_timeout: 300 } });
    try {
      await holder.query("CREATE TABLE locked_row (id int PRIMARY KEY, v text)");
      await holder.query("INSERT INTO locked_row VALUES (1, 'before')");
      await holder.query("BEGIN");
      await holder.query("SELECT * FROM locked_row WHERE id = 1 FOR UPDATE");
      const started = performance.now();
      await expect(db.transaction(async (tx) => {
        await tx.query("UPDATE locked_row SET v = 'after' WHERE id = 1");
      })).rejects.toThrow(/lock timeout/);
      expect(performance.now() - started).toBeLessThan(10_000);
      await holder.query("COMMIT");
      expect((await db.query<{ v: string }>("SELECT v FROM locked_row WHERE id = 1")).rows[0]!.v).toBe("before");
    } finally {
      await db.close();
      await holder.end();
    }
  });

  it("a pool with every connection checked out fails the next caller after connectionTimeoutMillis", async () => {
    const db = postgresDb(server.url, { max: 1, waitLimits: { connectionTimeoutMillis: 300 } });
    let release!: () => void;
    const held = db.transaction(() => new Promise<void>((r) => (release = r)));
    try {
      await expect(db.query("SELECT 1")).rejects.toThrow(/timeout/i);
    } finally {
      release();
      await held;
      await db.close();
    }
  });
});
