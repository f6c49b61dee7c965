import type Database from "better-sqlite3";
import { AgentFailure } from "../failures.js";

/**
 * Every page a command's transaction touches is written to the WAL and fsynced, so the tables a
 * command writes carry no secondary indexes (retention pruning scans them once a day instead) and
 * every one of them appends at the end of its B-tree (the dedup table is keyed by seq).
 *
 * Schema migrations, applied in order; PRAGMA user_version holds how many ran. A migration is
 * never edited once released: add a new one.
 */
const MIGRATIONS: readonly (string | ((db: Database.Database) => void))[] = [
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
  // Dedup records keyed by the cloud's seq: a commit appends to one B-tree edge instead of writing
  // a random page per command id (measured: 500-command batch commits 8 ms -> 3 ms). Local keypad
  // commands (no seq) need no record: their ids are made here and never redelivered.
  `
  CREATE TABLE applied_by_seq (
    seq INTEGER PRIMARY KEY,
    command_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    outcome TEXT NOT NULL
  ) STRICT;
  INSERT OR IGNORE INTO applied_by_seq (seq, command_id, at, outcome) SELECT seq, command_id, at, outcome FROM applied WHERE seq IS NOT NULL ORDER BY seq;
  DROP TABLE applied;
  ALTER TABLE applied_by_seq RENAME TO applied;
  `,
  // No AUTOINCREMENT: it rewrote the sqlite_sequence page on every commit (1 of 6 pages, ~4 KB of
  // the ~32 KB a single command wrote to the WAL). The next ids live in agent_state beside the
  // other counters, which every commit writes anyway; they start past every id ever used.
  `
  CREATE TABLE action_log_v3 (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    slot INTEGER,
    before TEXT,
    after TEXT,
    command_id TEXT NOT NULL,
    result TEXT NOT NULL
  ) STRICT;
  INSERT INTO action_log_v3 SELECT id, at, actor, action, slot, before, after, command_id, result FROM action_log ORDER BY id;
  INSERT OR REPLACE INTO agent_state (key, value)
    VALUES ('log_id_last', CAST(MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'action_log'), 0), COALESCE((SELECT MAX(id) FROM action_log), 0)) AS TEXT));
  DROP TABLE action_log;
  ALTER TABLE action_log_v3 RENAME TO action_log;
  CREATE TABLE outbox_v3 (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    -- events are numbered 1, 2, 3, ... without gaps (acks are not), so a consumer sees a loss
    n INTEGER,
    body BLOB NOT NULL,
    at INTEGER NOT NULL
  ) STRICT;
  INSERT INTO outbox_v3 SELECT id, kind, n, body, at FROM outbox ORDER BY id;
  INSERT OR REPLACE INTO agent_state (key, value)
    VALUES ('outbox_id_last', CAST(MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0), COALESCE((SELECT MAX(id) FROM outbox), 0)) AS TEXT));
  DROP TABLE outbox;
  ALTER TABLE outbox_v3 RENAME TO outbox;
  `,
  // The counters ride in the dedup record a cloud command's transaction writes anyway (its last
  // row), instead of an agent_state row on a page of its own: one page fewer per command (of 5:
  // agent_state, slots, action_log, applied, outbox). agent_state keeps them for transactions that
  // record no cloud command; on open the larger of each is taken (every counter only grows).
  (db) => {
    // (A table rebuilt by hand in an older shape may already have it.)
    const columns = db.prepare("SELECT name FROM pragma_table_info('applied')").all() as { name: string }[];
    if (!columns.some((c) => c.name === "counters")) db.exec("ALTER TABLE applied ADD COLUMN counters TEXT");
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export class SchemaError extends AgentFailure {
  constructor(message: string) {
    super("store_schema_newer", message);
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
      const m = MIGRATIONS[v]!;
      if (typeof m === "string") db.exec(m);
      else m(db);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
