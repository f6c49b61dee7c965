import Database from "better-sqlite3";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { AgentFailure } from "../failures.js";
import { migrate } from "./schema.js";

export const DB_FILE = "panel-agent.db";

/** The durable state cannot be opened as this agent needs it (durability, schema, another panel's table). */
export class StoreError extends AgentFailure {
  constructor(code: "store_durability" | "store_schema_newer" | "store_config_mismatch", message: string) {
    super(code, message);
    this.name = "StoreError";
  }
}

export interface OpenedDatabase {
  db: Database.Database;
  path: string;
  /** The file was there before this open (a first start creates it). */
  existed: boolean;
}

/**
 * Opens (or creates) the state directory's database in WAL mode with synchronous=FULL and brings
 * its schema up to date. Refuses a database that cannot give that durability.
 */
export function openDatabase(dir: string): OpenedDatabase {
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  const path = join(dir, DB_FILE);
  const existed = existsSync(path);
  const db = new Database(path);
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    const mode = String(db.pragma("journal_mode", { simple: true }));
    const sync = Number(db.pragma("synchronous", { simple: true }));
    // better-sqlite3 builds SQLite with WAL synchronous defaulting to NORMAL: insist on FULL (2).
    if (mode !== "wal" || sync !== 2) throw new StoreError("store_durability", `SQLite durability check failed: journal_mode=${mode}, synchronous=${sync}; expected wal and 2 (FULL).`);
    migrate(db);
    return { db, path, existed };
  } catch (err) {
    db.close();
    throw err;
  }
}

/** dev:inode of a file, or undefined when it is gone (a deleted or swapped database is unhealthy). */
export function fileIdentity(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}
