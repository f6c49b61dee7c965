import type { Logger } from "pino";
import { outcomeSentence, type CloudClient, type CommandInput, type Outcome, type ResyncRequest } from "../cloud/index.js";
import { commandInput } from "./command-input.js";
import type { State } from "../../protocol/index.js";
import { desiredDigests } from "./digest.js";
import { FateRecorder } from "./fate-recorder.js";
import { writeSnapshots } from "./snapshot.js";
import type { Fate, Journal, JournalCommand } from "./journal.js";
import type { PanelRow } from "./panel-row.js";
import type { FleetStore } from "./store.js";

export interface DispatcherOptions {
  store: FleetStore;
  /** A connected cloud client whose `seqStore` is this dispatcher's `seqStore` (see `journalSeqStore`). */
  client: CloudClient;
  logger: Logger;
  /** This worker's name in the publisher lease. */
  workerId: string;
  /**
   * How long a lease lasts without renewal (default 10 s); renewed once a third of it has passed.
   * It is how long a killed worker's panels wait for another worker, and how long a stalled
   * worker may pause before another takes its panels (it then stops publishing to them).
   */
  leaseMs?: number;
  /** How often the journal is polled for pending commands (default 250 ms); `kick()` runs a round at once. */
  pollMs?: number;
  /** Commands handed to the client per panel per round (default 1000). */
  window?: number;
  /** How long to wait for a panel's retained state before skipping it this round (default 2 s). */
  stateTimeoutMs?: number;
}

/**
 * How long a command handed to the cloud client stays valid (its `exp`). A fleet command is desired
 * state, not a moment's action, so it may wait days for an offline panel. Long also for a second
 * reason: the client refuses an expired command LOCALLY, using no seq, which would shift every later
 * command off its journal seq.
 */
/** How often a panel's reported state is tried, a second apart, before it waits for the next report. */
const STATE_ATTEMPTS = 60;
/** How long reported states are gathered before they are recorded together. */
const STATE_COALESCE_MS = 10;
/** How long reconcile triggers are gathered before their snapshots are written together (more gather while one batch is written). */
const RECONCILE_COALESCE_MS = 10;
/** How soon what was skipped because an API call held the panel's row is tried again (doubling while it stays busy). */
const BUSY_RETRY_MS = 50;
/** The longest wait before a busy panel's state is tried again. */
const BUSY_RETRY_MAX_MS = 1000;

export { journalSeqStore } from "./journal-seq-store.js";

/** The publisher lease when none is given (FLEET_LEASE_SECONDS's default too). */
export const DEFAULT_LEASE_MS = 10_000;

export const COMMAND_LIFETIME_MS = 7 * 24 * 3600_000;



/**
 * Publishes each panel's pending commands in seq order through the cloud client and records every
 * fate by (panel, seq), idempotently.
 *
 * One publisher per panel at a time: a LEASE on the panel's row (`lease_owner`, `lease_until`,
 * taken with one conditional UPDATE on the database's clock), not a session advisory lock. A lease
 * works the same on PGlite and on the server through a pool (an advisory lock belongs to one
 * connection, which a pool does not keep), ends by itself when a worker dies, and is visible in
 * the table. A worker keeps the lease of every panel it has published to for as long as it runs
 * (renewed once a third of its length has passed), because its cloud client remembers per panel
 * the last seq it assigned; a worker that finds its lease taken (it stalled longer than the lease)
 * stops publishing to that panel for good. Two workers could still overlap for the length of a
 * stall; the agent refuses a reused seq (`replayed`) rather than applying anything twice.
 *
 * Many panels per statement (journal.ts): a round takes the leases it needs, reads every panel's
 * pending window and marks them sent with one statement each; fates are buffered for a moment and
 * recorded many to a transaction; reported states are coalesced per panel and recorded many to a
 * statement, and a desired digest is computed only for a panel that has consumed the whole journal.
 */
export class Dispatcher {
  readonly #o: Required<Omit<DispatcherOptions, "store" | "client" | "logger">>;
  readonly #store: FleetStore;
  readonly #journal: Journal;
  readonly #fates: FateRecorder;
  readonly #client: CloudClient;
  readonly #log: Logger;
  /** Per panel: the highest seq handed to the client in this process (it keeps retrying those). */
  readonly #handed = new Map<string, number>();
  /** Per panel: outcomes still open (pending at the client, or their fate not yet recorded). */
  readonly #open = new Map<string, Set<Promise<void>>>();
  readonly #busy = new Set<string>();
  /** Commands sent as filler reads, by id: the local refusal that is their fate. */
  readonly #fillers = new Map<string, { code: string; detail?: Record<string, string> }>();
  /**
   * Panels whose lease this worker lost after publishing to them. Its cloud client remembers the
   * last seq it assigned per panel and cannot be told to forget it, so after another worker has
   * published there, this one would number from a stale seq: it never publishes to them again
   * (until it restarts). This is why leases are kept, not just taken.
   */
  readonly #lost = new Set<string>();
  /** Per panel held: when (this process's clock, before the statement) its lease was last taken or renewed. */
  readonly #leasedAt = new Map<string, number>();
  /** The sealing key pinned at enrolment, per panel held (from the lease statement's rows). */
  readonly #sealKeys = new Map<string, Buffer>();
  /**
   * Panels another worker holds the lease of, with when (this process's clock) that lease ends at the
   * latest as last seen: their states are that worker's to record, so this one does not verify them.
   */
  readonly #others = new Map<string, number>();
  /** When (this process's clock) `#others` was last read from the database; -Infinity: never. */
  #othersAt = -Infinity;
  /** Panels with no retained state yet, waited for outside the rounds. */
  readonly #awaitingState = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  /** The last round found the cloud client without a broker connection. */
  #offBroker = false;
  /** The newest state heard per panel, not yet recorded; the recording under way; attempts of a panel's failed ones. */
  #states = new Map<string, State>();
  #stateFlush: Promise<void> | undefined;
  #stateTimer: NodeJS.Timeout | undefined;
  /** Snapshots to write (reconcile triggers gathered for RECONCILE_COALESCE_MS), the write under way. */
  #reconciles = new Map<string, { why: string; waiters: (() => void)[] }>();
  #reconcileTimer: NodeJS.Timeout | undefined;
  #reconcileFlush: Promise<void> | undefined;
  readonly #stateAttempts = new Map<string, number>();
  /**
   * States not recorded because an API call held the panel's row, tried again apart from the
   * flushes of new states, at a pace that slows while rows stay busy (an API call holds its panels
   * for as long as it writes; trying them at every flush cost a statement per flush).
   */
  readonly #busyStates = new Map<string, State>();
  #busyTimer: NodeJS.Timeout | undefined;
  #busyDelay = BUSY_RETRY_MS;
  /** Per panel: the (journal seq, epoch, digest) last found equal to the desired table: the same report is not checked again. */
  readonly #matched = new Map<string, string>();

  constructor(options: DispatcherOptions) {
    this.#store = options.store;
    this.#journal = options.store.journal;
    this.#client = options.client;
    this.#log = options.logger.child({ worker: options.workerId });
    this.#fates = new FateRecorder(this.#journal, this.#log, () => this.#stopped);
    this.#o = {
      workerId: options.workerId,
      leaseMs: options.leaseMs ?? DEFAULT_LEASE_MS,
      pollMs: options.pollMs ?? 250,
      window: options.window ?? 1000,
      stateTimeoutMs: options.stateTimeoutMs ?? 2000,
    };
  }

  /** Records what panels report (retained state and status) and starts polling the journal. */
  start(): void {
    this.#client.filterStates((panelId) => this.wantsState(panelId));
    this.#client.on("state", (panelId, state) => this.#onState(panelId, state));
    this.#client.on("resync", (req) => void this.#onResync(req));
    this.#client.on("status", (panelId, status) => void this.#store.recordPanelStatus(panelId, status.status === "online").catch(() => {}));
    this.#schedule(0);
  }

  /**
   * Whether this worker needs a panel's reported states: those of the panels it holds, and of those
   * no other worker is known to hold (an idle panel is reconciled by whoever hears it). Another
   * worker's lease learnt from the lease statement or the periodic read of leases; once it ends
   * (expired, released, lost), the panel is wanted again, and the newest state heard meanwhile is
   * judged then (the client kept it).
   */
  wantsState(panelId: string): boolean {
    if (this.#leasedAt.has(panelId)) return true;
    const until = this.#others.get(panelId);
    return until === undefined || until <= performance.now();
  }

  /** Reads which panels other workers hold (every third of a lease): the panels that left that set are wanted again. */
  async #refreshOthers(now: number): Promise<void> {
    // A lease of another worker that ended (a worker killed leaves its leases to run out): the panel's
    // newest state, kept unverified meanwhile, is judged and recorded now, not at the next read.
    for (const [id, until] of this.#others) {
      if (until > now) continue;
      this.#others.delete(id);
      this.#client.stateWanted(id);
    }
    if (now - this.#othersAt < this.#o.leaseMs / 3) return;
    let held: Map<string, number>;
    try {
      held = await this.#journal.leasesOfOthers(this.#o.workerId);
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, "leases of other workers not read");
      return;
    }
    this.#othersAt = now;
    const before = [...this.#others.keys()];
    this.#others.clear();
    for (const [id, ms] of held) if (!this.#leasedAt.has(id) || this.#lost.has(id)) this.#others.set(id, now + ms);
    for (const id of before) if (this.wantsState(id)) this.#client.stateWanted(id);
  }

  /** Runs a round now (after a change was committed). */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running) this.#again = true;
    else this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#busyTimer) clearTimeout(this.#busyTimer);
    await this.#running;
    const mine = [...this.#handed.keys()].filter((p) => !this.#lost.has(p));
    await this.#journal.releaseLeases(mine, this.#o.workerId).catch(() => {});
  }

  /** Resolves when every outcome this process is waiting for has been recorded (and the states heard so far). */
  async idle(): Promise<void> {
    await this.#running;
    for (const set of this.#open.values()) await Promise.all([...set]);
    while (this.#states.size > 0 || this.#stateFlush || this.#busyStates.size > 0) {
      if (!this.#stateFlush) this.#retryBusy();
      await (this.#stateFlush ?? this.#flushStates());
    }
  }

  /** The states skipped for a busy row go into the next flush (unless a newer one was heard). */
  #retryBusy(): void {
    if (this.#busyTimer) clearTimeout(this.#busyTimer);
    this.#busyTimer = undefined;
    for (const [panelId, state] of this.#busyStates) if (!this.#states.has(panelId)) this.#states.set(panelId, state);
    this.#busyStates.clear();
  }

  /** The agent asked for a resync (a sequence gap, a restart, a restore): answer with a snapshot of its desired table. */
  async #onResync(req: ResyncRequest): Promise<void> {
    try {
      if (!(await this.#store.panel(req.panelId))) return;
    } catch (err) {
      this.#log.error({ panelId: req.panelId, err: (err as Error).message }, "snapshot not written");
      return;
    }
    await this.#reconcile(req.panelId, `resync_request:${req.reason}`);
  }

  /**
   * Reconcile by snapshot. Triggers (a resync request, a new epoch, a digest mismatch) are gathered
   * for a moment and their snapshots written together (writeSnapshots: a few statements per
   * transaction, not one transaction per panel); resolves once the panel's snapshot is written (or
   * its failure logged).
   */
  #reconcile(panelId: string, why: string): Promise<void> {
    return new Promise<void>((done) => {
      const queued = this.#reconciles.get(panelId);
      if (queued) queued.waiters.push(done);
      else this.#reconciles.set(panelId, { why, waiters: [done] });
      if (!this.#reconcileFlush && !this.#reconcileTimer) this.#reconcileTimer = setTimeout(() => void this.#flushReconciles(), RECONCILE_COALESCE_MS);
    });
  }

  async #flushReconciles(): Promise<void> {
    this.#reconcileTimer = undefined;
    const batch = this.#reconciles;
    this.#reconciles = new Map();
    if (batch.size === 0) return;
    const run = async () => {
      try {
        // A snapshot still pending is on its way and covers any trigger: it is built from the desired
        // table, is taken at any seq above the panel's lastSeq (a reset panel's too), and what changed
        // since follows it in the journal. A second one had gone to every reset panel whose resync
        // request and new epoch were heard apart (reconcile.test.ts).
        const underway = await this.#journal.withPending([...batch.keys()], "snapshot");
        for (const panelId of underway) this.#log.info({ panelId, why: batch.get(panelId)!.why }, "reconcile: a snapshot is already on its way");
        const written = await writeSnapshots(this.#store, [...batch.keys()].filter((id) => !underway.has(id)));
        for (const [panelId, { why }] of batch) {
          if (underway.has(panelId)) continue;
          const snap = written.get(panelId);
          if (snap) this.#log.info({ panelId, id: snap.id, created: snap.created, why }, "reconcile by snapshot");
          else this.#log.error({ panelId, err: "panel_not_found" }, "snapshot not written");
        }
        this.kick();
      } catch (err) {
        for (const panelId of batch.keys()) this.#log.error({ panelId, err: (err as Error).message }, "snapshot not written");
      }
      for (const { waiters } of batch.values()) for (const w of waiters) w();
    };
    this.#reconcileFlush = run().finally(() => {
      this.#reconcileFlush = undefined;
      if (this.#reconciles.size > 0 && !this.#reconcileTimer) this.#reconcileTimer = setTimeout(() => void this.#flushReconciles(), RECONCILE_COALESCE_MS);
    });
    await this.#reconcileFlush;
  }

  // ---------------------------------------------------------------------------------------------
  // reported states

  /** A state heard: the newest per panel is recorded with the others heard meanwhile. */
  #onState(panelId: string, state: State): void {
    this.#states.set(panelId, state);
    this.#busyStates.delete(panelId);
    this.#stateAttempts.delete(panelId);
    if (!this.#stateFlush && !this.#stateTimer) this.#stateTimer = setTimeout(() => void this.#flushStates(), STATE_COALESCE_MS);
  }

  #flushStates(): Promise<void> {
    if (this.#stateTimer) clearTimeout(this.#stateTimer);
    this.#stateTimer = undefined;
    if (this.#stateFlush) return this.#stateFlush;
    const batch = this.#states;
    this.#states = new Map();
    if (batch.size === 0) return Promise.resolve();
    this.#stateFlush = this.#recordStates(batch).finally(() => {
      this.#stateFlush = undefined;
      if (this.#states.size > 0 && !this.#stateTimer) this.#stateTimer = setTimeout(() => void this.#flushStates(), STATE_COALESCE_MS);
    });
    return this.#stateFlush;
  }

  async #recordStates(batch: Map<string, State>): Promise<void> {
    let result;
    try {
      result = await this.#journal.recordPanelStates(batch);
    } catch (err) {
      // A retained state is heard once: unrecorded (the database restarting), the fleet would keep a
      // stale digest and lastSeq for the panel until it next reports. Retried a second apart with
      // the newest heard (a newer one heard meanwhile replaces it).
      for (const [panelId, state] of batch) {
        const attempt = (this.#stateAttempts.get(panelId) ?? 0) + 1;
        this.#log.warn({ panelId, attempt, err: (err as Error).message }, "panel state not recorded");
        if (this.#stopped || attempt >= STATE_ATTEMPTS || this.#states.has(panelId)) continue;
        this.#stateAttempts.set(panelId, attempt);
        // A newer state heard meanwhile resets the attempts and is recorded itself.
        setTimeout(() => {
          if (this.#stopped || this.#states.has(panelId) || this.#stateAttempts.get(panelId) !== attempt) return;
          this.#states.set(panelId, state);
          if (!this.#stateFlush && !this.#stateTimer) this.#stateTimer = setTimeout(() => void this.#flushStates(), STATE_COALESCE_MS);
        }, 1_000).unref();
      }
      return;
    }
    const { recorded, busy } = result;
    // Rows held by an API call writing commands there: recorded once it commits (unless a newer state came meanwhile).
    for (const panelId of busy) if (!this.#states.has(panelId)) this.#busyStates.set(panelId, batch.get(panelId)!);
    if (this.#busyStates.size === 0) this.#busyDelay = BUSY_RETRY_MS;
    else if (!this.#busyTimer && !this.#stopped) {
      this.#busyTimer = setTimeout(() => {
        this.#retryBusy();
        void this.#flushStates();
      }, this.#busyDelay);
      this.#busyTimer.unref();
      this.#busyDelay = Math.min(BUSY_RETRY_MAX_MS, this.#busyDelay * 2);
    }
    for (const { panel } of recorded) this.#stateAttempts.delete(panel.id);
    const check: { panel: PanelRow; state: State }[] = [];
    const renewed: { panel: PanelRow; state: State }[] = [];
    for (const { panel, previousEpoch } of recorded) {
      const state = batch.get(panel.id)!;
      // A new epoch: the panel's database was made anew (reset, replaced): its table is gone.
      if (previousEpoch && state.epoch && previousEpoch !== state.epoch) renewed.push({ panel, state });
      else check.push({ panel, state });
    }
    await Promise.all([this.#newEpochs(renewed), this.#checkDigests(check)]);
  }

  /**
   * Panels showing a new epoch get a snapshot, unless the state that shows it already has the
   * desired table at the journal's last seq: a snapshot reached the new database before its state
   * was recorded here (its resync request for the gap was heard first). Any doubt (the check
   * failing) sends the snapshot.
   */
  async #newEpochs(list: { panel: PanelRow; state: State }[]): Promise<void> {
    if (list.length === 0) return;
    const restored = new Set<string>();
    const atEnd = list.filter(({ panel, state }) => state.lastSeq > 0 && state.lastSeq >= panel.nextSeq - 1);
    if (atEnd.length > 0) {
      try {
        const { idle, desired } = await this.#idleWithDesired(atEnd);
        for (const { panel, state } of idle) if (desired.get(panel.id) === state.digest) restored.add(panel.id);
      } catch (err) {
        this.#log.warn({ panels: atEnd.length, err: (err as Error).message }, "new epoch: desired table not compared; reconciling by snapshot");
      }
    }
    for (const panelId of restored) this.#log.info({ panelId }, "new epoch: the panel already holds its desired table at the journal's last seq; no snapshot");
    await Promise.all(list.filter((d) => !restored.has(d.panel.id)).map((d) => this.#reconcile(d.panel.id, "new_epoch")));
  }

  /** Of these reports, the panels with no command pending, and their desired digests (one query each). */
  async #idleWithDesired<T extends { panel: PanelRow }>(list: readonly T[]): Promise<{ idle: T[]; desired: Map<string, string> }> {
    const pending = await this.#journal.withPending(list.map((d) => d.panel.id));
    const idle = list.filter((d) => !pending.has(d.panel.id));
    return { idle, desired: await desiredDigests(this.#store.db, idle.map((d) => d.panel)) };
  }

  /**
   * Reconcile on digest mismatch: once the panel has consumed every command of the journal (none
   * pending, its lastSeq at the journal's last seq), its digest must be the desired table's. When
   * it is not (a change made beside the fleet, a refused command, a table repaired by hand), ONE
   * snapshot is written for that desired digest; `reconciled_digest` remembers it, so a panel that
   * still differs afterwards (it refused the snapshot) is left in the drift report instead of
   * being sent snapshots in a loop. Several workers hear the same state: the conditional UPDATE
   * lets one of them write it. A desired digest is computed only when it can match (the panel at
   * the journal's last seq, nothing pending), for all such panels with one query, and not again for
   * the same report at the same journal seq once it matched (the desired table changes only with a
   * command, which moves the journal's seq).
   */
  async #checkDigests(list: { panel: PanelRow; state: State }[]): Promise<void> {
    const key = (p: PanelRow, s: State) => `${p.nextSeq}:${s.epoch ?? ""}:${s.digest}`;
    const due = list.filter(({ panel, state }) => state.lastSeq >= panel.nextSeq - 1 && this.#matched.get(panel.id) !== key(panel, state));
    if (due.length === 0) return;
    try {
      const { idle, desired } = await this.#idleWithDesired(due);
      await Promise.all(
        idle.map(async ({ panel, state }) => {
          const want = desired.get(panel.id)!;
          if (want === state.digest) {
            this.#matched.set(panel.id, key(panel, state));
            if (panel.reconciledDigest !== null) await this.#store.db.query("UPDATE panels SET reconciled_digest = NULL WHERE id = $1", [panel.id]);
            return;
          }
          this.#matched.delete(panel.id);
          const mine = await this.#store.db.query("UPDATE panels SET reconciled_digest = $2 WHERE id = $1 AND reconciled_digest IS DISTINCT FROM $2 RETURNING id", [panel.id, want]);
          if (mine.rows.length === 0) {
            this.#log.warn({ panelId: panel.id, reported: state.digest, desired: want }, "digest still differs after a reconcile for this desired table; left to the drift report");
            return;
          }
          await this.#reconcile(panel.id, "digest_mismatch");
        }),
      );
    } catch (err) {
      this.#log.warn({ panels: due.length, err: (err as Error).message }, "digest check failed; the next report checks again");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // rounds

  #schedule(ms: number): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#round().finally(() => {
        this.#running = undefined;
        const again = this.#again;
        this.#again = false;
        this.#schedule(again ? 0 : this.#o.pollMs);
      });
    }, ms);
  }

  /** Held and renewed less than a third of its length ago (this process's clock): still ours for two thirds of it at least. */
  #fresh(panelId: string, now: number): boolean {
    const at = this.#leasedAt.get(panelId);
    return at !== undefined && now - at < this.#o.leaseMs / 3;
  }

  async #round(): Promise<void> {
    // No broker: this worker takes and renews no lease, so its panels' leases run out and a worker
    // that can reach the panels takes them over (a worker cut off from its broker node had kept
    // renewing them from the database, and its panels waited for the node to come back).
    if (!this.#client.connected) {
      if (!this.#offBroker) this.#log.warn({ leaseMs: this.#o.leaseMs }, "no broker connection: leases are left to run out for another worker");
      this.#offBroker = true;
      return;
    }
    if (this.#offBroker) this.#log.info("broker connection back: publishing again");
    this.#offBroker = false;
    await this.#refreshOthers(performance.now());
    let panels: string[];
    try {
      panels = (await this.#journal.panelsWithPending(this.#o.workerId)).filter((p) => !this.#busy.has(p) && !this.#lost.has(p));
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, "journal poll failed");
      return;
    }
    // One statement takes the leases of the panels to drain and renews those this worker keeps.
    const now = performance.now();
    const need = new Set(panels.filter((p) => !this.#fresh(p, now)));
    for (const p of this.#handed.keys()) if (!this.#lost.has(p) && !this.#fresh(p, now)) need.add(p);
    if (need.size > 0) {
      try {
        const { held, taken } = await this.#journal.acquireLeases([...need], this.#o.workerId, this.#o.leaseMs);
        for (const [id, row] of held) {
          this.#leasedAt.set(id, now);
          this.#others.delete(id);
          this.#sealKeys.set(id, row.sealKey);
        }
        // Held by another worker: lost if this one published there. Neither held nor taken: its row
        // was busy (an API call writing commands there); the next round asks again.
        for (const id of taken) {
          this.#leasedAt.delete(id);
          // Until the next read of the leases at the latest (it renews what it holds).
          this.#others.set(id, now + this.#o.leaseMs / 3);
          if (this.#handed.has(id)) this.#loseLease(id);
        }
      } catch (err) {
        this.#log.warn({ panels: need.size, err: (err as Error).message }, "leases not taken or renewed");
      }
    }
    const mine = panels.filter((p) => this.#fresh(p, now) && !this.#lost.has(p));
    if (mine.length > 0) await this.#drain(mine);
  }

  #loseLease(panelId: string): void {
    if (this.#lost.has(panelId)) return;
    this.#lost.add(panelId);
    this.#leasedAt.delete(panelId);
    this.#log.error({ panelId }, "publisher lease lost to another worker; this worker no longer publishes to the panel until it restarts");
  }

  /** Hands the pending windows of panels this worker holds to the cloud client: one read and one `sent` mark for all of them. */
  async #drain(panels: string[]): Promise<void> {
    for (const p of panels) this.#busy.add(p);
    try {
      const ready: { panelId: string; state: State }[] = [];
      await Promise.all(
        panels.map(async (panelId) => {
          const state = await this.#client.panelState(panelId, 0);
          if (!state) return this.#awaitState(panelId);
          // Codes are sealed to the key pinned at enrolment only: a panel presenting another key is held.
          if (!Buffer.from(state.sealKey).equals(this.#sealKeys.get(panelId)!)) {
            this.#log.warn({ panelId }, "panel presents another sealing key than the one pinned at enrolment; its commands are held");
            return;
          }
          ready.push({ panelId, state });
        }),
      );
      if (ready.length === 0) return;
      const windows = await this.#journal.pendingAfter(ready.map((r) => ({ panelId: r.panelId, after: this.#handed.get(r.panelId) ?? 0 })), this.#o.window);
      const out: { panelId: string; batch: JournalCommand[]; inputs: CommandInput[] }[] = [];
      for (const { panelId, state } of ready) {
        let batch = windows.get(panelId) ?? [];
        if (batch.length === 0) continue;
        try {
          // The panel already consumed commands this process never sent (a worker died between publishing
          // and recording the acks). The cloud client would number from the panel's lastSeq and send them
          // again at new seqs; instead they are superseded and a snapshot makes the table certain.
          if (state.lastSeq >= batch[0]!.seq) batch = await this.#aheadOfJournal(panelId, state, batch[0]!.seq);
          if (batch.length === 0) continue;
          out.push({ panelId, batch, inputs: batch.map((c) => this.#input(c, state)) });
        } catch (err) {
          this.#log.error({ panelId, err: (err as Error).message }, "dispatch round failed");
        }
      }
      if (out.length === 0) return;
      // Marked sent first, handed after: a markSent that fails (the database restarting) leaves the
      // batch un-handed, so the next round sends it. Handed first, it was never sent by this worker,
      // which kept the panel's lease: the panel's commands stayed pending for good.
      await this.#journal.markSent(out.flatMap((o) => o.batch.map((c) => c.id)));
      for (const { panelId, batch, inputs } of out) this.#hand(panelId, batch, inputs);
    } catch (err) {
      this.#log.error({ panels: panels.length, err: (err as Error).message }, "dispatch round failed");
    } finally {
      for (const p of panels) this.#busy.delete(p);
    }
  }

  /** No retained state yet: wait for it outside the round, then run one. */
  #awaitState(panelId: string): void {
    if (this.#awaitingState.has(panelId)) return;
    this.#awaitingState.add(panelId);
    this.#log.debug({ panelId }, "no retained state yet; commands wait");
    void this.#client.panelState(panelId, this.#o.stateTimeoutMs).then((s) => {
      this.#awaitingState.delete(panelId);
      if (s) this.kick();
    });
  }

  async #aheadOfJournal(panelId: string, state: State, firstPending: number): Promise<JournalCommand[]> {
    const lost = await this.#journal.markAckLost(panelId, state.lastSeq);
    const snap = await this.#store.writeSnapshot(panelId);
    this.#log.warn({ panelId, lastSeq: state.lastSeq, firstPending, superseded: lost, snapshot: snap.id }, "panel is ahead of the journal: acks lost, reconciling by snapshot");
    return (await this.#journal.pendingAfter([{ panelId, after: this.#handed.get(panelId) ?? 0 }], this.#o.window)).get(panelId) ?? [];
  }

  #hand(panelId: string, batch: JournalCommand[], inputs: CommandInput[]): void {
    this.#handed.set(panelId, batch.at(-1)!.seq);
    this.#log.info({ panelId, fromSeq: batch[0]!.seq, toSeq: batch.at(-1)!.seq, count: batch.length }, "commands handed to the cloud client");
    const open = this.#open.get(panelId) ?? new Set<Promise<void>>();
    this.#open.set(panelId, open);
    batch.forEach((c, i) => {
      let outcome: Promise<Outcome>;
      try {
        outcome = this.#client.send(panelId, inputs[i]!);
      } catch (err) {
        this.#log.error({ panelId, seq: c.seq, err: (err as Error).message }, "command not handed to the cloud client");
        return;
      }
      const done: Promise<void> = outcome.then((o) => this.#settle(c, o)).finally(() => open.delete(done));
      open.add(done);
    });
  }

  /** The command as the cloud client takes it; one it would refuse locally goes as a filler (see commandInput). */
  #input(c: JournalCommand, state: State): CommandInput {
    const { input, refusal } = commandInput(c, state, this.#store.vault);
    if (!refusal) return input;
    this.#fillers.set(c.id, refusal);
    this.#log.warn({ panelId: c.panelId, seq: c.seq, kind: c.kind, ...refusal }, "command the client would refuse goes as a filler read to keep the seq");
    return input;
  }

  // ---------------------------------------------------------------------------------------------
  // fates

  /** Records an outcome; a pending one is recorded when its ack finally arrives. */
  async #settle(c: JournalCommand, o: Outcome): Promise<void> {
    if (o.status === "pending") {
      this.#log.info({ panelId: c.panelId, seq: c.seq, reason: o.reason }, "command pending at the panel");
      if (o.reason === "closed") return;
      return this.#settle(c, await o.later);
    }
    const filler = this.#fillers.get(c.id);
    if (filler) {
      this.#fillers.delete(c.id);
      if (o.status === "applied") o = { status: "rejected", panelId: o.panelId, id: o.id, seq: o.seq, code: filler.code, local: true };
    }
    if (o.seq !== undefined && o.seq !== c.seq) this.#log.error({ panelId: c.panelId, seq: c.seq, wireSeq: o.seq }, "seq_mismatch: the cloud client sent a command at another seq than the journal's");
    const fate: Fate =
      o.status === "applied"
        ? { status: "applied", wireSeq: o.seq }
        : { status: "rejected", code: o.code, sentence: outcomeSentence(o.code), ...(o.seq !== undefined ? { wireSeq: o.seq } : {}) };
    await this.#fates.record(c, o, fate);
  }
}
