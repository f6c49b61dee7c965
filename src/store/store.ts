import type Database from "better-sqlite3";
import { fileIdentity, openDatabase } from "./database.js";
import { OutboxRepo } from "./outbox.js";
import { ActionLogRepo, AgentStateRepo, AppliedRepo, CountersRepo, SlotRepo, type TxParticipant } from "./repositories.js";

export { DB_FILE, StoreError } from "./database.js";
export type { OutboxInsert, OutboxRow } from "./outbox.js";
export type { StoredLogEntry, StoredOutcome } from "./repositories.js";

export interface RetentionPolicy {
  /** Action-log rows older than this are pruned. */
  actionLogMaxAgeMs: number;
  /** At most this many action-log rows are kept (newest). */
  actionLogMaxRows: number;
  /** Applied-command records older than this are pruned (must exceed any command's lifetime). */
  appliedMaxAgeMs: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = {
  actionLogMaxAgeMs: 365 * 24 * 3600_000,
  actionLogMaxRows: 100_000,
  appliedMaxAgeMs: 30 * 24 * 3600_000,
};

/**
 * The durable state of the panel: SQLite in WAL mode with synchronous=FULL, as repositories (one
 * per table) and `transaction(fn)`. It decides nothing: the core runs the rules, sequencing and
 * dedup, and writes through the repositories inside one transaction per unit of work.
 */
export class Store {
  readonly path: string;
  /** The database file was there before this open. */
  readonly existed: boolean;
  readonly state: AgentStateRepo;
  readonly counters: CountersRepo;
  readonly slots: SlotRepo;
  readonly applied: AppliedRepo;
  readonly actionLog: ActionLogRepo;
  readonly outbox: OutboxRepo;
  readonly #db: Database.Database;
  readonly #participants: TxParticipant[];
  /** dev:inode of the database file when it was opened (a deleted or swapped file is unhealthy). */
  readonly #fileId: string | undefined;

  private constructor(db: Database.Database, path: string, existed: boolean) {
    this.#db = db;
    this.path = path;
    this.existed = existed;
    this.#fileId = fileIdentity(path);
    this.state = new AgentStateRepo(db);
    this.applied = new AppliedRepo(db);
    this.counters = new CountersRepo(db, this.state, this.applied);
    this.slots = new SlotRepo(db);
    this.actionLog = new ActionLogRepo(db, this.counters);
    this.outbox = new OutboxRepo(db, this.counters);
    this.#participants = [this.counters, this.outbox];
  }

  static open(dir: string): Store {
    const { db, path, existed } = openDatabase(dir);
    return new Store(db, path, existed);
  }

  /**
   * Runs `fn` in one transaction: everything it writes through the repositories commits together
   * or not at all, and the counters and outbox cache follow (restored on failure). Called inside
   * another transaction, it joins it.
   */
  transaction<T>(fn: () => T): T {
    if (this.#db.inTransaction) return fn();
    for (const p of this.#participants) p.begin();
    try {
      const out = this.#db.transaction(() => {
        const r = fn();
        for (const p of this.#participants) p.flush();
        return r;
      })();
      for (const p of this.#participants) p.committed();
      return out;
    } catch (err) {
      for (const p of this.#participants) p.rolledBack();
      throw err;
    }
  }

  /** Gives the page cache filled by loading the table back (small boards). */
  shrinkMemory(): void {
    this.#db.pragma("shrink_memory");
  }

  /**
   * Why the database cannot be trusted to take the next commit, or undefined when it answers:
   * it is open, a read runs, and the file at its path is still the one this process opened.
   */
  healthProblem(): string | undefined {
    if (!this.#db.open) return "database closed";
    try {
      this.state.get("epoch");
    } catch (err) {
      return `database does not answer (${(err as Error).message})`;
    }
    // Every durable commit relies on it; only the outbox's deletes drop it, for their own commit.
    const sync = Number(this.#db.pragma("synchronous", { simple: true }));
    if (sync !== 2) return `database synchronous is ${sync}, not 2 (FULL)`;
    const now = fileIdentity(this.path);
    if (now !== this.#fileId) return now === undefined ? `database file ${this.path} is gone` : `database file ${this.path} was replaced`;
    return undefined;
  }

  /** Checkpoints the WAL and closes; the store is unusable afterwards. */
  close(): void {
    if (!this.#db.open) return;
    this.#db.pragma("wal_checkpoint(TRUNCATE)");
    this.#db.close();
  }
}
