import type { Logger } from "pino";
import type { CloudClient, CommandInput, Outcome, ResyncRequest, SeqStore } from "../cloud/index.js";
import { commandSchema, ERROR_SENTENCES, Secret, type Actor } from "../domain/index.js";
import type { State } from "../../protocol/index.js";
import { desiredDigest } from "./digest.js";
import type { FleetStore, JournalCommand } from "./store.js";
import { text } from "./row.js";

export interface DispatcherOptions {
  store: FleetStore;
  /** A connected cloud client whose `seqStore` is this dispatcher's `seqStore` (see `journalSeqStore`). */
  client: CloudClient;
  logger: Logger;
  /** This worker's name in the publisher lease. */
  workerId: string;
  /** How long a lease lasts without renewal (default 30 s); renewed on every round. */
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
/** How often a fate is tried before it is given up (backoff 0.2 s .. 5 s: about 90 s in all). */
const OUTCOME_ATTEMPTS = 22;
/** How often a panel's reported state is tried, a second apart, before it waits for the next report. */
const STATE_ATTEMPTS = 60;

export const COMMAND_LIFETIME_MS = 7 * 24 * 3600_000;

const FILLER_ACTOR: Actor = { kind: "cloud", id: "panel-fleet" };

const sentence = (code: string): string =>
  (ERROR_SENTENCES as Record<string, string>)[code] ?? (code === "seq_store_failed" ? "The command could not be numbered." : code === "missing_ack" ? "The panel's batch ack did not answer this command." : "The panel refused the command.");

/**
 * The cloud client's SeqStore backed by the journal. The fleet allocates each command's seq in the
 * transaction that writes it; the client numbers what it is handed from the last seq it loads. So
 * `load` answers "the seq just before the first command not yet acked", and the dispatcher hands
 * commands over in seq order with nothing else in between: the client's numbers then ARE the
 * journal's. `save` has nothing to keep (the journal already holds every seq). The dispatcher
 * checks every ack's seq against the journal's and logs `seq_mismatch` if they ever differ (see
 * the README: the client has no way to send at an explicit seq yet).
 */
export function journalSeqStore(store: FleetStore): SeqStore {
  return {
    async load(panelId) {
      const r = await store.db.query<{ seq: unknown }>("SELECT min(seq) AS seq FROM commands WHERE panel_id = $1 AND status = 'pending'", [panelId]);
      const first = r.rows[0]?.seq;
      if (first !== null && first !== undefined) return Number(first) - 1;
      const p = await store.panel(panelId);
      return p ? p.nextSeq - 1 : undefined;
    },
    save() {},
    // The identity pinned at enrolment (panels.identity_key) is the one the client verifies against.
    async loadIdentity(panelId) {
      const r = await store.db.query<{ k: string | null }>("SELECT encode(identity_key, 'hex') AS k FROM panels WHERE id = $1", [panelId]);
      return r.rows[0]?.k ?? undefined;
    },
    // A panel enrolled before it published an identity key gets it pinned on first sight; a pinned key is never replaced.
    async saveIdentity(panelId, hex) {
      if (hex) await store.db.query("UPDATE panels SET identity_key = decode($2, 'hex') WHERE id = $1 AND identity_key IS NULL", [panelId, hex]);
    },
  };
}

/**
 * Publishes each panel's pending commands in seq order through the cloud client and records every
 * fate by (panel, seq), idempotently.
 *
 * One publisher per panel at a time: a LEASE on the panel's row (`lease_owner`, `lease_until`,
 * taken with one conditional UPDATE on the database's clock), not a session advisory lock. A lease
 * works the same on PGlite and on the server through a pool (an advisory lock belongs to one
 * connection, which a pool does not keep), ends by itself when a worker dies, and is visible in
 * the table. A worker keeps the lease of every panel it has published to for as long as it runs
 * (renewed every round), because its cloud client remembers per panel the last seq it assigned; a
 * worker that finds its lease taken (it stalled longer than the lease) stops publishing to that
 * panel for good. Two workers could still overlap for the length of a stall; the agent refuses a
 * reused seq (`replayed`) rather than applying anything twice.
 */
export class Dispatcher {
  readonly #o: Required<Omit<DispatcherOptions, "store" | "client" | "logger">>;
  readonly #store: FleetStore;
  readonly #client: CloudClient;
  readonly #log: Logger;
  /** Per panel: the highest seq handed to the client in this process (it keeps retrying those). */
  readonly #handed = new Map<string, number>();
  /** Per panel: outcomes still open (pending at the client). */
  readonly #open = new Map<string, Set<Promise<void>>>();
  readonly #busy = new Set<string>();
  /** Commands sent as filler reads, by id: the local refusal that is their fate. */
  readonly #fillers = new Map<string, { code: string; detail?: Record<string, string> }>();
  /**
   * Panels whose lease this worker lost after publishing to them. Its cloud client remembers the
   * last seq it assigned per panel and cannot be told to forget it, so after another worker has
   * published there, this one would number from a stale seq: it never publishes to them again
   * (until it restarts). This is why leases are kept, not just taken: see #renewOwned.
   */
  readonly #lost = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  /** The newest state heard per panel: a state not recorded is retried with the newest one. */
  readonly #latestState = new Map<string, State>();

  constructor(options: DispatcherOptions) {
    this.#store = options.store;
    this.#client = options.client;
    this.#log = options.logger.child({ worker: options.workerId });
    this.#o = {
      workerId: options.workerId,
      leaseMs: options.leaseMs ?? 30_000,
      pollMs: options.pollMs ?? 250,
      window: options.window ?? 1000,
      stateTimeoutMs: options.stateTimeoutMs ?? 2000,
    };
  }

  /** Records what panels report (retained state and status) and starts polling the journal. */
  start(): void {
    this.#client.on("state", (panelId, state) => void this.#onState(panelId, state));
    this.#client.on("resync", (req) => void this.#onResync(req));
    this.#client.on("status", (panelId, status) => void this.#store.recordPanelStatus(panelId, status.status === "online").catch(() => {}));
    this.#schedule(0);
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
    await this.#running;
    for (const panelId of this.#handed.keys()) if (!this.#lost.has(panelId)) await this.#store.releaseLease(panelId, this.#o.workerId).catch(() => {});
  }

  /** Resolves when every outcome this process is waiting for has been recorded. */
  async idle(): Promise<void> {
    await this.#running;
    for (const set of this.#open.values()) await Promise.all([...set]);
  }

  /** The agent asked for a resync (a sequence gap, a restart, a restore): answer with a snapshot of its desired table. */
  async #onResync(req: ResyncRequest): Promise<void> {
    await this.#reconcile(req.panelId, `resync_request:${req.reason}`);
  }

  async #reconcile(panelId: string, why: string): Promise<void> {
    try {
      if (!(await this.#store.panel(panelId))) return;
      const { id, created } = await this.#store.writeSnapshot(panelId);
      this.#log.info({ panelId, id, created, why }, "reconcile by snapshot");
      this.kick();
    } catch (err) {
      this.#log.error({ panelId, err: (err as Error).message }, "snapshot not written");
    }
  }

  async #onState(panelId: string, state: State, attempt = 1): Promise<void> {
    if (attempt === 1) this.#latestState.set(panelId, state);
    try {
      const before = await this.#store.panel(panelId);
      await this.#store.recordPanelState(panelId, state);
      // A new epoch: the panel's database was made anew (reset, replaced): its table is gone.
      if (before?.epoch && state.epoch && before.epoch !== state.epoch) await this.#reconcile(panelId, "new_epoch");
      else if (before) await this.#checkDigest(panelId, state);
    } catch (err) {
      this.#log.warn({ panelId, attempt, err: (err as Error).message }, "panel state not recorded");
      // A retained state is heard once: unrecorded (the database restarting), the fleet would keep a
      // stale digest and lastSeq for the panel until it next reports. Retried with the newest heard.
      if (!this.#stopped && attempt < STATE_ATTEMPTS) setTimeout(() => void this.#onState(panelId, this.#latestState.get(panelId) ?? state, attempt + 1), 1_000).unref();
    }
  }

  /**
   * Reconcile on digest mismatch: once the panel has consumed every command of the journal (none
   * pending, its lastSeq at the journal's last seq), its digest must be the desired table's. When
   * it is not (a change made beside the fleet, a refused command, a table repaired by hand), ONE
   * snapshot is written for that desired digest; `reconciled_digest` remembers it, so a panel that
   * still differs afterwards (it refused the snapshot) is left in the drift report instead of
   * being sent snapshots in a loop. Several workers hear the same state: the conditional UPDATE
   * lets one of them write it.
   */
  async #checkDigest(panelId: string, state: State): Promise<void> {
    const panel = await this.#store.panel(panelId);
    if (!panel || state.lastSeq < panel.nextSeq - 1) return;
    const pending = await this.#store.db.query("SELECT 1 FROM commands WHERE panel_id = $1 AND status = 'pending' LIMIT 1", [panelId]);
    if (pending.rows.length > 0) return;
    const desired = await desiredDigest(this.#store.db, panel);
    if (desired === state.digest) {
      if (panel.reconciledDigest !== null) await this.#store.db.query("UPDATE panels SET reconciled_digest = NULL WHERE id = $1", [panelId]);
      return;
    }
    const mine = await this.#store.db.query("UPDATE panels SET reconciled_digest = $2 WHERE id = $1 AND reconciled_digest IS DISTINCT FROM $2 RETURNING id", [panelId, desired]);
    if (mine.rows.length === 0) {
      this.#log.warn({ panelId, reported: state.digest, desired }, "digest still differs after a reconcile for this desired table; left to the drift report");
      return;
    }
    await this.#reconcile(panelId, "digest_mismatch");
  }

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

  async #round(): Promise<void> {
    let panels: string[];
    try {
      panels = await this.#store.panelsWithPending();
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, "journal poll failed");
      return;
    }
    await Promise.all(panels.map((p) => this.#drain(p)));
    await this.#renewOwned(new Set(panels));
  }

  /** Keeps the leases of every panel this worker has published to, pending commands or not, for as long as it runs. */
  async #renewOwned(drained: Set<string>): Promise<void> {
    for (const panelId of this.#handed.keys()) {
      if (drained.has(panelId) || this.#lost.has(panelId)) continue;
      try {
        if (!(await this.#store.acquireLease(panelId, this.#o.workerId, this.#o.leaseMs))) this.#loseLease(panelId);
      } catch (err) {
        this.#log.warn({ panelId, err: (err as Error).message }, "lease not renewed");
      }
    }
  }

  #loseLease(panelId: string): void {
    if (this.#lost.has(panelId)) return;
    this.#lost.add(panelId);
    this.#log.error({ panelId }, "publisher lease lost to another worker; this worker no longer publishes to the panel until it restarts");
  }

  async #drain(panelId: string): Promise<void> {
    if (this.#busy.has(panelId) || this.#stopped || this.#lost.has(panelId)) return;
    this.#busy.add(panelId);
    try {
      if (!(await this.#store.acquireLease(panelId, this.#o.workerId, this.#o.leaseMs))) {
        if (this.#handed.has(panelId)) this.#loseLease(panelId);
        return;
      }
      const panel = await this.#store.panel(panelId);
      if (!panel) return;
      const state = await this.#client.panelState(panelId, this.#o.stateTimeoutMs);
      if (!state) {
        this.#log.debug({ panelId }, "no retained state yet; commands wait");
        return;
      }
      // Codes are sealed to the key pinned at enrolment only: a panel presenting another key is held.
      if (!Buffer.from(state.sealKey).equals(panel.sealKey)) {
        this.#log.warn({ panelId }, "panel presents another sealing key than the one pinned at enrolment; its commands are held");
        return;
      }
      const handed = this.#handed.get(panelId) ?? 0;
      let batch = (await this.#store.pending(panelId, this.#o.window)).filter((c) => c.seq > handed);
      if (batch.length === 0) return;
      // The panel already consumed commands this process never sent (a worker died between publishing
      // and recording the acks). The cloud client would number from the panel's lastSeq and send them
      // again at new seqs; instead they are superseded and a snapshot makes the table certain.
      if (state.lastSeq >= batch[0]!.seq) {
        const lost = await this.#store.markAckLost(panelId, state.lastSeq);
        const snap = await this.#store.writeSnapshot(panelId);
        this.#log.warn({ panelId, lastSeq: state.lastSeq, firstPending: batch[0]!.seq, superseded: lost, snapshot: snap.id }, "panel is ahead of the journal: acks lost, reconciling by snapshot");
        batch = (await this.#store.pending(panelId, this.#o.window)).filter((c) => c.seq > handed);
        if (batch.length === 0) return;
      }
      const inputs = batch.map((c) => this.#input(c, state));
      // Marked sent first, handed after: a markSent that fails (the database restarting) leaves the
      // batch un-handed, so the next round sends it. Handed first, it was never sent by this worker,
      // which kept the panel's lease: the panel's commands stayed pending for good.
      await this.#store.markSent(panelId, batch.map((c) => c.seq));
      this.#handed.set(panelId, batch.at(-1)!.seq);
      this.#log.info({ panelId, fromSeq: batch[0]!.seq, toSeq: batch.at(-1)!.seq, count: batch.length }, "commands handed to the cloud client");
      const outcomes = inputs.map((input) => this.#client.send(panelId, input));
      const open = this.#open.get(panelId) ?? new Set<Promise<void>>();
      this.#open.set(panelId, open);
      batch.forEach((c, i) => {
        const done: Promise<void> = outcomes[i]!.then((o) => this.#settle(c, o)).finally(() => open.delete(done));
        open.add(done);
      });
    } catch (err) {
      this.#log.error({ panelId, err: (err as Error).message }, "dispatch round failed");
    } finally {
      this.#busy.delete(panelId);
    }
  }

  /**
   * The command as the cloud client takes it. One the client would refuse locally (a kind this
   * panel does not advertise, a body that does not parse) would use no seq and shift every later
   * command off its journal seq; it goes as a FILLER instead: a read (`list_users`), which consumes
   * its seq and changes nothing, and the command's fate is recorded as that local refusal.
   */
  #input(c: JournalCommand, state: State): CommandInput {
    const input: Record<string, unknown> = { ...c.body, id: c.id };
    if (c.secretCt) {
      const secret = this.#store.vault.decrypt(c.secretCt, `command:${c.id}`);
      const tagsOf = (list: unknown) => ((list as { kind: string; id: string }[] | undefined) ?? []).map((t) => ({ kind: t.kind, tag: new Secret(t.id) }));
      if (c.kind === "snapshot") {
        const codes = JSON.parse(secret.reveal()) as Record<string, unknown>;
        input.users = (c.body.users as { slot: number }[]).map((u) => {
          const tags = codes[`tags:${u.slot}`];
          return { ...u, code: new Secret(text(codes[String(u.slot)] ?? "")), ...(tags !== undefined ? { tags: tagsOf(tags) } : {}) };
        });
      } else if (c.kind === "set_proximity_tags") input.tags = tagsOf(JSON.parse(secret.reveal()));
      else input.code = secret;
    }
    let refusal: { code: string; detail?: Record<string, string> } | undefined;
    if (!state.proto.kinds.includes(c.kind)) refusal = { code: "unknown_command", detail: { kind: c.kind } };
    else {
      const parsed = commandSchema.safeParse({ ...input, actor: FILLER_ACTOR });
      if (!parsed.success) refusal = { code: "schema_violation", detail: { path: parsed.error.issues[0]?.path.join(".") ?? "" } };
    }
    if (!refusal) return input as unknown as CommandInput;
    this.#fillers.set(c.id, refusal);
    this.#log.warn({ panelId: c.panelId, seq: c.seq, kind: c.kind, ...refusal }, "command the client would refuse goes as a filler read to keep the seq");
    return { kind: "list_users", id: c.id, page: 1, perPage: 10 };
  }

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
    const fate =
      o.status === "applied"
        ? { status: "applied" as const, wireSeq: o.seq }
        : { status: "rejected" as const, code: o.code, sentence: sentence(o.code), ...(o.seq !== undefined ? { wireSeq: o.seq } : {}) };
    // An ack arrives once: a fate not recorded (the database restarting, a deadlock with a snapshot's
    // supersede) would leave the command pending for good, since this worker never hands it over
    // again. Recording is idempotent (only a pending command changes), so it is retried.
    for (let attempt = 1; ; attempt++) {
      try {
        const changed = await this.#store.recordOutcome(c.panelId, c.seq, fate);
        this.#log.info({ panelId: c.panelId, seq: c.seq, id: c.id, kind: c.kind, status: o.status, ...(o.status === "rejected" ? { code: o.code, local: o.local === true } : {}), recorded: changed, attempt }, "command outcome");
        return;
      } catch (err) {
        const giveUp = this.#stopped || attempt >= OUTCOME_ATTEMPTS;
        this.#log.error({ panelId: c.panelId, seq: c.seq, attempt, err: (err as Error).message }, giveUp ? "outcome not recorded" : "outcome not recorded yet; retrying");
        if (giveUp) return;
        await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempt)));
      }
    }
  }
}
