import type Database from "better-sqlite3";

/**
 * Every page a command's transaction touches is written to the WAL and fsynced, so the tables a
 * command writes carry no secondary indexes (retention pruning scans them once a day instead) and
 * the dedup table is keyed by the command id itself (WITHOUT ROWID).
 *
 * Schema migrations, applied in order; PRAGMA user_version holds how many ran. A migration is
 * never edited once released: add a new one.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE agent_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
  CREATE TABLE panel_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
  CREATE TABLE slots (number INTEGER PRIMARY KEY, data TEXT NOT NULL) STRICT;
  CREATE TABLE action_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    slot INTEGER,
    before TEXT,
    after TEXT,
    command_id TEXT NOT NULL,
    result TEXT NOT NULL
  ) STRICT;
  CREATE TABLE applied (
    command_id TEXT PRIMARY KEY,
    seq INTEGER,
    at INTEGER NOT NULL,
    outcome TEXT NOT NULL
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    -- events are numbered 1, 2, 3, ... without gaps (acks are not), so a consumer sees a loss
    n INTEGER,
    body BLOB NOT NULL,
    at INTEGER NOT NULL
  ) STRICT;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export class SchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SchemaError";
  }
}

export function migrate(db: Database.Database): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new SchemaError(`The database schema is version ${current}, newer than this agent (${SCHEMA_VERSION}); upgrade the agent.`);
  }
  for (let v = current; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
