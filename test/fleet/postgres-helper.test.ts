import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
