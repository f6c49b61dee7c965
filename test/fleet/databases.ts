import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import type { CodeVault } from "../../src/fleet/code-vault.js";
import { postgresDb, pgliteDb, type Db, type Queryable } from "../../src/fleet/db.js";
import { migrate } from "../../src/fleet/schema.js";
import { FleetStore } from "../../src/fleet/store.js";
import { PostgresServer } from "../helpers/postgres.js";

/** The two databases every fleet suite runs against: PGlite in the process, and Debian's PostgreSQL 15 server. */
export interface TestDatabase {
  name: string;
  open(): Promise<{ db: Db; url?: string; close: () => Promise<void>; /** pg_dump of the server's database (the server only). */ pgDump?: () => Promise<string> }>;
}

const PGLITE_VERSION = (JSON.parse(readFileSync(new URL("../../node_modules/@electric-sql/pglite/package.json", import.meta.url), "utf8")) as { version: string }).version;
const TEMPLATE = join(tmpdir(), `panel-fleet-pglite-${PGLITE_VERSION}-template.tar`);

/**
 * A fresh, empty PGlite started from a cached tarball of a freshly initialised one (PGlite's own
 * initdb costs ~3 s of CPU per instance; loading the tarball ~0.5 s). The first test file to need
 * it makes it (written to a temp name and renamed, so files running in parallel never read half a file).
 */
export async function freshPglite(): Promise<Db> {
  if (existsSync(TEMPLATE)) return pgliteDb(undefined, { loadDataDir: new Blob([readFileSync(TEMPLATE)]) });
  const db = await pgliteDb();
  const tmp = `${TEMPLATE}.${process.pid}.tmp`;
  writeFileSync(tmp, Buffer.from(await (await db.dumpDataDir!()).arrayBuffer()));
  renameSync(tmp, TEMPLATE);
  return db;
}

export const DATABASES: TestDatabase[] = [
  {
    name: "PGlite",
    async open() {
      const db = await freshPglite();
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

/**
 * A suite's migrated database and store on `database`: opened before its tests (handed to `got`),
 * closed after them. The suites' shared set-up: `let db; let store; migratedStore(database, vault, (o) => ({ db, store } = o));`
 */
export function migratedStore(database: TestDatabase, vault: CodeVault, got: (o: { db: Db; store: FleetStore }) => void): void {
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const opened = await database.open();
    close = opened.close;
    await migrate(opened.db);
    got({ db: opened.db, store: new FleetStore(opened.db, vault) });
  }, 60_000);
  afterAll(async () => {
    await close?.();
  });
}
