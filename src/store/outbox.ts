import type Database from "better-sqlite3";
import type { CountersRepo, TxParticipant } from "./repositories.js";

/**
 * A row to add: its final bytes, or (for an event) the function that makes them from the event's
 * number, called inside the transaction that numbers it, so what is stored is what is published.
 * `encode` giving null drops the row without using a number (an event no encoder accepts).
 */
export type OutboxInsert =
  | { kind: string; body: Uint8Array; /** Events get the next number of the gapless event sequence (`OutboxRow.n`). */ numbered?: boolean }
  | { kind: string; encode: (n: number) => Uint8Array | null };

export interface OutboxRow {
  id: number;
  kind: string;
  /** The event number (1, 2, 3, ... without gaps), or null for rows that are not events. */
  n: number | null;
  body: Buffer;
  at: number;
}

/** Committed outbox rows kept in memory for the link (about 150 KB of acks and events at most). */
const RECENT_OUTBOX_MAX = 1000;

/**
 * What the agent has still to publish (acks, events), in commit order. The link publishes from an
 * in-memory copy of the rows committed by this process, without a SELECT right after each commit
 * (a read on the command path); it is authoritative for ids above `#cacheFloor`: every row above it
 * that exists is there. Older rows (an uplink outage, a restart) come from SQL.
 */
export class OutboxRepo implements TxParticipant {
  readonly #counters: CountersRepo;
  readonly #insert;
  readonly #peek;
  readonly #count;
  readonly #delete;
  readonly #db: Database.Database;
  /** Rows inserted by the open transaction (known to the cache once it commits). */
  #staged: OutboxRow[] = [];
  #recent: OutboxRow[] = [];
  #cacheFloor: number;

  constructor(db: Database.Database, counters: CountersRepo) {
    this.#db = db;
    this.#counters = counters;
    this.#insert = db.prepare<[number, string, number | null, Buffer, number]>("INSERT INTO outbox (id, kind, n, body, at) VALUES (?, ?, ?, ?, ?)");
    this.#peek = db.prepare<[number, number], OutboxRow>("SELECT id, kind, n, body, at FROM outbox WHERE id > ? ORDER BY id LIMIT ?");
    this.#count = db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM outbox");
    this.#delete = db.prepare<[number]>("DELETE FROM outbox WHERE id = ?");
    this.#cacheFloor = db.prepare<[], { id: number | null }>("SELECT MAX(id) AS id FROM outbox").get()?.id ?? 0;
  }

  /** Inside a transaction: inserts rows, numbering events with the counters (persisted by the transaction). */
  add(rows: readonly OutboxInsert[], at: number): void {
    for (const row of rows) {
      let n: number | null = null;
      let bytes: Uint8Array;
      if ("encode" in row) {
        const made = row.encode(this.#counters.eventSeq + 1);
        if (made === null) continue;
        n = ++this.#counters.eventSeq;
        bytes = made;
      } else {
        if (row.numbered) n = ++this.#counters.eventSeq;
        bytes = row.body;
      }
      // A copy: an encoder may hand out a view of a buffer it reuses.
      const body = Buffer.from(bytes);
      const id = ++this.#counters.outboxId;
      this.#insert.run(id, row.kind, n, body, at);
      this.#staged.push({ id, kind: row.kind, n, body, at });
    }
  }

  /** Rows in order, after `afterId`. */
  peek(limit: number, afterId = 0): OutboxRow[] {
    if (afterId < this.#cacheFloor) return this.#peek.all(afterId, limit);
    // Rows up to afterId were handed out already: the caller never asks below it again without
    // starting over from an id under the floor (a reconnect), which SQL answers.
    this.#forget(afterId);
    return this.#recent.length <= limit ? this.#recent.slice() : this.#recent.slice(0, limit);
  }

  count(): number {
    return this.#count.get()!.n;
  }

  /**
   * Deletes rows the broker acknowledged. Losing this write only means a re-publish after a crash
   * (the cloud answers a repeated ack or event by its seq or number), so it commits without an
   * fsync of its own (synchronous=NORMAL for this one commit): the next commit that must be durable
   * (synchronous=FULL again) syncs the WAL with these frames in it. That saved one fsync per
   * envelope, a third of an agent's CPU for a one-command envelope when many agents share a host.
   * A delete inside an open transaction joins it, durable as it is.
   */
  delete(ids: readonly number[]): void {
    if (ids.length === 0) return;
    let highest = 0;
    for (const id of ids) if (id > highest) highest = id;
    this.#forget(highest);
    const run = this.#db.transaction(() => {
      for (const id of ids) this.#delete.run(id);
    });
    if (this.#db.inTransaction) return run();
    // Not prepared statements: SQLite applies this pragma when it compiles it, not when it runs.
    this.#db.exec("PRAGMA synchronous = NORMAL");
    try {
      run();
    } finally {
      this.#db.exec("PRAGMA synchronous = FULL");
    }
  }

  begin(): void {}

  flush(): void {}

  committed(): void {
    if (this.#staged.length === 0) return;
    for (const row of this.#staged) this.#recent.push(row);
    this.#staged = [];
    // Bounded (an uplink outage keeps rows in the table, not in memory): older rows come from SQL.
    if (this.#recent.length > RECENT_OUTBOX_MAX) this.#forget(this.#recent[this.#recent.length - RECENT_OUTBOX_MAX - 1]!.id);
  }

  /**
   * The transaction failed: its rows were rolled back (their ids may be used again). The cache stops
   * answering for ids up to the highest of them; SQL does until the link has passed it.
   */
  rolledBack(): void {
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
}
