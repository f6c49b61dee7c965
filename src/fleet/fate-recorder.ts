import type { Logger } from "pino";
import type { Outcome } from "../cloud/index.js";
import type { Fate, Journal, JournalCommand } from "./journal.js";

/** How often a batch of fates is tried before it is given up (backoff 0.2 s .. 5 s: about 90 s in all). */
const OUTCOME_ATTEMPTS = 22;
/** How long fates are gathered before they are recorded together (more gather while one batch is written). */
const FATE_COALESCE_MS = 5;
/** The most fates in one transaction. */
const MAX_FATES = 5000;
/** How soon a `last_ack_at` skipped because an API call held the panel's row is tried again. */
const BUSY_RETRY_MS = 50;
/** How often a panel's `last_ack_at` is tried while its row stays busy (50 ms apart: a minute). */
const MARK_ACK_ATTEMPTS = 1200;
/**
 * A panel's `last_ack_at` is set at most this often (ms): a panel acking a batch every few ms
 * does not rewrite its row for each (the API shows the time to the second).
 */
const MARK_ACK_EVERY_MS = 1000;

/** A fate waiting to be recorded, with its attempts so far. */
interface QueuedFate {
  c: JournalCommand;
  o: Exclude<Outcome, { status: "pending" }>;
  fate: Fate;
  attempt: number;
  done: () => void;
}

/**
 * Records the fates of acked commands for the dispatcher, many to a transaction: a fate handed
 * over is buffered for a moment (more gather while one batch is written) and `record` resolves
 * once its batch committed. An ack arrives once: a fate not recorded (the database restarting, a
 * deadlock with a snapshot's supersede) would leave the command pending for good, since the worker
 * never hands it over again. Recording is idempotent (only a pending command changes), so a batch
 * that failed is retried with backoff; given up after OUTCOME_ATTEMPTS, or at once when stopped.
 */
export class FateRecorder {
  #fates: QueuedFate[] = [];
  #flush: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Panels whose acks were recorded but not yet their `last_ack_at` (their row was busy), with the tries so far. */
  readonly #unmarkedAcks = new Map<string, number>();
  #marking = false;
  /** Per panel: when (this process's clock) its `last_ack_at` was last set. */
  readonly #markedAt = new Map<string, number>();
  /** Panels acked again within MARK_ACK_EVERY_MS of their last mark: marked once that time has passed (a trailing mark). */
  readonly #trailing = new Set<string>();
  #trailTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly journal: Journal,
    private readonly log: Logger,
    private readonly stopped: () => boolean,
  ) {}

  /** Resolves when the fate is recorded (or given up). */
  record(c: JournalCommand, o: Exclude<Outcome, { status: "pending" }>, fate: Fate): Promise<void> {
    return new Promise<void>((done) => {
      this.#fates.push({ c, o, fate, attempt: 1, done });
      this.#schedule(FATE_COALESCE_MS);
    });
  }

  #schedule(ms: number): void {
    if (this.#flush || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flush = this.#flushFates().finally(() => {
        this.#flush = undefined;
        if (this.#fates.length > 0) this.#schedule(0);
      });
    }, ms);
  }

  /** The fates buffered meanwhile, in ONE transaction (journal.recordOutcomes). */
  async #flushFates(): Promise<void> {
    const batch = this.#fates.splice(0, MAX_FATES);
    if (batch.length === 0) return;
    try {
      const acked = new Set<string>();
      const marked = new Set<string>();
      const now = performance.now();
      // `last_ack_at` in the fates' transaction, for the panels not marked within MARK_ACK_EVERY_MS.
      const due = (id: string) => !this.#unmarkedAcks.has(id) && now - (this.#markedAt.get(id) ?? -Infinity) >= MARK_ACK_EVERY_MS;
      const changed = await this.journal.recordOutcomes(batch.map((f) => ({ panelId: f.c.panelId, seq: f.c.seq, fate: f.fate })), acked, due, marked);
      for (const id of marked) this.#markedAt.set(id, now);
      // Busy rows (an API call holds them): marked a moment later, outside the fates' transaction.
      for (const id of acked) {
        if (marked.has(id)) continue;
        if (due(id)) this.#unmarkedAcks.set(id, 0);
        else if (!this.#unmarkedAcks.has(id)) this.#trail(id);
      }
      void this.#markAcked();
      batch.forEach((f, i) => {
        const { c, o } = f;
        this.log.info({ panelId: c.panelId, seq: c.seq, id: c.id, kind: c.kind, status: o.status, ...(o.status === "rejected" ? { code: o.code, local: o.local === true } : {}), recorded: changed[i], attempt: f.attempt }, "command outcome");
        f.done();
      });
    } catch (err) {
      const attempt = batch[0]!.attempt;
      const giveUp = this.stopped() || attempt >= OUTCOME_ATTEMPTS;
      this.log.error({ fates: batch.length, panelId: batch[0]!.c.panelId, seq: batch[0]!.c.seq, attempt, err: (err as Error).message }, giveUp ? "outcome not recorded" : "outcome not recorded yet; retrying");
      if (giveUp) {
        for (const f of batch) f.done();
        return;
      }
      setTimeout(() => {
        for (const f of batch) f.attempt = attempt + 1;
        this.#fates.push(...batch);
        this.#schedule(0);
      }, Math.min(5_000, 100 * 2 ** attempt));
    }
  }

  /** A panel acked within MARK_ACK_EVERY_MS of its last mark: its `last_ack_at` is set once that time has passed. */
  #trail(panelId: string): void {
    this.#trailing.add(panelId);
    if (this.#trailTimer || this.stopped()) return;
    this.#trailTimer = setTimeout(() => {
      this.#trailTimer = undefined;
      for (const id of this.#trailing) if (!this.#unmarkedAcks.has(id)) this.#unmarkedAcks.set(id, 0);
      this.#trailing.clear();
      void this.#markAcked();
    }, MARK_ACK_EVERY_MS);
    this.#trailTimer.unref();
  }

  /**
   * `last_ack_at` of the panels whose acks were recorded, after the fates' transaction, skipping the
   * rows an API call holds (those are tried again a moment later, up to MARK_ACK_ATTEMPTS times).
   */
  async #markAcked(): Promise<void> {
    if (this.#marking || this.#unmarkedAcks.size === 0) return;
    this.#marking = true;
    const ids = [...this.#unmarkedAcks.keys()];
    try {
      const done = await this.journal.markAcked(ids);
      const now = performance.now();
      for (const id of done) this.#markedAt.set(id, now);
      for (const id of ids) {
        const tries = this.#unmarkedAcks.get(id);
        if (done.has(id) || tries === undefined || tries + 1 >= MARK_ACK_ATTEMPTS) this.#unmarkedAcks.delete(id);
        else this.#unmarkedAcks.set(id, tries + 1);
      }
    } catch (err) {
      this.log.warn({ panels: ids.length, err: (err as Error).message }, "last ack times not recorded yet");
    } finally {
      this.#marking = false;
    }
    if (this.#unmarkedAcks.size > 0 && !this.stopped()) setTimeout(() => void this.#markAcked(), BUSY_RETRY_MS).unref();
  }
}
