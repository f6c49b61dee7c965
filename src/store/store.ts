import Database from "better-sqlite3";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  applyCommand, isBlank, PanelTable, partitionsInUse, rolePartitionsFixed, RuleError, type ActionLogEntry, type ChangeSet, type Command, type CommandResult, type CredentialHasher,
  type DomainEvent, type ErrorCode, type MetaValue, type PanelConfig, type Slot,
} from "../domain/index.js";
import { pageWindow, type Page, type PageSize, DEFAULT_PAGE_SIZE } from "../domain/paging.js";
import { keyFingerprint, loadDeviceKey, DeviceKeyError } from "./device-key.js";
import { migrate } from "./schema.js";

export const DB_FILE = "panel-agent.db";
const EPOCH_STATE = "epoch";

export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreError";
  }
}

/** What is remembered of a command once its id has been seen: re-acked as is on redelivery. */
export type StoredOutcome =
  | { status: "applied"; result: CommandResult }
  | { status: "rejected"; error: { code: ErrorCode; message: string; detail?: Record<string, string | number | boolean> } };

/** A command to apply; `seq` is the cloud's per-panel sequence number (absent for local keypad commands). */
export interface CommandItem {
  command: Command;
  seq?: number;
}

/**
 * A cloud command refused before the rules (expired, unknown kind, schema, unseal): it still
 * consumes its seq, and its refusal is its stored result (protocol/README.md section 5).
 */
export interface RefusedItem {
  id: string;
  seq: number;
  refused: RuleError;
  /** Its action-log row, written only when the seq is consumed now (not on a redelivery). */
  log: ActionLogEntry;
}

export type ExecuteItem = CommandItem | RefusedItem;

export interface ExecuteOutcome {
  id: string;
  seq: number | undefined;
  /** duplicate: the id was applied before; `outcome` is the stored one and nothing changed now. */
  status: "applied" | "rejected" | "duplicate";
  outcome: StoredOutcome;
  events: DomainEvent[];
  /** What changed in the table (for the access index); empty for rejected and duplicate. */
  changes: ChangeSet;
}

export interface OutboxInsert {
  kind: string;
  body: Uint8Array;
  /** Events get the next number of the gapless event sequence (`OutboxRow.n`). */
  numbered?: boolean;
}

export interface OutboxRow {
  id: number;
  kind: string;
  /** The event number (1, 2, 3, ... without gaps), or null for rows that are not events. */
  n: number | null;
  body: Buffer;
  at: number;
}

export interface StoredLogEntry extends ActionLogEntry {
  id: number;
}

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

export interface StoreOptions {
  /** State directory: the database and the device key file live here. */
  dir: string;
  config: PanelConfig;
  makeHasher: (key: Buffer) => CredentialHasher;
}

const EMPTY_CHANGES: ChangeSet = { slots: [], meta: [] };
/**
 * Loaded slots share what most of them hold alike (no door locks, no tags, "always", the same few
 * partition sets) instead of 10k copies each: ~1 MB of a 10k-user table on a board with little RAM.
 * The shared values are frozen; the rules never change a slot in place (they copy it).
 */
function slotCompactor(): (slot: Slot) => Slot {
  const none = Object.freeze([]) as unknown as never[];
  const always = Object.freeze({ kind: "always" }) as Slot["schedule"];
  const partitionSets = new Map<string, number[]>();
  return (slot) => {
    if (slot.doorLocks.length === 0) slot.doorLocks = none;
    if (slot.tags.length === 0) slot.tags = none;
    if (slot.schedule.kind === "always") slot.schedule = always;
    const key = slot.partitions.join(",");
    const shared = partitionSets.get(key);
    if (shared) slot.partitions = shared;
    else if (partitionSets.size < 256) partitionSets.set(key, Object.freeze(slot.partitions) as number[]);
    return slot;
  };
}

/** Committed outbox rows kept in memory for the link (about 150 KB of acks and events at most). */
const RECENT_OUTBOX_MAX = 1000;

/**
 * The durable user table: SQLite in WAL mode with synchronous=FULL. One transaction holds a
 * batch's effects, dedup records, action-log rows, outbox rows and the new last sequence number;
 * the in-memory table follows the commit (and is reverted if the commit fails).
 */
export class Store {
  readonly table: PanelTable;
  readonly hash: CredentialHasher;
  readonly path: string;
  readonly #db: Database.Database;
  readonly #stmt;
  /** dev:inode of the database file when it was opened (a deleted or swapped file is unhealthy). */
  readonly #fileId: string | undefined;
  #epoch: string | undefined;
  #lastSeq: number;
  #tableVersion: number;
  #eventSeq: number;
  /** Outbox rows inserted by the open transaction (known to the cache once it commits). */
  #staged: OutboxRow[] = [];
  /**
   * Outbox rows committed by this process, in id order: the link publishes from here without a
   * SELECT right after each commit (a read on the command path). Authoritative for ids above
   * `#cacheFloor`: every row above it that exists is here.
   */
  #recent: OutboxRow[] = [];
  #cacheFloor: number;

  private constructor(db: Database.Database, path: string, table: PanelTable, hash: CredentialHasher) {
    this.#db = db;
    this.path = path;
    this.#fileId = fileIdentity(path);
    this.table = table;
    this.hash = hash;
    this.#stmt = {
      getState: db.prepare<[string], { value: string }>("SELECT value FROM agent_state WHERE key = ?"),
      setState: db.prepare<[string, string]>("INSERT INTO agent_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
      setCounters: db.prepare<[string, string, string]>(
        "INSERT INTO agent_state (key, value) VALUES ('last_seq', ?), ('table_version', ?), ('event_seq', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
      ),
      upsertSlot: db.prepare<[number, string]>("INSERT INTO slots (number, data) VALUES (?, ?) ON CONFLICT(number) DO UPDATE SET data = excluded.data"),
      deleteSlot: db.prepare<[number]>("DELETE FROM slots WHERE number = ?"),
      setMeta: db.prepare<[string, string]>("INSERT INTO panel_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
      deleteMeta: db.prepare<[string]>("DELETE FROM panel_meta WHERE key = ?"),
      insertLog: db.prepare<[number, string, string, number | null, string | null, string | null, string, string]>(
        "INSERT INTO action_log (at, actor, action, slot, before, after, command_id, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      ),
      getApplied: db.prepare<[number], { command_id: string; outcome: string }>("SELECT command_id, outcome FROM applied WHERE seq = ?"),
      appliedId: db.prepare<[number], { command_id: string }>("SELECT command_id FROM applied WHERE seq = ?"),
      insertApplied: db.prepare<[number, string, number, string]>("INSERT INTO applied (seq, command_id, at, outcome) VALUES (?, ?, ?, ?)"),
      insertOutbox: db.prepare<[string, number | null, Buffer, number]>("INSERT INTO outbox (kind, n, body, at) VALUES (?, ?, ?, ?)"),
      outboxPeek: db.prepare<[number, number], OutboxRow>("SELECT id, kind, n, body, at FROM outbox WHERE id > ? ORDER BY id LIMIT ?"),
      outboxCount: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM outbox"),
      outboxDelete: db.prepare<[number]>("DELETE FROM outbox WHERE id = ?"),
      logPage: db.prepare<[number, number], LogRow>("SELECT * FROM action_log ORDER BY id DESC LIMIT ? OFFSET ?"),
      logCount: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM action_log"),
    };
    this.#lastSeq = Number(this.state("last_seq") ?? 0);
    this.#tableVersion = Number(this.state("table_version") ?? 0);
    this.#eventSeq = Number(this.state("event_seq") ?? 0);
    this.#cacheFloor = db.prepare<[], { id: number | null }>("SELECT MAX(id) AS id FROM outbox").get()?.id ?? 0;
  }

  static open(options: StoreOptions): Store {
    mkdirSync(options.dir, { recursive: true, mode: 0o750 });
    const path = join(options.dir, DB_FILE);
    const existed = existsSync(path);
    const db = new Database(path);
    try {
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = FULL");
      db.pragma("foreign_keys = ON");
      const mode = String(db.pragma("journal_mode", { simple: true }));
      const sync = Number(db.pragma("synchronous", { simple: true }));
      // better-sqlite3 builds SQLite with WAL synchronous defaulting to NORMAL: insist on FULL (2).
      if (mode !== "wal" || sync !== 2) throw new StoreError(`SQLite durability check failed: journal_mode=${mode}, synchronous=${sync}; expected wal and 2 (FULL).`);
      migrate(db);

      const getState = (key: string) => (db.prepare("SELECT value FROM agent_state WHERE key = ?").get(key) as { value: string } | undefined)?.value;
      const fingerprint = getState("key_fingerprint");
      const { key } = loadDeviceKey(options.dir, existed && fingerprint !== undefined);
      if (fingerprint !== undefined && fingerprint !== keyFingerprint(key)) {
        throw new DeviceKeyError(`The device key in ${options.dir} does not match the one this database was written with; restore the original key file.`);
      }
      if (fingerprint === undefined) db.prepare("INSERT INTO agent_state (key, value) VALUES ('key_fingerprint', ?)").run(keyFingerprint(key));
      // The database's identity: made once with the table, published in the retained state, so a
      // cloud can tell a reset or replaced panel (a new epoch) from one that missed commands.
      if (getState(EPOCH_STATE) === undefined) db.prepare("INSERT INTO agent_state (key, value) VALUES (?, ?)").run(EPOCH_STATE, randomBytes(8).toString("hex"));

      // Row by row: a 10k-user table never sits in memory twice (rows and parsed slots) at start.
      const slots: Slot[] = [];
      const compact = slotCompactor();
      for (const r of db.prepare("SELECT data FROM slots").iterate() as IterableIterator<{ data: string }>) slots.push(compact(JSON.parse(r.data) as Slot));
      // The configured partitions may have grown or shrunk since the slots were written: a Master
      // holds every partition, always, in the stored slot as in the grid.
      const all = partitionsInUse(options.config);
      const upsert = db.prepare("UPDATE slots SET data = ? WHERE number = ?");
      for (let i = 0; i < slots.length; i++) {
        const fixed = rolePartitionsFixed(slots[i]!, all);
        if (fixed) {
          upsert.run(JSON.stringify(fixed), fixed.number);
          slots[i] = fixed;
        }
      }
      const stored = getState("config");
      if (stored !== undefined && slots.length > 0) {
        const prev = JSON.parse(stored) as PanelConfig;
        if (prev.type !== options.config.type || prev.codeLength !== options.config.codeLength || prev.panelId !== options.config.panelId) {
          throw new StoreError(
            `The configured panel (id ${options.config.panelId}, type ${options.config.type}, ${options.config.codeLength}-digit codes) does not match the stored user table (id ${prev.panelId}, type ${prev.type}, ${prev.codeLength}-digit codes).`,
          );
        }
      }
      db.prepare("INSERT INTO agent_state (key, value) VALUES ('config', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(JSON.stringify(options.config));
      const meta = (db.prepare("SELECT key, value FROM panel_meta").all() as { key: string; value: string }[]).map((r) => [r.key, JSON.parse(r.value) as MetaValue] as [string, MetaValue]);
      const table = new PanelTable(options.config, slots, meta);
      // Loading read every slot page into SQLite's cache; give that memory back (small boards).
      db.pragma("shrink_memory");
      return new Store(db, path, table, options.makeHasher(key));
    } catch (err) {
      db.close();
      throw err;
    }
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** 16 hex digits made when this database was created; a new one means the table was lost. */
  get epoch(): string {
    return (this.#epoch ??= this.state(EPOCH_STATE)!);
  }

  get tableVersion(): number {
    return this.#tableVersion;
  }

  /** Agent state outside the user table (lockout counters, dealer window, ...), as JSON text. */
  state(key: string): string | undefined {
    return this.#stmt.getState.get(key)?.value;
  }

  /** Writes agent state; inside `execute`'s hooks it joins that transaction, otherwise it commits alone. */
  setState(key: string, value: string): void {
    this.#stmt.setState.run(key, value);
  }

  /** The id of the command that consumed `seq`, if its record is still kept (redelivery check). */
  appliedId(seq: number): string | undefined {
    return this.#stmt.appliedId.get(seq)?.command_id;
  }

  /** The command that consumed `seq` and its stored outcome. */
  applied(seq: number): { id: string; outcome: StoredOutcome } | undefined {
    const row = this.#stmt.getApplied.get(seq);
    return row ? { id: row.command_id, outcome: JSON.parse(row.outcome) as StoredOutcome } : undefined;
  }

  /**
   * Applies commands in order in ONE transaction: each command sees the ones before it; a rule
   * rejection is an outcome (recorded, logged), not a failure of the batch. `outbox` runs inside
   * the transaction, after the commands, to add rows (acks, events) that must commit with them.
   * `steady` is the steady clock (dealer windows); `extraLog` holds action-log rows of rejections
   * decided before the rules (expired, replayed, gap), committed in the same transaction.
   * If the transaction fails, nothing is written and the in-memory table is restored.
   */
  execute(items: readonly ExecuteItem[], now: number, outbox?: (outcomes: ExecuteOutcome[]) => OutboxInsert[], steady?: number, extraLog: readonly ActionLogEntry[] = []): ExecuteOutcome[] {
    const committed: ChangeSet[] = [];
    const lastSeqBefore = this.#lastSeq;
    const versionBefore = this.#tableVersion;
    const eventSeqBefore = this.#eventSeq;
    const run = this.#db.transaction(() => {
      const outcomes: ExecuteOutcome[] = [];
      for (const entry of extraLog) this.#insertLog(entry);
      let changed = false;
      // A slot changed by several commands of a batch is written once, in its final state.
      const dirtySlots = new Map<number, Slot>();
      const dirtyMeta = new Map<string, MetaValue | undefined>();
      for (const item of items) {
        const { seq } = item;
        const id = "command" in item ? item.command.id : item.id;
        // The dedup record is keyed by seq (appends only: no random B-tree pages per commit); a seq
        // at or below lastSeq is a redelivery only when the stored command for it has the same id.
        if (seq !== undefined && seq <= this.#lastSeq) {
          const prior = this.applied(seq);
          const duplicate = prior !== undefined && prior.id === id;
          const outcome: StoredOutcome = duplicate ? prior.outcome : { status: "rejected", error: new RuleError("replayed", { seq }).toJSON() };
          outcomes.push({ id, seq, status: duplicate ? "duplicate" : "rejected", outcome, events: [], changes: EMPTY_CHANGES });
          continue;
        }
        let outcome: StoredOutcome;
        if (!("command" in item)) {
          outcome = { status: "rejected", error: item.refused.toJSON() };
          outcomes.push({ id, seq, status: "rejected", outcome, events: [], changes: EMPTY_CHANGES });
          this.#insertLog(item.log);
        } else {
          const { command } = item;
          const result = applyCommand(this.table, command, { now, steady, hash: this.hash });
          if (result.ok) {
            this.table.commit(result.changes);
            committed.push(result.changes);
            for (const c of result.changes.slots) dirtySlots.set(c.after.number, c.after);
            for (const m of result.changes.meta) dirtyMeta.set(m.key, m.after);
            if (result.changes.slots.length > 0 || result.changes.meta.length > 0) changed = true;
            outcome = { status: "applied", result: command.kind === "read_action_log" ? { page: this.actionLog(command.page, command.perPage) as unknown as Page<Record<string, unknown>> } : result.result };
            outcomes.push({ id, seq, status: "applied", outcome, events: result.events, changes: result.changes });
          } else {
            outcome = { status: "rejected", error: result.error.toJSON() };
            outcomes.push({ id, seq, status: "rejected", outcome, events: [], changes: EMPTY_CHANGES });
          }
          for (const entry of result.log) this.#insertLog(entry);
        }
        if (seq !== undefined) {
          this.#stmt.insertApplied.run(seq, id, now, JSON.stringify(outcome));
          this.#lastSeq = seq;
        }
      }
      this.#writeChanges(dirtySlots, dirtyMeta);
      if (changed) this.#tableVersion++;
      if (outbox) this.#insertOutbox(outbox(outcomes), now);
      if (changed || this.#lastSeq !== lastSeqBefore || this.#eventSeq !== eventSeqBefore) {
        this.#stmt.setCounters.run(String(this.#lastSeq), String(this.#tableVersion), String(this.#eventSeq));
      }
      return outcomes;
    });
    try {
      const outcomes = run();
      this.#committedOutbox();
      return outcomes;
    } catch (err) {
      this.#dropStaged();
      for (let i = committed.length - 1; i >= 0; i--) this.table.revert(committed[i]!);
      this.#lastSeq = lastSeqBefore;
      this.#tableVersion = versionBefore;
      this.#eventSeq = eventSeqBefore;
      throw err;
    }
  }

  /**
   * Records a rejection that never reached the rules (bad signature, expired, gap, ...) in the
   * action log. It is not a dedup record: a forged message must not block the real command's id.
   */
  logRejection(entry: Omit<ActionLogEntry, "before" | "after">, outboxRows: OutboxInsert[] = []): void {
    this.#guarded(() => {
      this.#insertLog({ ...entry, before: null, after: null });
      this.#insertOutbox(outboxRows, entry.at);
    });
  }

  /** Adds outbox rows, and agent-state values that go with them, in one transaction of their own. */
  enqueue(rows: OutboxInsert[], now: number, state: Readonly<Record<string, string>> = {}): void {
    const keys = Object.keys(state);
    if (rows.length === 0 && keys.length === 0) return;
    this.#guarded(() => {
      for (const k of keys) this.#stmt.setState.run(k, state[k]!);
      this.#insertOutbox(rows, now);
    });
  }

  /** Runs `fn` in a transaction (persisting the event counter it moved); on failure the in-memory counter is restored too. */
  #guarded(fn: () => void): void {
    const before = this.#eventSeq;
    try {
      this.#db.transaction(() => {
        fn();
        if (this.#eventSeq !== before) this.#stmt.setState.run("event_seq", String(this.#eventSeq));
      })();
      this.#committedOutbox();
    } catch (err) {
      this.#dropStaged();
      this.#eventSeq = before;
      throw err;
    }
  }

  #committedOutbox(): void {
    // Inside an outer transaction (a nested one is a savepoint) nothing is committed yet.
    if (this.#staged.length === 0 || this.#db.inTransaction) return;
    for (const row of this.#staged) this.#recent.push(row);
    this.#staged = [];
    // Bounded (an uplink outage keeps rows in the table, not in memory): older rows come from SQL.
    if (this.#recent.length > RECENT_OUTBOX_MAX) this.#forget(this.#recent[this.#recent.length - RECENT_OUTBOX_MAX - 1]!.id);
  }

  /**
   * A transaction failed: its rows were rolled back (their ids may be used again). The cache stops
   * answering for ids up to the highest of them; SQL does until the link has passed it.
   */
  #dropStaged(): void {
    for (const row of this.#staged) if (row.id > this.#cacheFloor) this.#cacheFloor = row.id;
    this.#staged = [];
  }

  /** Drops cached rows up to `id`; from now on the cache answers only for ids above it. */
  #forget(id: number): void {
    let i = 0;
    while (i < this.#recent.length && this.#recent[i]!.id <= id) i++;
    if (i > 0) this.#recent = this.#recent.slice(i);
    if (id > this.#cacheFloor) this.#cacheFloor = id;
  }

  /** Inside a transaction: inserts rows, numbering events (the caller persists the counter). */
  #insertOutbox(rows: readonly OutboxInsert[], at: number): void {
    for (const row of rows) {
      const n = row.numbered ? ++this.#eventSeq : null;
      const body = Buffer.from(row.body);
      const { lastInsertRowid } = this.#stmt.insertOutbox.run(row.kind, n, body, at);
      this.#staged.push({ id: Number(lastInsertRowid), kind: row.kind, n, body, at });
    }
  }

  /** Outbox rows in order, after `afterId`. */
  outboxPeek(limit: number, afterId = 0): OutboxRow[] {
    if (afterId < this.#cacheFloor) return this.#stmt.outboxPeek.all(afterId, limit);
    // Rows up to afterId were handed out already: the caller never asks below it again without
    // starting over from an id under the floor (a reconnect), which SQL answers.
    this.#forget(afterId);
    return this.#recent.length <= limit ? this.#recent.slice() : this.#recent.slice(0, limit);
  }

  outboxCount(): number {
    return this.#stmt.outboxCount.get()!.n;
  }

  /** Deletes rows the broker acknowledged. Losing this write only means a re-publish after a crash. */
  outboxDelete(ids: readonly number[]): void {
    if (ids.length === 0) return;
    let highest = 0;
    for (const id of ids) if (id > highest) highest = id;
    this.#forget(highest);
    this.#db.transaction(() => {
      for (const id of ids) this.#stmt.outboxDelete.run(id);
    })();
  }

  /** The action log, newest first, in pages of the Users grid's sizes. */
  actionLog(page = 1, perPage: PageSize = DEFAULT_PAGE_SIZE): Page<StoredLogEntry> {
    const w = pageWindow(this.#stmt.logCount.get()!.n, page, perPage);
    return w.withRows(this.#stmt.logPage.all(w.perPage, w.offset).map(fromLogRow));
  }

  /** Prunes the action log and old dedup records by the retention policy. Returns rows removed. */
  prune(policy: RetentionPolicy, now: number): { actionLog: number; applied: number } {
    return this.#db.transaction(() => {
      let actionLog = this.#db.prepare("DELETE FROM action_log WHERE at < ?").run(now - policy.actionLogMaxAgeMs).changes;
      actionLog += this.#db.prepare("DELETE FROM action_log WHERE id <= (SELECT id FROM action_log ORDER BY id DESC LIMIT 1 OFFSET ?)").run(policy.actionLogMaxRows).changes;
      const applied = this.#db.prepare("DELETE FROM applied WHERE at < ? AND seq < ?").run(now - policy.appliedMaxAgeMs, this.#lastSeq).changes;
      return { actionLog, applied };
    })();
  }

  /**
   * Why the database cannot be trusted to take the next commit, or undefined when it answers:
   * it is open, a read runs, and the file at its path is still the one this process opened.
   */
  healthProblem(): string | undefined {
    if (!this.#db.open) return "database closed";
    try {
      this.#stmt.getState.get(EPOCH_STATE);
    } catch (err) {
      return `database does not answer (${(err as Error).message})`;
    }
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

  #writeChanges(slots: ReadonlyMap<number, Slot>, meta: ReadonlyMap<string, MetaValue | undefined>): void {
    for (const [number, slot] of slots) {
      if (isBlank(slot)) this.#stmt.deleteSlot.run(number);
      else this.#stmt.upsertSlot.run(number, JSON.stringify(slot));
    }
    for (const [key, value] of meta) {
      if (value === undefined) this.#stmt.deleteMeta.run(key);
      else this.#stmt.setMeta.run(key, JSON.stringify(value));
    }
  }

  #insertLog(e: ActionLogEntry): void {
    this.#stmt.insertLog.run(e.at, JSON.stringify(e.actor), e.action, e.slot, e.before ? JSON.stringify(e.before) : null, e.after ? JSON.stringify(e.after) : null, e.commandId, e.result);
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

function fileIdentity(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}
