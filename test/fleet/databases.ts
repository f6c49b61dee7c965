import { postgresDb, pgliteDb, type Db, type Queryable } from "../../src/fleet/db.js";
import { PostgresServer } from "../helpers/postgres.js";

/** The two databases every fleet suite runs against: PGlite in the process, and Debian's PostgreSQL 15 server. */
export interface TestDatabase {
  name: string;
  open(): Promise<{ db: Db; url?: string; close(): Promise<void>; /** pg_dump of the server's database (the server only). */ pgDump?: () => Promise<string> }>;
}

export const DATABASES: TestDatabase[] = [
  {
    name: "PGlite",
    async open() {
      const db = await pgliteDb();
      return { db, close: () => db.close() };
    },
  },
  {
    name: "PostgreSQL 15 server",
    async open() {
      const server = await PostgresServer.start();
      const db = postgresDb(server.url);
      return {
        db,
        url: server.url,
        pgDump: () => server.dump(),
        async close() {
          await db.close();
          await server.stop();
        },
      };
    },
  },
];

/** Every row of every table in the public schema as JSON text (bytea as \x hex): the logical dump scanned for codes. */
export async function logicalDump(q: Queryable): Promise<string> {
  const tables = await q.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name");
  const out: string[] = [];
  for (const { table_name } of tables.rows) {
    const rows = await q.query<{ j: string }>(`SELECT row_to_json(t)::text AS j FROM "${table_name}" t`);
    out.push(`-- ${table_name}`, ...rows.rows.map((r) => r.j));
  }
  return out.join("\n");
}
