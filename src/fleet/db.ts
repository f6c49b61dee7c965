import type { PGlite } from "@electric-sql/pglite";
import pg from "pg";

/** What a query returns, the same for both drivers. */
export interface QueryResult<T> {
  rows: T[];
  /** Rows inserted, updated, deleted or returned. */
  rowCount: number;
}

/** One SQL statement with `$1, $2, ...` parameters: the only way the fleet talks to its database. */
export interface Queryable {
  // Properties, not methods: implementations are closures, safe to pass around unbound.
  query: <T = Record<string, unknown>>(text: string, params?: readonly unknown[]) => Promise<QueryResult<T>>;
}

/**
 * The fleet's database: PGlite (Postgres in the process, the embedded default) or a PostgreSQL
 * server through a `pg` Pool. One schema, one set of migrations and one set of queries serve both;
 * this interface is all the difference there is.
 */
export interface Db extends Queryable {
  readonly kind: "pglite" | "postgres";
  /** Runs `fn` in one transaction: COMMIT when it resolves, ROLLBACK when it throws. */
  transaction: <T>(fn: (tx: Queryable) => Promise<T>) => Promise<T>;
  close: () => Promise<void>;
  /** PGlite only: a tarball of its data directory (a backup, or a template for `pgliteDb(…, { loadDataDir })`). */
  dumpDataDir?: () => Promise<Blob>;
}

/**
 * Bounds on waiting, so a stuck statement or an exhausted pool ends in an error (the API answers
 * 500 with a code, the dispatcher tries again next round) instead of a request that never answers.
 * No statement of the fleet waits on a row lock for long (an API call holds its panels' rows while
 * it writes their commands: milliseconds), and none keeps a transaction open between statements.
 */
export const PG_WAIT_LIMITS: { connectionTimeoutMillis: number; lock_timeout: number; idle_in_transaction_session_timeout: number } = {
  /** Waiting for a connection of the pool. */
  connectionTimeoutMillis: 15_000,
  /** Waiting for a row lock another transaction holds. */
  lock_timeout: 20_000,
  /** A transaction left open with no statement running: the server ends the session. */
  idle_in_transaction_session_timeout: 60_000,
};

/**
 * A PostgreSQL server (more than one worker may share it). `applicationName` names the connections in
 * `pg_stat_activity` (panel-fleet gives its worker id): which worker holds what is visible there.
 */
export function postgresDb(connectionString: string, options: { max?: number; applicationName?: string; waitLimits?: Partial<typeof PG_WAIT_LIMITS> } = {}): Db {
  const pool = new pg.Pool({ connectionString, max: options.max ?? 10, application_name: options.applicationName ?? "panel-fleet", ...PG_WAIT_LIMITS, ...options.waitLimits });
  // An idle client's error (the server restarted) must not crash the process; the next query reports it.
  pool.on("error", () => {});
  // Every client keeps an error listener of its own for its whole life: pg-pool's idle listener is
  // off while a client is checked out, and its query() listens once only, so a server restart that
  // sends a FATAL and then closes the socket emitted an unhandled 'error' that killed the worker
  // (test/reliability/fleet.test.ts). The query in flight rejects either way.
  pool.on("connect", (client) => client.on("error", () => {}));
  const wrap = (c: pg.Pool | pg.PoolClient): Queryable => ({
    async query<T>(text: string, params: readonly unknown[] = []) {
      const r = await c.query(text, params as unknown[]);
      return { rows: r.rows as T[], rowCount: r.rowCount ?? r.rows.length };
    },
  });
  const top = wrap(pool);
  return {
    kind: "postgres",
    query: top.query,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken = false;
      // pg-pool drops its idle error listener while a client is checked out: without this one, the
      // server restarting mid-transaction emits an unhandled 'error' and kills the worker. The query
      // in flight rejects anyway; the client is then discarded instead of returned to the pool.
      const onError = () => {
        broken = true;
      };
      client.on("error", onError);
      try {
        await client.query("BEGIN");
        const out = await fn(wrap(client));
        // A transaction a failed statement aborted answers COMMIT with ROLLBACK, not with an error:
        // had `fn` swallowed that failure, its caller would take nothing written for written.
        const commit = await client.query("COMMIT");
        if (commit.command === "ROLLBACK") throw new Error("the transaction was aborted by a failed statement and rolled back");
        return out;
      } catch (err) {
        try {
          await client.query("ROLLBACK");
        } catch {
          broken = true;
        }
        throw err;
      } finally {
        client.removeListener("error", onError);
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}

/**
 * PGlite: Postgres compiled to WASM in this process; `dataDir` on disk, or in memory when omitted.
 * `loadDataDir` starts it from a tarball of another PGlite's data directory (`dumpDataDir()`),
 * which skips initdb (~0.5 s instead of ~3 s).
 */
export async function pgliteDb(dataDir?: string, options: { loadDataDir?: Blob } = {}): Promise<Db> {
  const { PGlite } = await import("@electric-sql/pglite");
  const db: PGlite = await PGlite.create({ ...(dataDir ? { dataDir } : {}), ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}) });
  const wrap = (c: Pick<PGlite, "query">): Queryable => ({
    async query<T>(text: string, params: readonly unknown[] = []) {
      const r = await c.query<T>(text, params as unknown[]);
      return { rows: r.rows, rowCount: r.affectedRows || r.rows.length };
    },
  });
  const top = wrap(db);
  return {
    kind: "pglite",
    query: top.query,
    transaction: (fn) => db.transaction((tx) => fn(wrap(tx))),
    close: () => db.close(),
    dumpDataDir: () => db.dumpDataDir("none"),
  };
}

/** DATABASE_URL (postgres:// or postgresql://) selects the server; otherwise PGlite in `dataDir`. */
export async function openDb(options: { databaseUrl?: string; dataDir?: string; applicationName?: string }): Promise<Db> {
  if (options.databaseUrl) return postgresDb(options.databaseUrl, options.applicationName ? { applicationName: options.applicationName } : {});
  return pgliteDb(options.dataDir);
}
