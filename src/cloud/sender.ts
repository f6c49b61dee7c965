/**
 * One panel's outgoing pipeline: commands handed over are parsed, numbered in order (base+1,
 * base+2, ...), coalesced into one envelope (a batch of up to `maxBatch`, split to stay under
 * `maxPayloadBytes`) and published; one envelope is in flight at a time, and the next one is
 * encoded while it waits for its ack. An unacked envelope is resent unchanged (same ids and seqs:
 * the agent answers a redelivery with its stored result) at the ack-timeout pace, doubling up to
 * a minute, with jitter so that many panels' resends after a broker outage do not go in lock-step.
 *
 * The sender knows nothing of MQTT or of acks: the client tells it what the panel said (`settle`,
 * `envelopeFailed`, `requeue`) and gives it a `publish` function.
 */
import { randomUUID } from "node:crypto";
import { encodeParsedBatch, encodeParsedCommand, type CommandToSend, type SigningKey, type State, type WireCommandInput } from "../../protocol/index.js";
import { commandSchema, RuleError } from "../domain/index.js";
import { final, rejectedLocally, type Job } from "./job.js";
import type { SeqStore } from "./seq-store.js";
import type { ErrorDetail, RejectedOutcome } from "./types.js";

export interface Inflight {
  /** Batch id for a batch, the command id for a single command. */
  key: string;
  batch: boolean;
  jobs: Job[];
  bytes: Buffer;
  firstSeq: number;
  lastSeq: number;
  attempts: number;
  timer?: NodeJS.Timeout;
  published: boolean;
}

/** What the sender asks of the panel it sends to. */
export interface SenderHost {
  readonly panelId: string;
  /** The panel's retained state in hand (sealing key, lastSeq, advertised kinds). */
  state(): State | undefined;
  /** The panel's retained status says offline: the broker keeps what was sent for its session. */
  offline(): boolean;
  /** The database epoch the counter counts in, saved with it. */
  epoch(): string | undefined;
  closed(): boolean;
  connected(): boolean;
  /** Puts the bytes on the panel's command topic (QoS 1); only called while connected. */
  publish(bytes: Buffer): void;
  /** Jobs were answered: the deadlines may forget them. */
  answered(): void;
}

export interface SenderOptions {
  signingKey: SigningKey;
  maxBatch: number;
  maxPayloadBytes: number;
  ackTimeoutMs: number;
  seqStore: SeqStore;
  /** Epoch ms (command expiry). */
  now: () => number;
  /** In [0, 1): the jitter of resend delays. */
  random: () => number;
}

/** The longest wait between two resends of one envelope (before jitter). */
export const MAX_RETRY_MS = 60_000;
/** A resend waits up to this fraction longer than its nominal delay; never shorter (an early resend only costs the agent a redelivery). */
export const RETRY_JITTER = 0.2;
/** Commands parsed per event-loop turn in the background (~1 ms). */
const SCREEN_CHUNK = 256;

/** The wait after publishing an envelope sent `attempts` times before: ackTimeout * 2^attempts up to a minute, plus jitter. */
export function retryDelay(ackTimeoutMs: number, attempts: number, random: number): number {
  const nominal = Math.min(ackTimeoutMs * 2 ** attempts, MAX_RETRY_MS);
  return Math.round(nominal * (1 + RETRY_JITTER * random));
}

export class PanelSender {
  readonly #host: SenderHost;
  readonly #o: SenderOptions;
  /** The last seq assigned; undefined until the retained state and the stored seq are known. */
  lastAssigned: number | undefined;
  /** Sending waits while a re-sequencing re-reads the panel's state. */
  hold = false;
  /**
   * Handed over, not yet parsed, in order. Parsing is deferred until a command is taken into an
   * envelope (or screened in the background): a burst of sends then costs the caller little, and
   * the parsing of later commands overlaps with the agent applying earlier ones.
   */
  #incoming: Job[] = [];
  #screenScheduled = false;
  /** Parsed, waiting for an envelope, in order. */
  #queue: Job[] = [];
  #inflight: Inflight | undefined;
  /** The next envelope, encoded while `inflight` waits for its ack. */
  #prepared: Inflight | undefined;
  #flushScheduled = false;

  constructor(host: SenderHost, options: SenderOptions) {
    this.#host = host;
    this.#o = options;
  }

  /** The envelope waiting for its ack, if any. */
  get inflight(): Inflight | undefined {
    return this.#inflight;
  }

  /** A job handed over: it goes in order after everything before it. */
  enqueue(job: Job): void {
    this.#incoming.push(job);
    this.scheduleFlush();
  }

  scheduleFlush(): void {
    if (this.#flushScheduled || this.#host.closed()) return;
    if (this.#inflight || this.lastAssigned === undefined || this.hold) return this.#screenSoon();
    if (this.#queue.length === 0 && this.#incoming.length === 0 && !this.#prepared) return;
    this.#flushScheduled = true;
    // A microtask, not setImmediate: commands handed over in one go (a loop of sends, sendMany)
    // still end up in one envelope, without an extra event-loop turn on every single command.
    queueMicrotask(() => {
      this.#flushScheduled = false;
      void this.#flush();
    });
  }

  /** The envelope in flight was answered (its jobs are the caller's to settle): the next one may go. */
  settle(): void {
    const inflight = this.#inflight;
    if (inflight?.timer) clearTimeout(inflight.timer);
    this.#inflight = undefined;
    // A prepared envelope goes at once (publishing without awaiting is fine inside the handler).
    if (this.#prepared) void this.#flush();
    else this.scheduleFlush();
  }

  /** The envelope failed as a whole (signature, key, size, schema): nothing was applied, no seq used. */
  envelopeFailed(code: string, detail?: ErrorDetail): void {
    const inflight = this.#inflight;
    if (!inflight) return;
    this.unprepare();
    if (this.lastAssigned === inflight.lastSeq) {
      this.lastAssigned = inflight.firstSeq - 1;
      void Promise.resolve(this.#o.seqStore.save(this.#host.panelId, this.lastAssigned)).catch(() => {});
    }
    this.settle();
    for (const job of inflight.jobs) {
      const out: RejectedOutcome = { status: "rejected", panelId: this.#host.panelId, id: job.id, code };
      if (detail) out.detail = detail;
      final(job, out);
    }
  }

  /**
   * Drops the envelope in flight and puts `jobs` (refused for a stale counter) back at the head
   * of the queue without their seqs, marked so a second refusal is final. Sending holds until the
   * caller has the panel's word on its counter and lifts `hold`.
   */
  requeue(jobs: Job[]): void {
    if (this.#inflight?.timer) clearTimeout(this.#inflight.timer);
    this.#inflight = undefined;
    this.unprepare();
    for (const job of jobs) {
      job.resent = true;
      delete job.seq;
    }
    this.#queue.unshift(...jobs);
    this.hold = true;
  }

  /** Gives a prepared envelope's commands back to the head of the queue (its seqs are void, e.g. sealed to an old key). */
  unprepare(): void {
    const prepared = this.#prepared;
    if (!prepared) return;
    this.#prepared = undefined;
    for (const job of prepared.jobs) delete job.seq;
    this.#queue.unshift(...prepared.jobs.filter((j) => !j.finalDone));
  }

  /** The connection is back: what was in flight may have been lost with it. Same bytes again. */
  republish(): void {
    if (this.#inflight) this.#publish(this.#inflight);
  }

  /** The panel came back online: what the broker queued arrives now; resend only if that does not answer in time. */
  backOnline(): void {
    const inflight = this.#inflight;
    if (!inflight) return;
    inflight.attempts = 0;
    if (inflight.timer) clearTimeout(inflight.timer);
    inflight.timer = setTimeout(() => this.#retry(inflight), retryDelay(this.#o.ackTimeoutMs, 0, this.#o.random()));
  }

  /** The client closes: every job not yet answered, in order, for the caller to answer `closed`. */
  close(): Job[] {
    if (this.#inflight?.timer) clearTimeout(this.#inflight.timer);
    const jobs = [...(this.#inflight?.jobs ?? []), ...(this.#prepared?.jobs ?? []), ...this.#queue, ...this.#incoming];
    this.#inflight = undefined;
    this.#prepared = undefined;
    this.#queue = [];
    this.#incoming = [];
    return jobs;
  }

  /**
   * Parses handed-over commands in order and moves the valid ones to the queue, until `want` more
   * are queued or none are left; an invalid one is refused locally (no seq is used). With `state`,
   * also refuses what this agent does not advertise or what has expired.
   */
  #admit(want: number, state?: State, now = 0): void {
    const incoming = this.#incoming;
    let read = 0;
    for (let added = 0; read < incoming.length && added < want; ) {
      const job = incoming[read++]!;
      if (job.finalDone) continue;
      const parsed = commandSchema.safeParse(job.input);
      job.input = undefined;
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        final(job, rejectedLocally(this.#host.panelId, job.id, "schema_violation", issue ? { path: issue.path.join(".") || "(root)", issue: issue.code } : undefined));
        continue;
      }
      job.command = parsed.data as WireCommandInput;
      if (state && this.#refused(job, state, now)) continue;
      this.#queue.push(job);
      added++;
    }
    if (read > 0) incoming.splice(0, read);
    this.#host.answered();
  }

  /** Refuses locally, before any seq is used, a parsed command this agent does not advertise or that has expired. */
  #refused(job: Job, state: State, now: number): boolean {
    if (job.finalDone) return true;
    const kind = job.command!.kind;
    if (!state.proto.kinds.includes(kind)) final(job, rejectedLocally(this.#host.panelId, job.id, "unknown_command", { kind }));
    else if (job.expiresAt <= now) final(job, rejectedLocally(this.#host.panelId, job.id, "command_expired"));
    else return false;
    return true;
  }

  /**
   * Parses what waits in `incoming` a chunk per event-loop turn while nothing takes it (no state
   * yet, an envelope in flight), so an invalid command is refused at once, as if it had been
   * parsed when it was handed over, without holding up acks for a whole burst.
   */
  #screenSoon(): void {
    if (this.#screenScheduled || this.#incoming.length === 0 || this.#host.closed()) return;
    this.#screenScheduled = true;
    setImmediate(() => {
      this.#screenScheduled = false;
      if (this.#host.closed()) return;
      this.#admit(SCREEN_CHUNK);
      this.#screenSoon();
    });
  }

  /**
   * Takes what heads the queue (up to maxBatch), refuses locally what cannot be sent (kind not
   * advertised, expired, invalid: no seq is used for those), and encodes one envelope whose
   * commands carry base+1, base+2, ...
   */
  #take(base: number): Inflight | undefined {
    const panelId = this.#host.panelId;
    const state = this.#host.state()!;
    const now = this.#o.now();
    const keys = { signingKey: this.#o.signingKey, agentPublicKey: state.sealKey };
    const max = this.#o.maxBatch;
    for (;;) {
      // Up to maxBatch sendable commands to the head of the queue, in order.
      const q = this.#queue;
      let kept = 0;
      let read = 0;
      while (read < q.length && kept < max) {
        const job = q[read++]!;
        if (!this.#refused(job, state, now)) q[kept++] = job;
      }
      if (read > kept) q.splice(kept, read - kept);
      if (kept < max) this.#admit(max - kept, state, now);
      if (q.length === 0) return undefined;
      let count = Math.min(q.length, max);
      let encoded: { bytes: Buffer; key: string } | undefined;
      for (;;) {
        const jobs = q.slice(0, count);
        const items: CommandToSend[] = jobs.map((job, i) => ({ seq: base + 1 + i, expiresAt: job.expiresAt, command: job.command! }));
        try {
          if (items.length === 1) encoded = { bytes: encodeParsedCommand(panelId, items[0]!, keys), key: jobs[0]!.id };
          else {
            const batchId = randomUUID();
            encoded = { bytes: encodeParsedBatch(panelId, batchId, items, keys), key: batchId };
          }
        } catch (err) {
          // One bad command must not sink the others: send the head alone; if it is the bad one, refuse it.
          if (count > 1) {
            count = 1;
            continue;
          }
          const job = q.shift()!;
          const e = err instanceof RuleError ? err : new RuleError("schema_violation");
          final(job, rejectedLocally(panelId, job.id, e.code, e.detail));
          encoded = undefined;
          break;
        }
        if (encoded.bytes.length > this.#o.maxPayloadBytes && count > 1) {
          count = Math.ceil(count / 2);
          continue;
        }
        break;
      }
      if (!encoded) continue;
      const jobs = q.splice(0, count);
      jobs.forEach((job, i) => (job.seq = base + 1 + i));
      return { key: encoded.key, batch: count > 1, jobs, bytes: encoded.bytes, firstSeq: base + 1, lastSeq: base + count, attempts: 0, published: false };
    }
  }

  /** While an envelope is in flight, encodes the next one, so it can go the moment the ack comes. */
  #prepare(): void {
    if (!this.#inflight || this.#prepared || (this.#queue.length === 0 && this.#incoming.length === 0) || this.#host.closed()) return;
    this.#prepared = this.#take(this.#inflight.lastSeq);
    this.#screenSoon();
  }

  /** Sends the next envelope: the prepared one when its seqs still follow on, else a fresh one. */
  async #flush(): Promise<void> {
    if (this.#inflight || this.lastAssigned === undefined || this.hold || this.#host.closed()) return;
    const panelId = this.#host.panelId;
    const base = Math.max(this.lastAssigned, this.#host.state()!.lastSeq);
    if (this.#prepared && (this.#prepared.firstSeq !== base + 1 || this.#prepared.jobs.some((j) => j.finalDone))) this.unprepare();
    const inflight = this.#prepared ?? this.#take(base);
    this.#prepared = undefined;
    if (!inflight) return;
    this.#inflight = inflight;
    const previous = this.lastAssigned;
    this.lastAssigned = inflight.lastSeq;
    try {
      const saved = this.#o.seqStore.save(panelId, inflight.lastSeq, this.#host.epoch());
      if (saved instanceof Promise) await saved;
    } catch {
      this.lastAssigned = previous;
      this.#inflight = undefined;
      for (const job of inflight.jobs) final(job, rejectedLocally(panelId, job.id, "seq_store_failed"));
      this.scheduleFlush();
      return;
    }
    if (this.#host.closed()) return;
    this.#publish(inflight);
    if (this.#queue.length > 0 || this.#incoming.length > 0) setImmediate(() => this.#prepare());
  }

  #publish(inflight: Inflight): void {
    if (inflight.timer) clearTimeout(inflight.timer);
    inflight.timer = setTimeout(() => this.#retry(inflight), retryDelay(this.#o.ackTimeoutMs, inflight.attempts, this.#o.random()));
    // Not connected: republish() sends what is in flight once the connection is back.
    if (!this.#host.connected()) return;
    inflight.attempts++;
    inflight.published = true;
    this.#host.publish(inflight.bytes);
  }

  #retry(inflight: Inflight): void {
    inflight.timer = undefined;
    if (this.#inflight !== inflight || this.#host.closed()) return;
    if (this.#host.offline()) {
      // The broker keeps it for the panel's persistent session; wait for the panel to come back.
      inflight.timer = setTimeout(() => this.#retry(inflight), this.#o.ackTimeoutMs);
      return;
    }
    this.#publish(inflight);
  }
}
