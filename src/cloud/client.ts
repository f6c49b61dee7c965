import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import {
  decodeAck,
  decodeEvent,
  decodeState,
  decodeStatus,
  fleetFilter,
  LIMITS,
  panelTopics,
  parseTopic,
  DEFAULT_PREFIX,
  type AnyAck,
  type Outcome as WireOutcome,
  type PanelTopics,
  type State,
  type Status,
  type WireEvent,
} from "../../protocol/index.js";
import { MQTT_LOG } from "../mqtt-log.js";
import type { AgentChannel } from "./authenticity.js";
import { Deadlines } from "./deadlines.js";
import { IdentityGate } from "./identity-gate.js";
import { closeJob, final, fromWire, laterOf, rejectedLocally, type Job } from "./job.js";
import { PanelSender, type SenderOptions } from "./sender.js";
import { MemorySeqStore, type SeqStore } from "./seq-store.js";
import { CloudError, type CloudClientEvents, type CloudClientOptions, type CommandInput, type Outcome, type PendingOutcome, type PendingReason, type Resequenced, type ResyncRequest } from "./types.js";

export * from "./types.js";

interface Panel {
  id: string;
  topics: PanelTopics;
  state?: State;
  status?: Status;
  subscribed?: Promise<void>;
  initializing: boolean;
  /** Numbers, coalesces, publishes and resends this panel's commands. */
  sender: PanelSender;
  /** Answers `pending` to callers whose ack timeout passed. */
  deadlines: Deadlines;
  stateWaiters: Array<(s: State) => void>;
  highestN: number;
  /** The database epoch the counter counts in (from the SeqStore, then from the retained state). */
  epoch?: string;
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
const AGENT_CHANNELS = ["ack", "evt", "state", "status"] as const;

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
  readonly #senderOptions: SenderOptions;

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
    this.#senderOptions = {
      signingKey: this.#o.signingKey,
      maxBatch: this.#o.maxBatch,
      maxPayloadBytes: this.#o.maxPayloadBytes,
      ackTimeoutMs: this.#o.ackTimeoutMs,
      seqStore: this.#seqStore,
      now: this.#now,
      random: Math.random,
    };
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
      for (const p of this.#panels.values()) p.sender.republish();
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
      p.deadlines.clear();
      for (const job of p.sender.close()) closeJob(job);
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
      const panel: Panel = {
        id: panelId,
        topics,
        initializing: false,
        sender: new PanelSender(
          {
            panelId,
            state: () => panel.state,
            offline: () => panel.status?.status === "offline",
            epoch: () => panel.epoch,
            closed: () => this.#closed,
            connected: () => this.#client?.connected === true,
            // Never awaited: a QoS 1 publish is confirmed by PUBACK, the command by its ack.
            publish: (bytes) => this.#client?.publish(topics.cmd, bytes, { qos: 1 }, () => {}),
            answered: () => panel.deadlines.trim(),
          },
          this.#senderOptions,
        ),
        deadlines: new Deadlines(this.#o.ackTimeoutMs, (job) => this.#jobTimedOut(panel, job)),
        stateWaiters: [],
        highestN: 0,
      };
      p = panel;
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
    p.deadlines.add(job);
    if (p.sender.lastAssigned === undefined) void this.#init(p);
    p.sender.enqueue(job);
    return first;
  }

  /** The same kind of command to many panels: each its own signed, sealed envelope and ack. Offline panels come back `pending`. */
  async sendMany(panelIds: readonly string[], make: (panelId: string) => CommandInput): Promise<Outcome[]> {
    return Promise.all(panelIds.map((id) => this.send(id, make(id))));
  }

  #jobTimedOut(p: Panel, job: Job): void {
    if (job.firstDone) return;
    job.firstDone = true;
    const reason: PendingReason = p.status?.status === "offline" ? "offline" : p.state ? "timeout" : "no_state";
    const out: PendingOutcome = { status: "pending", panelId: p.id, id: job.id, reason, later: laterOf(job) };
    if (job.seq !== undefined) out.seq = job.seq;
    job.resolveFirst(out);
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
        p.sender.lastAssigned = counter;
        p.epoch ??= current.epoch;
      }
      p.sender.scheduleFlush();
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
    p.sender.unprepare();
    const realign = this.#o.resequence;
    if (realign) {
      p.sender.lastAssigned = state.lastSeq;
      void Promise.resolve(this.#seqStore.save(p.id, state.lastSeq, state.epoch)).catch(() => {});
    } else p.sender.lastAssigned ??= Math.max(counter, state.lastSeq);
    this.emit("reset", { panelId: p.id, epoch: state.epoch!, previousEpoch, lastSeq: state.lastSeq, counter, realigned: realign });
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
        p.deadlines.trim();
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
    if (p.sender.lastAssigned !== undefined && p.epoch !== undefined && state.epoch !== undefined && state.epoch !== p.epoch) this.#reset(p, state, p.sender.lastAssigned);
    else if (p.sender.lastAssigned !== undefined) p.epoch ??= state.epoch;
    // A new sealing key: what was prepared is sealed to the old one.
    if (before && !Buffer.from(before.sealKey).equals(Buffer.from(state.sealKey))) p.sender.unprepare();
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
    if (wasOffline && d.value.status === "online") p.sender.backOnline();
  }

  #onAck(p: Panel, ack: AnyAck): void {
    const inflight = p.sender.inflight;
    if (!inflight) return; // a late duplicate of something already answered
    if (ack.t === "ack") {
      if (inflight.batch || ack.ack.id !== inflight.key) return;
      const job = inflight.jobs[0]!;
      if (!ack.ack.ok && ack.ack.seq === undefined) return p.sender.envelopeFailed(ack.ack.error.code, ack.ack.error.detail);
      if (this.#stale(job, ack.ack)) return this.#resequence(p, [{ job, o: ack.ack }], ack.at);
      p.sender.settle();
      final(job, fromWire(p.id, job, ack.ack));
      return;
    }
    if (!inflight.batch || ack.id !== inflight.key) return;
    if (ack.error) return p.sender.envelopeFailed(ack.error.code, ack.error.detail);
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
    if (again.length > 0) this.#resequence(p, again, ack.at);
    else p.sender.settle();
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
  #resequence(p: Panel, again: { job: Job; o: WireOutcome }[], ackAt: number): void {
    const gap = again.find((a) => !a.o.ok && a.o.error.code === "sequence_gap");
    const code: Resequenced["code"] = gap ? "sequence_gap" : "replayed";
    const gapLast = gap && !gap.o.ok ? gap.o.error.detail?.lastSeq : undefined;
    const agentLast = typeof gapLast === "number" && Number.isSafeInteger(gapLast) && gapLast >= 0 ? gapLast : undefined;
    const maxReplayed = Math.max(0, ...again.map((a) => (a.o.ok ? 0 : (a.o.seq ?? 0))));
    const from = Math.min(...again.map((a) => a.job.seq ?? Number.MAX_SAFE_INTEGER));
    p.sender.requeue(again.map((a) => a.job));
    const accept = (s: State) => s.at >= ackAt || (agentLast !== undefined ? s.lastSeq === agentLast : s.lastSeq >= maxReplayed);
    void this.#awaitState(p, accept, Math.min(this.#o.ackTimeoutMs, 3000)).then((fresh) => {
      p.sender.hold = false;
      if (this.#closed) return;
      const state = p.state!;
      let base: number;
      if (agentLast !== undefined) {
        // The agent's own word is fresher than a state that never agreed with it.
        base = fresh ? Math.max(agentLast, fresh.lastSeq) : agentLast;
        if (!fresh && state.lastSeq > base) p.state = { ...state, lastSeq: base };
      } else base = Math.max(p.sender.lastAssigned ?? 0, state.lastSeq, maxReplayed);
      p.sender.lastAssigned = base;
      this.emit("resequenced", { panelId: p.id, code, from, to: base + 1, commands: again.length });
      p.sender.scheduleFlush();
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
