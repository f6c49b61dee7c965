import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { z } from "zod";
import {
  decodeAck,
  decodeEvent,
  decodeState,
  decodeStatus,
  encodeParsedBatch,
  encodeParsedCommand,
  fleetFilter,
  LIMITS,
  panelTopics,
  parseTopic,
  DEFAULT_PREFIX,
  type AnyAck,
  type CommandToSend,
  type Outcome as WireOutcome,
  type PanelTopics,
  type SigningKey,
  type State,
  type Status,
  type WireCommandInput,
  type WireCommandResult,
  type WireEvent,
} from "../../protocol/index.js";
import { commandSchema, RuleError, type Actor } from "../domain/index.js";
import { MQTT_LOG } from "../mqtt-log.js";
import type { AgentChannel, ForgedMessage, IdentityPinned, TrustMode } from "./authenticity.js";
import { IdentityGate } from "./identity-gate.js";
import { MemorySeqStore, type SeqStore } from "./seq-store.js";

// =============================================================================================
// types

type InputCommand = z.input<typeof commandSchema>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * A command as a caller hands it over: a domain command (codes and tags as `Secret`) whose `id`
 * (default: a random UUID) and `actor` (default: the client's `actor`) may be left out.
 */
export type CommandInput = DistributiveOmit<Extract<InputCommand, { kind: WireCommandInput["kind"] }>, "id" | "actor"> & { id?: string; actor?: Actor };

export type ErrorDetail = Record<string, string | number | boolean>;

export interface AppliedOutcome {
  status: "applied";
  panelId: string;
  id: string;
  seq: number;
  result?: WireCommandResult;
  /** The agent had applied it already (a redelivery): this is its stored result. */
  dup?: true;
}

export interface RejectedOutcome {
  status: "rejected";
  panelId: string;
  id: string;
  seq?: number;
  /** The stable error code (protocol/README.md section 9; `sequence_gap` after a gap). Unknown codes are permanent rejections too. */
  code: string;
  detail?: ErrorDetail;
  /** Refused by this client before anything was sent (invalid command, kind not advertised): no seq was used. */
  local?: true;
}

export type PendingReason =
  /** The panel's retained status is offline: the command waits in the broker / in this client. */
  | "offline"
  /** No ack within the ack timeout although the panel is not known to be offline. */
  | "timeout"
  /** The panel has never published its retained state: nothing could be sealed or sequenced yet. */
  | "no_state"
  /** The client was closed before an answer came. */
  | "closed";

export interface PendingOutcome {
  status: "pending";
  panelId: string;
  id: string;
  seq?: number;
  reason: PendingReason;
  /** Resolves with the final outcome when the ack arrives (or `pending`/`closed` when the client closes first). */
  later: Promise<Outcome>;
}

export type Outcome = AppliedOutcome | RejectedOutcome | PendingOutcome;

export interface TlsOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized?: boolean;
}

export interface CloudClientOptions {
  /** mqtt://, mqtts://, ws:// or wss:// */
  url: string;
  signingKey: SigningKey;
  protocolVersion?: 4 | 5;
  clientId?: string;
  /** Persistent session (needs a fixed clientId). Default false: acks missed while disconnected are recovered by resending. */
  persistentSession?: boolean;
  username?: string;
  password?: string;
  tls?: TlsOptions;
  topicPrefix?: string;
  /** Commands expire this long after they are handed over (default 5 min). */
  commandLifetimeMs?: number;
  /** A caller's promise resolves `pending` after this long without an ack; unacked envelopes are resent at this pace (default 10 s). */
  ackTimeoutMs?: number;
  /** How long connect() waits for the broker (default 10 s). */
  connectTimeoutMs?: number;
  /** Commands per batch envelope, at most 1000 (default 500). */
  maxBatch?: number;
  /** Envelopes larger than this are split (default 240 KiB, under the agent's 256 KiB default). */
  maxPayloadBytes?: number;
  /** The last seq assigned per panel (default: in memory). */
  seqStore?: SeqStore;
  /** Subscribe to every panel's ack/evt/state/status at once (one service holding a panel directory); default: per panel, on first use. */
  fleet?: boolean;
  /** The actor of commands that name none (default `{ kind: "cloud", id: "cloud-client" }`). */
  actor?: Actor;
  /**
   * Let the client keep its counter in step with the panel (default false). When true: a panel
   * whose retained state shows a new database epoch (it was reset) gets its counter re-aligned to
   * its `lastSeq` (event `reset`); and a command refused `replayed` or `sequence_gap` (the
   * counter was stale: another sender, a lost counter file, a reset panel) is re-sequenced from
   * the panel's word and sent again, once (event `resequenced`): the agent dedups by (seq, id), so
   * a resend never applies twice. Leave it false when the caller's own journal owns the numbers
   * (the client's seqs must then stay the ones it loaded from the SeqStore).
   */
  resequence?: boolean;
  /**
   * How a panel's identity is learned (protocol/README.md 4.1). `tofu` (default): the first
   * signed state seen pins it (logged, event `identity`), kept in the SeqStore when it can;
   * `provisioned`: only identities given by `pinIdentity` (or found in the SeqStore) are believed.
   */
  trust?: TrustMode;
  /**
   * Verify that every ack, event and state is signed by the panel's pinned identity (default
   * true). An unsigned or badly signed message is dropped and reported (event `forged`), never
   * taken as an outcome. false only for a benchmark's baseline against an agent that signs nothing.
   */
  verify?: boolean;
  /** Where pins and dropped messages are logged (pino-compatible); default: events only. */
  logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  now?: () => number;
}

export type CloudErrorCode = "not_connected" | "connection_failed" | "closed" | "invalid_panel_id";

export class CloudError extends Error {
  readonly code: CloudErrorCode;
  constructor(code: CloudErrorCode, message: string) {
    super(message);
    this.name = "CloudError";
    this.code = code;
  }
}

export interface ResyncRequest {
  panelId: string;
  lastSeq: number;
  gotSeq?: number;
  reason: "sequence_gap" | "startup" | "restored";
}

/** A panel's retained state showed another database epoch than the one its counter counted in. */
export interface PanelReset {
  panelId: string;
  /** The new epoch and the one before (from the SeqStore or this process). */
  epoch: string;
  previousEpoch: string;
  /** The panel's lastSeq in its new database. */
  lastSeq: number;
  /** The counter before the reset was seen. */
  counter: number;
  /** The counter was set to `lastSeq` (option `resequence`); otherwise it was left alone. */
  realigned: boolean;
}

/** Commands refused for a stale counter were numbered again and resent (option `resequence`). */
export interface Resequenced {
  panelId: string;
  code: "replayed" | "sequence_gap";
  /** The first seq they had, and the first they have now. */
  from: number;
  to: number;
  commands: number;
}

export interface CloudClientEvents {
  /** The connection to the broker was lost (`up: false`, once per outage) or is back (`up: true`); the client reconnects by itself. */
  broker: [info: { up: boolean }];
  /** The panel's database was made anew (new epoch): its table is gone; send a snapshot. */
  reset: [info: PanelReset];
  /** Commands refused `replayed` / `sequence_gap` were re-sequenced and resent (option `resequence`). */
  resequenced: [info: Resequenced];
  /** A decoded event of any panel this client listens to (deduplicated by `n`). */
  event: [panelId: string, event: WireEvent];
  /** The agent asked for a resync: answer with a `snapshot` (`send(panelId, { kind: "snapshot", ... })`). */
  resync: [request: ResyncRequest];
  state: [panelId: string, state: State];
  status: [panelId: string, status: Status];
  /** A panel's identity was pinned (on first use, provisioned, or loaded from the SeqStore). */
  identity: [info: IdentityPinned];
  /** A message on a panel's ack/evt/state topic was dropped: not signed by the panel's pinned identity. */
  forged: [info: ForgedMessage];
  /** Something undecodable or unexpected arrived; informational. */
  warning: [info: { panelId?: string; code: string }];
}

// =============================================================================================
// internals

interface Job {
  panelId: string;
  id: string;
  /** What the caller handed over (id and actor filled in), until it is parsed. */
  input: unknown;
  /** commandSchema's output, once parsed (every job in `queue` and later has one). */
  command?: WireCommandInput;
  seq?: number;
  firstDone: boolean;
  finalDone: boolean;
  resolveFirst: (o: Outcome) => void;
  /** Made only when a pending outcome hands it out: most commands are answered in time. */
  later?: Promise<Outcome>;
  resolveLater?: (o: Outcome) => void;
  /** performance.now() after which the caller gets `pending`. */
  deadline: number;
  expiresAt: number;
  /** Already re-sequenced once after a stale counter: a second refusal is final. */
  resent?: true;
}

interface Inflight {
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

interface Panel {
  id: string;
  topics: PanelTopics;
  state?: State;
  status?: Status;
  subscribed?: Promise<void>;
  /** Set once the retained state and the stored seq are known. */
  lastAssigned?: number;
  initializing: boolean;
  /**
   * Handed over, not yet parsed, in order. Parsing is deferred until a command is taken into an
   * envelope (or screened in the background): a burst of sends then costs the caller little, and
   * the parsing of later commands overlaps with the agent applying earlier ones.
   */
  incoming: Job[];
  screenScheduled: boolean;
  /** Parsed, waiting for an envelope, in order. */
  queue: Job[];
  inflight?: Inflight;
  /** The next envelope, encoded while `inflight` waits for its ack. */
  prepared?: Inflight;
  flushScheduled: boolean;
  /**
   * Jobs whose caller has no answer yet, in hand-over order, which is deadline order (one ack
   * timeout for all): one timer per panel instead of one per command.
   */
  waiting: Job[];
  waitTimer?: NodeJS.Timeout;
  stateWaiters: Array<(s: State) => void>;
  highestN: number;
  /** The database epoch the counter counts in (from the SeqStore, then from the retained state). */
  epoch?: string;
  /** Sending waits while a re-sequencing re-reads the panel's state. */
  hold?: boolean;
  /** Epochs this panel's states showed before the current one: a state of one of them is a replay. */
  pastEpochs?: Set<string>;
}

const DEFAULTS = {
  commandLifetimeMs: 5 * 60_000,
  ackTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  maxBatch: 500,
  maxPayloadBytes: 240 * 1024,
};
const MAX_RETRY_MS = 60_000;
/** Commands parsed per event-loop turn in the background (~1 ms). */
const SCREEN_CHUNK = 256;
const AGENT_CHANNELS = ["ack", "evt", "state", "status"] as const;

function final(job: Job, o: Outcome): void {
  if (!job.firstDone) {
    job.firstDone = true;
    job.resolveFirst(o);
  }
  if (!job.finalDone) {
    job.finalDone = true;
    job.resolveLater?.(o);
  }
}

function laterOf(job: Job): Promise<Outcome> {
  job.later ??= new Promise<Outcome>((r) => (job.resolveLater = r));
  return job.later;
}

function fromWire(panelId: string, job: Job, o: WireOutcome): AppliedOutcome | RejectedOutcome {
  if (o.ok) {
    const out: AppliedOutcome = { status: "applied", panelId, id: job.id, seq: o.seq };
    if (o.result !== undefined) out.result = o.result;
    if (o.dup) out.dup = true;
    return out;
  }
  const out: RejectedOutcome = { status: "rejected", panelId, id: job.id, code: o.error.code };
  if (o.seq !== undefined) out.seq = o.seq;
  if (o.error.detail !== undefined) out.detail = o.error.detail;
  return out;
}

function rejectedLocally(panelId: string, id: string, code: string, detail?: ErrorDetail): RejectedOutcome {
  const out: RejectedOutcome = { status: "rejected", panelId, id, code, local: true };
  if (detail) out.detail = detail;
  return out;
}

// =============================================================================================

/**
 * The cloud side of the wire protocol: signs, seals and sequences commands for many panels over
 * one MQTT connection, and turns acks back into one outcome per caller.
 *
 * Per panel, one envelope is in flight at a time; commands handed over meanwhile queue, and when
 * the ack arrives everything queued goes as ONE batch envelope (up to `maxBatch`), which the agent
 * applies in one transaction. An unacked envelope is resent unchanged (same ids and seqs) after a
 * reconnect or a timeout; the agent answers a redelivery with its stored result.
 *
 * The constructor only wires; `connect()` opens the connection, `close()` ends it.
 */
export class CloudClient extends EventEmitter<CloudClientEvents> {
  readonly #o: Required<Omit<CloudClientOptions, "clientId" | "username" | "password" | "tls" | "seqStore" | "now" | "persistentSession" | "fleet" | "logger">> &
    Pick<CloudClientOptions, "clientId" | "username" | "password" | "tls" | "persistentSession" | "fleet" | "logger">;
  readonly #seqStore: SeqStore;
  readonly #gate: IdentityGate;
  readonly #now: () => number;
  readonly #panels = new Map<string, Panel>();
  #client: MqttClient | undefined;
  #closed = false;
  #fleetEvents = false;
  readonly #iterators = new Set<() => void>();

  constructor(options: CloudClientOptions) {
    super();
    const maxBatch = Math.min(Math.max(1, options.maxBatch ?? DEFAULTS.maxBatch), LIMITS.maxBatch);
    this.#o = {
      url: options.url,
      signingKey: options.signingKey,
      protocolVersion: options.protocolVersion ?? 4,
      topicPrefix: options.topicPrefix ?? DEFAULT_PREFIX,
      commandLifetimeMs: options.commandLifetimeMs ?? DEFAULTS.commandLifetimeMs,
      ackTimeoutMs: options.ackTimeoutMs ?? DEFAULTS.ackTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
      maxBatch,
      maxPayloadBytes: options.maxPayloadBytes ?? DEFAULTS.maxPayloadBytes,
      actor: options.actor ?? { kind: "cloud", id: "cloud-client" },
      clientId: options.clientId,
      username: options.username,
      password: options.password,
      tls: options.tls,
      persistentSession: options.persistentSession,
      fleet: options.fleet,
      resequence: options.resequence ?? false,
      trust: options.trust ?? "tofu",
      verify: options.verify ?? true,
      logger: options.logger,
    };
    this.#seqStore = options.seqStore ?? new MemorySeqStore();
    this.#now = options.now ?? Date.now;
    this.#gate = new IdentityGate({
      trust: this.#o.trust,
      store: this.#seqStore,
      ...(options.logger ? { logger: options.logger } : {}),
      deliver: (panelId, channel, body, payload) => {
        const p = this.#panels.get(panelId);
        if (p) this.#deliver(p, channel, body, payload);
      },
      forged: (info) => this.emit("forged", info),
      identity: (info) => this.emit("identity", info),
      warning: (panelId, code) => this.emit("warning", { panelId, code }),
    });
  }

  get connected(): boolean {
    return this.#client?.connected === true;
  }

  /** Connects to the broker; rejects with CloudError `connection_failed` when it cannot (then nothing stays open). */
  async connect(): Promise<void> {
    if (this.#closed) throw new CloudError("closed", "the client was closed");
    if (this.#client) return;
    const o = this.#o;
    const opts: IClientOptions = {
      clientId: o.clientId ?? `cloud-${randomUUID()}`,
      clean: !o.persistentSession,
      protocolVersion: o.protocolVersion,
      keepalive: 30,
      reconnectPeriod: 1000,
      connectTimeout: o.connectTimeoutMs,
      ...MQTT_LOG,
      username: o.username,
      password: o.password,
      ...(o.persistentSession && o.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 24 * 3600 } } : {}),
      ...(o.tls ? { ca: o.tls.ca, cert: o.tls.cert, key: o.tls.key, rejectUnauthorized: o.tls.rejectUnauthorized ?? true } : {}),
    };
    const client = mqtt.connect(o.url, opts);
    this.#client = client;
    let first = true;
    let down = false;
    client.on("close", () => {
      if (first || down || this.#closed) return;
      down = true;
      this.emit("broker", { up: false });
    });
    client.on("connect", () => {
      // mqtt.js leaves Nagle on: a QoS 1 round trip would cost tens of milliseconds.
      (client.stream as unknown as Socket).setNoDelay?.(true);
      if (o.fleet) client.subscribe(AGENT_CHANNELS.map((c) => fleetFilter(c, o.topicPrefix)), { qos: 1 });
      if (first) {
        first = false;
        return;
      }
      if (down) {
        down = false;
        this.emit("broker", { up: true });
      }
      // A reconnect: what was in flight may have been lost with the connection. Same bytes again.
      for (const p of this.#panels.values()) if (p.inflight) this.#publish(p, p.inflight);
    });
    client.on("message", (topic, payload) => this.#onMessage(topic, payload));
    // mqtt.js sends the PUBACK of an ack as soon as this returns, and its socket write (a nextTick)
    // would run before the caller resumes and sends the next command. One microtask later, the
    // PUBACK is corked together with that next PUBLISH: one write on the round trip instead of two.
    client.handleMessage = (_packet, callback) => queueMicrotask(() => callback());
    client.on("error", () => {
      /* reported through connect() or retried by reconnecting */
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new CloudError("connection_failed", "no connection to the broker")), o.connectTimeoutMs);
        const onError = (err: Error) => {
          clearTimeout(timer);
          reject(new CloudError("connection_failed", `cannot connect to the broker (${(err as NodeJS.ErrnoException).code ?? err.name})`));
        };
        client.once("error", onError);
        client.once("connect", () => {
          clearTimeout(timer);
          client.off("error", onError);
          resolve();
        });
      });
    } catch (err) {
      this.#client = undefined;
      client.end(true);
      throw err;
    }
  }

  /** Ends the connection. Outcomes still open resolve `pending` with reason `closed`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const stop of [...this.#iterators]) stop();
    for (const p of this.#panels.values()) {
      if (p.inflight?.timer) clearTimeout(p.inflight.timer);
      if (p.waitTimer) clearTimeout(p.waitTimer);
      p.waitTimer = undefined;
      p.waiting = [];
      const jobs = [...(p.inflight?.jobs ?? []), ...(p.prepared?.jobs ?? []), ...p.queue, ...p.incoming];
      p.inflight = undefined;
      p.prepared = undefined;
      p.queue = [];
      p.incoming = [];
      for (const job of jobs) this.#closeJob(job);
    }
    const client = this.#client;
    this.#client = undefined;
    if (client) await client.endAsync();
  }

  // -------------------------------------------------------------------------------------------
  // panels

  #panel(panelId: string): Panel {
    let p = this.#panels.get(panelId);
    if (!p) {
      let topics: PanelTopics;
      try {
        topics = panelTopics(panelId, this.#o.topicPrefix);
      } catch {
        throw new CloudError("invalid_panel_id", "invalid panel id");
      }
      p = { id: panelId, topics, initializing: false, incoming: [], screenScheduled: false, queue: [], flushScheduled: false, waiting: [], stateWaiters: [], highestN: 0 };
      this.#panels.set(panelId, p);
    }
    return p;
  }

  #client_(): MqttClient {
    if (this.#closed) throw new CloudError("closed", "the client was closed");
    if (!this.#client) throw new CloudError("not_connected", "connect() first");
    return this.#client;
  }

  /** Subscribes to the panel's ack, evt, state and status (once). */
  #watch(p: Panel): Promise<void> {
    if (this.#o.fleet) return Promise.resolve();
    const client = this.#client_();
    p.subscribed ??= new Promise<void>((resolve) => {
      client.subscribe(AGENT_CHANNELS.map((c) => p.topics[c]), { qos: 1 }, () => resolve());
    });
    return p.subscribed;
  }

  /** The panel's retained state, waiting up to `timeoutMs` for it; undefined when none came. */
  async panelState(panelId: string, timeoutMs = this.#o.ackTimeoutMs): Promise<State | undefined> {
    const p = this.#panel(panelId);
    await this.#watch(p);
    if (p.state) return p.state;
    return new Promise<State | undefined>((resolve) => {
      const timer = setTimeout(() => {
        p.stateWaiters = p.stateWaiters.filter((w) => w !== waiter);
        resolve(undefined);
      }, timeoutMs);
      const waiter = (s: State) => {
        clearTimeout(timer);
        resolve(s);
      };
      p.stateWaiters.push(waiter);
    });
  }

  /** The panel's last retained status (undefined until it arrives, or when it never published one). */
  panelStatus(panelId: string): Status | undefined {
    return this.#panels.get(panelId)?.status;
  }

  /** Starts listening to a panel (state, status, events) without sending anything. */
  async watch(panelId: string): Promise<void> {
    await this.#watch(this.#panel(panelId));
  }

  // -------------------------------------------------------------------------------------------
  // sending

  /**
   * Signs, seals and sends one command to a panel. Resolves with its outcome: `applied`,
   * `rejected` (with the agent's code), or `pending` when no ack came within the ack timeout
   * (reason `offline` when the panel's retained status says so). A pending outcome's `later`
   * resolves when the ack finally arrives. Never rejects for the panel's answer; throws
   * CloudError for a closed or unconnected client or an invalid panel id.
   *
   * The command is checked when it is taken into an envelope (or screened soon after the caller's
   * synchronous code), not inside this call: an invalid one resolves `rejected` with
   * `local: true` and uses no seq. Nested values (arrays, schedules) are read then too: do not
   * change them after handing the command over.
   */
  send(panelId: string, input: CommandInput): Promise<Outcome> {
    this.#client_();
    const p = this.#panel(panelId);
    const id = input.id ?? randomUUID();
    let resolveFirst!: (o: Outcome) => void;
    const first = new Promise<Outcome>((r) => (resolveFirst = r));
    const job: Job = {
      panelId,
      id,
      input: { ...input, id, actor: input.actor ?? this.#o.actor },
      firstDone: false,
      finalDone: false,
      resolveFirst,
      deadline: performance.now() + this.#o.ackTimeoutMs,
      expiresAt: this.#now() + this.#o.commandLifetimeMs,
    };
    p.waiting.push(job);
    if (p.waitTimer) p.waitTimer.ref();
    else p.waitTimer = setTimeout(() => this.#timeouts(p), this.#o.ackTimeoutMs);
    p.incoming.push(job);
    if (p.lastAssigned === undefined) void this.#init(p);
    this.#scheduleFlush(p);
    return first;
  }

  /** The same kind of command to many panels: each its own signed, sealed envelope and ack. Offline panels come back `pending`. */
  async sendMany(panelIds: readonly string[], make: (panelId: string) => CommandInput): Promise<Outcome[]> {
    return Promise.all(panelIds.map((id) => this.send(id, make(id))));
  }

  /** Answers `pending` to every caller whose deadline has passed, then waits for the next deadline. */
  #timeouts(p: Panel): void {
    p.waitTimer = undefined;
    if (this.#closed) return;
    const now = performance.now();
    const waiting = p.waiting;
    let i = 0;
    for (; i < waiting.length; i++) {
      const job = waiting[i]!;
      if (job.firstDone) continue;
      if (job.deadline > now) break;
      this.#jobTimedOut(p, job);
    }
    if (i > 0) waiting.splice(0, i);
    if (waiting.length > 0) p.waitTimer = setTimeout(() => this.#timeouts(p), Math.max(1, Math.ceil(waiting[0]!.deadline - now)));
  }

  /** Forgets answered jobs at the head of `waiting` (answers come mostly in order), and the timer when none are left. */
  #trimWaiting(p: Panel): void {
    const waiting = p.waiting;
    let i = 0;
    while (i < waiting.length && waiting[i]!.firstDone) i++;
    if (i > 0) waiting.splice(0, i);
    // Kept armed but unref'd rather than cleared: one command at a time would otherwise make and
    // clear a timer per command. Firing with nothing due just re-arms for the next deadline.
    if (waiting.length === 0) p.waitTimer?.unref();
  }

  #jobTimedOut(p: Panel, job: Job): void {
    if (job.firstDone) return;
    job.firstDone = true;
    const reason: PendingReason = p.status?.status === "offline" ? "offline" : p.state ? "timeout" : "no_state";
    const out: PendingOutcome = { status: "pending", panelId: p.id, id: job.id, reason, later: laterOf(job) };
    if (job.seq !== undefined) out.seq = job.seq;
    job.resolveFirst(out);
  }

  #closeJob(job: Job): void {
    const out: PendingOutcome = { status: "pending", panelId: job.panelId, id: job.id, reason: "closed", later: laterOf(job) };
    if (job.seq !== undefined) out.seq = job.seq;
    if (!job.firstDone) {
      job.firstDone = true;
      job.resolveFirst(out);
    }
    if (!job.finalDone) {
      job.finalDone = true;
      job.resolveLater?.(out);
    }
  }

  /** Learns the panel's state and our stored seq, then starts sending. */
  async #init(p: Panel): Promise<void> {
    if (p.initializing) return;
    p.initializing = true;
    try {
      await this.#watch(p);
      const state = p.state ?? (await new Promise<State>((resolve) => p.stateWaiters.push(resolve)));
      const stored = await this.#seqStore.load(p.id);
      const storedEpoch = this.#seqStore.loadEpoch ? await this.#seqStore.loadEpoch(p.id) : undefined;
      const current = p.state ?? state;
      const counter = Math.max(stored ?? 0, current.lastSeq);
      p.epoch ??= storedEpoch;
      if (p.epoch !== undefined && current.epoch !== undefined && p.epoch !== current.epoch) this.#reset(p, current, stored ?? 0);
      else {
        p.lastAssigned = counter;
        p.epoch ??= current.epoch;
      }
      this.#scheduleFlush(p);
    } catch {
      // closed meanwhile: close() already settled the queue
    } finally {
      p.initializing = false;
    }
  }

  /**
   * The panel's state shows another epoch than the counter's: its database was made anew. Events
   * restart at n = 1; what was prepared was sealed to a key that is gone; with `resequence` the
   * counter restarts at the panel's lastSeq.
   */
  #reset(p: Panel, state: State, counter: number): void {
    const previousEpoch = p.epoch!;
    p.epoch = state.epoch;
    p.highestN = 0;
    this.#unprepare(p);
    const realign = this.#o.resequence;
    if (realign) {
      p.lastAssigned = state.lastSeq;
      void Promise.resolve(this.#seqStore.save(p.id, state.lastSeq, state.epoch)).catch(() => {});
    } else p.lastAssigned ??= Math.max(counter, state.lastSeq);
    this.emit("reset", { panelId: p.id, epoch: state.epoch!, previousEpoch, lastSeq: state.lastSeq, counter, realigned: realign });
  }

  #scheduleFlush(p: Panel): void {
    if (p.flushScheduled || this.#closed) return;
    if (p.inflight || p.lastAssigned === undefined || p.hold) return this.#screenSoon(p);
    if (p.queue.length === 0 && p.incoming.length === 0 && !p.prepared) return;
    p.flushScheduled = true;
    // A microtask, not setImmediate: commands handed over in one go (a loop of sends, sendMany)
    // still end up in one envelope, without an extra event-loop turn on every single command.
    queueMicrotask(() => {
      p.flushScheduled = false;
      void this.#flush(p);
    });
  }

  /**
   * Parses handed-over commands in order and moves the valid ones to the queue, until `want` more
   * are queued or none are left; an invalid one is refused locally (no seq is used). With `state`,
   * also refuses what this agent does not advertise or what has expired.
   */
  #admit(p: Panel, want: number, state?: State, now = 0): void {
    const incoming = p.incoming;
    let read = 0;
    for (let added = 0; read < incoming.length && added < want; ) {
      const job = incoming[read++]!;
      if (job.finalDone) continue;
      const parsed = commandSchema.safeParse(job.input);
      job.input = undefined;
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        final(job, rejectedLocally(p.id, job.id, "schema_violation", issue ? { path: issue.path.join(".") || "(root)", issue: issue.code } : undefined));
        continue;
      }
      job.command = parsed.data as WireCommandInput;
      if (state && this.#refused(p, job, state, now)) continue;
      p.queue.push(job);
      added++;
    }
    if (read > 0) incoming.splice(0, read);
    this.#trimWaiting(p);
  }

  /** Refuses locally, before any seq is used, a parsed command this agent does not advertise or that has expired. */
  #refused(p: Panel, job: Job, state: State, now: number): boolean {
    if (job.finalDone) return true;
    const kind = job.command!.kind;
    if (!state.proto.kinds.includes(kind)) final(job, rejectedLocally(p.id, job.id, "unknown_command", { kind }));
    else if (job.expiresAt <= now) final(job, rejectedLocally(p.id, job.id, "command_expired"));
    else return false;
    return true;
  }

  /**
   * Parses what waits in `incoming` a chunk per event-loop turn while nothing takes it (no state
   * yet, an envelope in flight), so an invalid command is refused at once, as if it had been
   * parsed when it was handed over, without holding up acks for a whole burst.
   */
  #screenSoon(p: Panel): void {
    if (p.screenScheduled || p.incoming.length === 0 || this.#closed) return;
    p.screenScheduled = true;
    setImmediate(() => {
      p.screenScheduled = false;
      if (this.#closed) return;
      this.#admit(p, SCREEN_CHUNK);
      this.#screenSoon(p);
    });
  }

  /**
   * Takes what heads the queue (up to maxBatch), refuses locally what cannot be sent (kind not
   * advertised, expired, invalid: no seq is used for those), and encodes one envelope whose
   * commands carry base+1, base+2, ...
   */
  #take(p: Panel, base: number): Inflight | undefined {
    const state = p.state!;
    const now = this.#now();
    const keys = { signingKey: this.#o.signingKey, agentPublicKey: state.sealKey };
    const max = this.#o.maxBatch;
    for (;;) {
      // Up to maxBatch sendable commands to the head of the queue, in order.
      const q = p.queue;
      let kept = 0;
      let read = 0;
      while (read < q.length && kept < max) {
        const job = q[read++]!;
        if (!this.#refused(p, job, state, now)) q[kept++] = job;
      }
      if (read > kept) q.splice(kept, read - kept);
      if (kept < max) this.#admit(p, max - kept, state, now);
      if (q.length === 0) return undefined;
      let count = Math.min(q.length, max);
      let encoded: { bytes: Buffer; key: string } | undefined;
      for (;;) {
        const jobs = q.slice(0, count);
        const items: CommandToSend[] = jobs.map((job, i) => ({ seq: base + 1 + i, expiresAt: job.expiresAt, command: job.command! }));
        try {
          if (items.length === 1) encoded = { bytes: encodeParsedCommand(p.id, items[0]!, keys), key: jobs[0]!.id };
          else {
            const batchId = randomUUID();
            encoded = { bytes: encodeParsedBatch(p.id, batchId, items, keys), key: batchId };
          }
        } catch (err) {
          // One bad command must not sink the others: send the head alone; if it is the bad one, refuse it.
          if (count > 1) {
            count = 1;
            continue;
          }
          const job = p.queue.shift()!;
          const e = err instanceof RuleError ? err : new RuleError("schema_violation");
          final(job, rejectedLocally(p.id, job.id, e.code, e.detail));
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
      const jobs = p.queue.splice(0, count);
      jobs.forEach((job, i) => (job.seq = base + 1 + i));
      return { key: encoded.key, batch: count > 1, jobs, bytes: encoded.bytes, firstSeq: base + 1, lastSeq: base + count, attempts: 0, published: false };
    }
  }

  /** Gives a prepared envelope's commands back to the head of the queue (its seqs are void). */
  #unprepare(p: Panel): void {
    const prepared = p.prepared;
    if (!prepared) return;
    p.prepared = undefined;
    for (const job of prepared.jobs) delete job.seq;
    p.queue.unshift(...prepared.jobs.filter((j) => !j.finalDone));
  }

  /** While an envelope is in flight, encodes the next one, so it can go the moment the ack comes. */
  #prepare(p: Panel): void {
    if (!p.inflight || p.prepared || (p.queue.length === 0 && p.incoming.length === 0) || this.#closed) return;
    p.prepared = this.#take(p, p.inflight.lastSeq);
    this.#screenSoon(p);
  }

  /** Sends the next envelope: the prepared one when its seqs still follow on, else a fresh one. */
  async #flush(p: Panel): Promise<void> {
    if (p.inflight || p.lastAssigned === undefined || p.hold || this.#closed) return;
    const base = Math.max(p.lastAssigned, p.state!.lastSeq);
    if (p.prepared && (p.prepared.firstSeq !== base + 1 || p.prepared.jobs.some((j) => j.finalDone))) this.#unprepare(p);
    const inflight = p.prepared ?? this.#take(p, base);
    p.prepared = undefined;
    if (!inflight) return;
    p.inflight = inflight;
    const previous = p.lastAssigned;
    p.lastAssigned = inflight.lastSeq;
    try {
      const saved = this.#seqStore.save(p.id, inflight.lastSeq, p.epoch);
      if (saved instanceof Promise) await saved;
    } catch {
      p.lastAssigned = previous;
      p.inflight = undefined;
      for (const job of inflight.jobs) final(job, rejectedLocally(p.id, job.id, "seq_store_failed"));
      this.#scheduleFlush(p);
      return;
    }
    if (this.#closed) return;
    this.#publish(p, inflight);
    if (p.queue.length > 0 || p.incoming.length > 0) setImmediate(() => this.#prepare(p));
  }

  #publish(p: Panel, inflight: Inflight): void {
    const client = this.#client;
    if (inflight.timer) clearTimeout(inflight.timer);
    const delay = Math.min(this.#o.ackTimeoutMs * 2 ** inflight.attempts, MAX_RETRY_MS);
    inflight.timer = setTimeout(() => this.#retry(p, inflight), delay);
    // Not connected: the 'connect' handler publishes what is in flight.
    if (!client?.connected) return;
    inflight.attempts++;
    inflight.published = true;
    // Never awaited: a QoS 1 publish is confirmed by PUBACK, the command by its ack.
    client.publish(p.topics.cmd, inflight.bytes, { qos: 1 }, () => {});
  }

  #retry(p: Panel, inflight: Inflight): void {
    inflight.timer = undefined;
    if (p.inflight !== inflight || this.#closed) return;
    if (p.status?.status === "offline") {
      // The broker keeps it for the panel's persistent session; wait for the panel to come back.
      inflight.timer = setTimeout(() => this.#retry(p, inflight), this.#o.ackTimeoutMs);
      return;
    }
    this.#publish(p, inflight);
  }

  // -------------------------------------------------------------------------------------------
  // receiving

  #onMessage(topic: string, payload: Buffer): void {
    const t = parseTopic(topic, this.#o.topicPrefix);
    if (!t || payload.length === 0) return;
    if (t.channel === "status") return this.#onStatus(t.panelId, payload);
    if (t.channel === "cmd") return;
    // Acks only matter to a panel this client sends to.
    const p = t.channel === "ack" ? this.#panels.get(t.panelId) : this.#panel(t.panelId);
    if (!p) return;
    // Not verifying (a benchmark's baseline only): the decoders read either form as it is.
    if (!this.#o.verify) return this.#deliver(p, t.channel, payload);
    this.#gate.receive(p.id, t.channel, payload);
  }

  // -------------------------------------------------------------------------------------------
  // authenticity: every ack, event and state must be signed by the panel's pinned identity

  /**
   * Pins a panel's identity (its Ed25519 public key: raw 32 bytes or hex, e.g. the `identityKey`
   * recorded at enrolment), kept in the SeqStore when it can. From now on only messages signed by
   * it are believed. A state that was refused (a replaced panel's new key) is judged again.
   */
  pinIdentity(panelId: string, publicKey: Uint8Array | string): void {
    this.#panel(panelId);
    this.#gate.pin(panelId, publicKey);
  }

  /**
   * Forgets a panel's pinned identity (a panel replaced or wiped on purpose): in `tofu` mode its
   * next signed state pins a new one (the last refused state, if any, at once).
   */
  forgetIdentity(panelId: string): void {
    this.#panel(panelId);
    this.#gate.forget(panelId);
  }

  /** The identity this client believes for a panel (undefined until pinned). */
  identityOf(panelId: string): { kid: string; publicKey: Buffer } | undefined {
    const id = this.#gate.identityOf(panelId);
    return id ? { kid: id.kid, publicKey: id.publicRaw } : undefined;
  }

  /** A message believed (or, with `verify: false`, taken as it is): decode and act on it. */
  #deliver(p: Panel, channel: AgentChannel, body: Uint8Array, payload?: Buffer): void {
    switch (channel) {
      case "ack": {
        const d = decodeAck(body);
        if (!d.ok) return void this.emit("warning", { panelId: p.id, code: d.error.code });
        if (d.value.panel !== p.id) return this.#gate.refuse(p.id, channel, "wrong_panel");
        this.#onAck(p, d.value);
        this.#trimWaiting(p);
        return;
      }
      case "evt": {
        const d = decodeEvent(body);
        if (!d.ok) return void this.emit("warning", { panelId: p.id, code: d.error.code });
        if (d.value.panel !== p.id) return this.#gate.refuse(p.id, channel, "wrong_panel");
        if (d.value.n <= p.highestN) return;
        p.highestN = d.value.n;
        this.emit("event", p.id, d.value);
        if (d.value.type === "resync_request") {
          const data = d.value.data;
          const req: ResyncRequest = { panelId: p.id, lastSeq: data.lastSeq, reason: data.reason };
          if (data.gotSeq !== undefined) req.gotSeq = data.gotSeq;
          this.emit("resync", req);
        }
        return;
      }
      case "state": {
        const d = decodeState(body);
        if (!d.ok) return void this.emit("warning", { panelId: p.id, code: d.error.code });
        if (d.value.panel !== p.id) return this.#gate.refuse(p.id, channel, "wrong_panel");
        const pinned = this.#gate.identityOf(p.id);
        if (this.#o.verify && pinned && d.value.identityKey && !pinned.publicRaw.equals(Buffer.from(d.value.identityKey))) {
          return this.#gate.refuse(p.id, channel, "identity_mismatch", payload);
        }
        if (this.#staleState(p, d.value)) return void this.emit("warning", { panelId: p.id, code: "stale_state" });
        return this.#onState(p, d.value);
      }
    }
  }

  /**
   * A signed state can be published again by whoever recorded it: one older than the state in
   * hand (same database, lower lastSeq or tableVersion) or of a database the panel has left is
   * not taken, so a replay can neither wind a panel back nor undo a reset.
   */
  #staleState(p: Panel, s: State): boolean {
    if (s.epoch !== undefined && p.pastEpochs?.has(s.epoch)) return true;
    const cur = p.state;
    return cur !== undefined && cur.epoch === s.epoch && (s.lastSeq < cur.lastSeq || s.tableVersion < cur.tableVersion);
  }

  #onState(p: Panel, state: State): void {
    const before = p.state;
    if (before?.epoch !== undefined && before.epoch !== state.epoch) (p.pastEpochs ??= new Set()).add(before.epoch);
    p.state = state;
    // Another epoch: the panel's database was made anew (only once the counter is known; #init checks the first).
    if (p.lastAssigned !== undefined && p.epoch !== undefined && state.epoch !== undefined && state.epoch !== p.epoch) this.#reset(p, state, p.lastAssigned);
    else if (p.lastAssigned !== undefined) p.epoch ??= state.epoch;
    // A new sealing key: what was prepared is sealed to the old one.
    if (before && !Buffer.from(before.sealKey).equals(Buffer.from(state.sealKey))) this.#unprepare(p);
    const waiters = p.stateWaiters;
    p.stateWaiters = [];
    for (const w of waiters) w(state);
    this.emit("state", p.id, state);
  }

  /** Status is not signed (the broker publishes the last will): it only says when to expect answers, never an outcome. */
  #onStatus(panelId: string, payload: Buffer): void {
    const d = decodeStatus(payload);
    if (!d.ok) return void this.emit("warning", { panelId, code: d.error.code });
    const p = this.#panel(panelId);
    const wasOffline = p.status?.status === "offline";
    p.status = d.value;
    this.emit("status", panelId, d.value);
    // Back online: what the broker queued arrives now; resend only if that does not answer in time.
    if (wasOffline && d.value.status === "online" && p.inflight) {
      p.inflight.attempts = 0;
      if (p.inflight.timer) clearTimeout(p.inflight.timer);
      const inflight = p.inflight;
      inflight.timer = setTimeout(() => this.#retry(p, inflight), this.#o.ackTimeoutMs);
    }
  }

  #onAck(p: Panel, ack: AnyAck): void {
    const inflight = p.inflight;
    if (!inflight) return; // a late duplicate of something already answered
    if (ack.t === "ack") {
      if (inflight.batch || ack.ack.id !== inflight.key) return;
      const job = inflight.jobs[0]!;
      if (!ack.ack.ok && ack.ack.seq === undefined) return this.#envelopeFailed(p, inflight, ack.ack.error.code, ack.ack.error.detail);
      if (this.#stale(job, ack.ack)) return this.#resequence(p, inflight, [{ job, o: ack.ack }], ack.at);
      this.#settle(p, inflight);
      final(job, fromWire(p.id, job, ack.ack));
      return;
    }
    if (!inflight.batch || ack.id !== inflight.key) return;
    if (ack.error) return this.#envelopeFailed(p, inflight, ack.error.code, ack.error.detail);
    const byId = ack.acks.length === inflight.jobs.length ? null : new Map(ack.acks.map((o) => [o.id, o]));
    const again: { job: Job; o: WireOutcome }[] = [];
    const answers: [Job, Outcome][] = [];
    inflight.jobs.forEach((job, i) => {
      const o = byId ? byId.get(job.id) : ack.acks[i];
      if (o && (o.id === undefined || o.id === job.id)) {
        if (this.#stale(job, o)) again.push({ job, o });
        else answers.push([job, fromWire(p.id, job, o)]);
      } else answers.push([job, rejectedLocally(p.id, job.id, "missing_ack")]);
    });
    if (again.length > 0) this.#resequence(p, inflight, again, ack.at);
    else this.#settle(p, inflight);
    for (const [job, o] of answers) final(job, o);
  }

  /** Refused for the number it carried, not for what it asks: with `resequence`, worth one more try at a fresh seq. */
  #stale(job: Job, o: WireOutcome): boolean {
    return this.#o.resequence && !job.resent && !job.finalDone && !o.ok && (o.error.code === "replayed" || o.error.code === "sequence_gap");
  }

  /**
   * Commands refused `replayed` or `sequence_gap` go back to the head of the queue, marked so a
   * second refusal is final. Sending holds until the panel's word on its lastSeq is known: for a
   * gap the ack says it (`detail.lastSeq`), and the retained state must agree (after a reset the
   * state in hand may be the old database's, with the old sealing key); for a replay the retained
   * state must show at least the replayed seq (it is republished within a moment of any change).
   */
  #resequence(p: Panel, inflight: Inflight, again: { job: Job; o: WireOutcome }[], ackAt: number): void {
    if (inflight.timer) clearTimeout(inflight.timer);
    p.inflight = undefined;
    this.#unprepare(p);
    const gap = again.find((a) => !a.o.ok && a.o.error.code === "sequence_gap");
    const code: Resequenced["code"] = gap ? "sequence_gap" : "replayed";
    const gapLast = gap && !gap.o.ok ? gap.o.error.detail?.lastSeq : undefined;
    const agentLast = typeof gapLast === "number" && Number.isSafeInteger(gapLast) && gapLast >= 0 ? gapLast : undefined;
    const maxReplayed = Math.max(0, ...again.map((a) => (a.o.ok ? 0 : (a.o.seq ?? 0))));
    const from = Math.min(...again.map((a) => a.job.seq ?? Number.MAX_SAFE_INTEGER));
    for (const { job } of again) {
      job.resent = true;
      delete job.seq;
    }
    p.queue.unshift(...again.map((a) => a.job));
    p.hold = true;
    const accept = (s: State) => s.at >= ackAt || (agentLast !== undefined ? s.lastSeq === agentLast : s.lastSeq >= maxReplayed);
    void this.#awaitState(p, accept, Math.min(this.#o.ackTimeoutMs, 3000)).then((fresh) => {
      p.hold = false;
      if (this.#closed) return;
      const state = p.state!;
      let base: number;
      if (agentLast !== undefined) {
        // The agent's own word is fresher than a state that never agreed with it.
        base = fresh ? Math.max(agentLast, fresh.lastSeq) : agentLast;
        if (!fresh && state.lastSeq > base) p.state = { ...state, lastSeq: base };
      } else base = Math.max(p.lastAssigned ?? 0, state.lastSeq, maxReplayed);
      p.lastAssigned = base;
      this.emit("resequenced", { panelId: p.id, code, from, to: base + 1, commands: again.length });
      this.#scheduleFlush(p);
    });
  }

  /** The panel's state once `accept` says so (the one in hand first), or undefined after `timeoutMs`. */
  #awaitState(p: Panel, accept: (s: State) => boolean, timeoutMs: number): Promise<State | undefined> {
    if (p.state && accept(p.state)) return Promise.resolve(p.state);
    return new Promise((resolve) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        resolve(undefined);
      }, timeoutMs).unref();
      const waiter = (s: State) => {
        if (done) return;
        if (accept(s) || this.#closed) {
          done = true;
          clearTimeout(timer);
          resolve(s);
        } else p.stateWaiters.push(waiter);
      };
      p.stateWaiters.push(waiter);
    });
  }

  #settle(p: Panel, inflight: Inflight): void {
    if (inflight.timer) clearTimeout(inflight.timer);
    p.inflight = undefined;
    // A prepared envelope goes at once (publishing without awaiting is fine inside the handler).
    if (p.prepared) void this.#flush(p);
    else this.#scheduleFlush(p);
  }

  /** The envelope failed as a whole (signature, key, size, schema): nothing was applied, no seq used. */
  #envelopeFailed(p: Panel, inflight: Inflight, code: string, detail?: ErrorDetail): void {
    this.#unprepare(p);
    if (p.lastAssigned === inflight.lastSeq) {
      p.lastAssigned = inflight.firstSeq - 1;
      void Promise.resolve(this.#seqStore.save(p.id, p.lastAssigned)).catch(() => {});
    }
    this.#settle(p, inflight);
    for (const job of inflight.jobs) {
      const out: RejectedOutcome = { status: "rejected", panelId: p.id, id: job.id, code };
      if (detail) out.detail = detail;
      final(job, out);
    }
  }

  // -------------------------------------------------------------------------------------------
  // events

  /**
   * Decoded events of one panel, or of every panel with "+", as an async iterator (break out of
   * the loop to stop). Events are deduplicated by their outbox number `n` per panel.
   */
  /** `panelId` "+" for every panel. */
  events(panelId: string): AsyncIterableIterator<{ panelId: string; event: WireEvent }> {
    const buffer: { panelId: string; event: WireEvent }[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    const listener = (pid: string, event: WireEvent) => {
      if (panelId !== "+" && pid !== panelId) return;
      buffer.push({ panelId: pid, event });
      wake?.();
    };
    this.on("event", listener);
    if (panelId === "+") this.#watchFleetEvents();
    else void this.#watch(this.#panel(panelId));
    const stop = () => {
      done = true;
      this.off("event", listener);
      this.#iterators.delete(stop);
      wake?.();
    };
    this.#iterators.add(stop);
    const iterator: AsyncIterableIterator<{ panelId: string; event: WireEvent }> = {
      next: async () => {
        while (buffer.length === 0 && !done && !this.#closed) await new Promise<void>((r) => (wake = r));
        wake = undefined;
        const value = buffer.shift();
        if (value) return { value, done: false };
        stop();
        return { value: undefined, done: true };
      },
      return: async () => {
        stop();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  #watchFleetEvents(): void {
    if (this.#fleetEvents || this.#o.fleet) return;
    this.#fleetEvents = true;
    const client = this.#client_();
    // The states too: in `tofu` mode a panel's first signed state pins the identity its events are checked against.
    client.subscribe([fleetFilter("evt", this.#o.topicPrefix), fleetFilter("state", this.#o.topicPrefix), fleetFilter("status", this.#o.topicPrefix)], { qos: 1 });
  }
}
