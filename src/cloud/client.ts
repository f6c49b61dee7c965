import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { MqttClient } from "mqtt";
import {
  fleetFilter,
  sharedFilter,
  LIMITS,
  panelTopics,
  parseTopic,
  DEFAULT_PREFIX,
  type PanelTopics,
  type State,
  type Status,
  type WireEvent,
} from "../../protocol/index.js";
import type { AgentChannel } from "./authenticity.js";
import { openConnection } from "./connection.js";
import { resetCounter, startCounter, type CounterDeps } from "./counter.js";
import { Deadlines } from "./deadlines.js";
import { eventIterator } from "./event-iterator.js";
import { IdentityGate } from "./identity-gate.js";
import type { InboundContext } from "./inbound/context.js";
import { onAckMessage } from "./inbound/ack.js";
import { onEvent } from "./inbound/evt.js";
import { onStateMessage } from "./inbound/state.js";
import { onStatus } from "./inbound/status.js";
import { closeJob, laterOf, type Job } from "./job.js";
import type { Panel } from "./panel.js";
import { PanelSender, type SenderOptions } from "./sender.js";
import { MemorySeqStore, type SeqStore } from "./seq-store.js";
import { CloudError } from "./failures.js";
import { Subscriptions } from "./subscriptions.js";
import { type CloudClientEvents, type CloudClientOptions, type CommandInput, type Outcome, type PendingOutcome, type PendingReason } from "./types.js";

export * from "./types.js";

const DEFAULTS = {
  commandLifetimeMs: 5 * 60_000,
  ackTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  maxBatch: 500,
  maxPayloadBytes: 240 * 1024,
};
const AGENT_CHANNELS = ["ack", "evt", "state", "status"] as const;

/**
 * The cloud side of the wire protocol: signs, seals and sequences commands for many panels over
 * one MQTT connection (two with a share group and a persistent session: see `eventShareGroup`), and
 * turns acks back into one outcome per caller.
 *
 * Per panel, one envelope is in flight at a time; commands handed over meanwhile queue, and when
 * the ack arrives everything queued goes as ONE batch envelope (up to `maxBatch`), which the agent
 * applies in one transaction. An unacked envelope is resent unchanged (same ids and seqs) after a
 * reconnect or a timeout; the agent answers a redelivery with its stored result.
 *
 * The constructor only wires; `connect()` opens the connection, `close()` ends it.
 *
 * This class is the facade that holds the pieces together: the connection (connection.ts), one
 * PanelSender (sender.ts) and Deadlines (deadlines.ts) per panel, the identity gate
 * (identity-gate.ts) in front of one handler per inbound channel (inbound/), and the event
 * iterator (event-iterator.ts).
 */
export class CloudClient extends EventEmitter<CloudClientEvents> {
  readonly #o: Required<Omit<CloudClientOptions, "clientId" | "username" | "password" | "tls" | "seqStore" | "now" | "persistentSession" | "fleet" | "logger" | "eventShareGroup" | "failoverUrls">> &
    Pick<CloudClientOptions, "clientId" | "username" | "password" | "tls" | "persistentSession" | "fleet" | "logger" | "eventShareGroup" | "failoverUrls">;
  readonly #seqStore: SeqStore;
  readonly #gate: IdentityGate;
  readonly #now: () => number;
  readonly #panels = new Map<string, Panel>();
  #client: MqttClient | undefined;
  #closed = false;
  #fleetEvents = false;
  /** Which panels' states are wanted (filterStates); undefined: every panel's. */
  #wantsState: ((panelId: string) => boolean) | undefined;
  readonly #iterators = new Set<() => void>();
  readonly #subscriptions = new Subscriptions({
    client: () => this.#client,
    closed: () => this.#closed,
    refused: (filter, retryMs, reason) => this.#refused("subscription", filter, retryMs, reason),
    // An ack may have gone by while its filter was refused: the commands in flight go again, the
    // same bytes (the agent answers a redelivery with its stored result).
    grantedLate: (filters) => {
      this.#o.logger?.info({ filters }, "subscription granted after a refusal; commands in flight are sent again");
      for (const p of this.#panels.values()) p.sender.republish();
    },
  });
  /**
   * With a share group AND a persistent session: a second connection holding the shared event
   * subscription alone, in the persistent session under `clientId`; the main one (commands, acks,
   * states, statuses) is then a clean session under `<clientId>-cmd`. A member's session kept at the
   * broker while it is away then holds its share of the events only: in one session, the acks and
   * states of every panel had filled mosquitto's queue for it (max_queued_messages) within seconds,
   * and its share of the events past that was dropped (8 of 16 in test/reliability/fleet.test.ts).
   */
  readonly #splitEvents: boolean;
  #eventClient: MqttClient | undefined;
  readonly #eventSubscriptions = new Subscriptions({
    client: () => this.#eventClient,
    closed: () => this.#closed,
    refused: (filter, retryMs, reason) => this.#refused("event subscription", filter, retryMs, reason),
    grantedLate: () => {},
  });
  readonly #senderOptions: SenderOptions;
  readonly #inbound: InboundContext;
  readonly #counter: CounterDeps;

  constructor(options: CloudClientOptions) {
    super();
    // An invalid group name is the caller's mistake: said now, not at the first subscription.
    if (options.eventShareGroup !== undefined) sharedFilter(options.eventShareGroup, "evt", options.topicPrefix ?? DEFAULT_PREFIX);
    const maxBatch = Math.min(Math.max(1, options.maxBatch ?? DEFAULTS.maxBatch), LIMITS.maxBatch);
    this.#o = {
      url: options.url,
      ...(options.failoverUrls?.length ? { failoverUrls: options.failoverUrls } : {}),
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
      eventShareGroup: options.eventShareGroup,
      resequence: options.resequence ?? false,
      trust: options.trust ?? "tofu",
      verify: options.verify ?? true,
      logger: options.logger,
    };
    this.#splitEvents = options.eventShareGroup !== undefined && options.persistentSession === true;
    // Two clients splitting without an id would share one: each connect would end the other's.
    if (this.#splitEvents && !options.clientId) throw new TypeError("eventShareGroup with persistentSession needs a fixed clientId");
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
    this.#counter = { seqStore: this.#seqStore, resequence: this.#o.resequence, emit: this.emit.bind(this), watch: (p) => this.#watch(p) };
    this.#inbound = {
      resequence: this.#o.resequence,
      verify: this.#o.verify,
      ackTimeoutMs: this.#o.ackTimeoutMs,
      gate: this.#gate,
      emit: this.emit.bind(this),
      closed: () => this.#closed,
      panel: (panelId) => this.#panel(panelId),
      reset: (p, state, counter) => resetCounter(p, state, counter, this.#counter),
    };
  }

  get connected(): boolean {
    return this.#client?.connected === true;
  }

  /** Connects to the broker; rejects with CloudError `connection_failed` when it cannot (then nothing stays open). */
  async connect(): Promise<void> {
    if (this.#closed) throw new CloudError("closed", "the client was closed");
    if (this.#client) return;
    const o = this.#o;
    if (o.fleet) void this.#want(AGENT_CHANNELS.map((ch) => this.#fleetFilter(ch)));
    // The event connection keeps the client id (and so the session a worker of an earlier version
    // left at the broker, with the events queued for it); the main one takes `<clientId>-cmd`.
    const events = this.#splitEvents
      ? openConnection({ ...o, persistentSession: true }, {
          connected: (c, sessionPresent) => {
            // A session from before the split also holds the unshared filters: dropped, or the
            // broker would keep queueing every panel's acks and states for this connection.
            if (sessionPresent) c.unsubscribe(this.#unsharedFleetFilters(), () => {});
            this.#eventSubscriptions.connected(c, sessionPresent);
          },
          reconnected: () => {},
          broker: (up) => {
            if (up) this.#o.logger?.info({ connection: "events" }, "event connection back");
            else this.#o.logger?.warn({ connection: "events" }, "event connection lost; the broker keeps this worker's share of the events in its session");
            this.emit("warning", { code: up ? "event_connection_back" : "event_connection_lost" });
          },
          message: (topic, payload) => this.#onMessage(topic, payload),
          closed: () => this.#closed,
        })
      : undefined;
    this.#eventClient = events?.client;
    const { client, ready } = openConnection(this.#splitEvents ? { ...o, clientId: `${o.clientId!}-cmd`, persistentSession: false } : o, {
      connected: (c, sessionPresent) => this.#subscriptions.connected(c, sessionPresent),
      // A reconnect: what was in flight may have been lost with the connection. Same bytes again.
      reconnected: () => {
        for (const p of this.#panels.values()) p.sender.republish();
      },
      broker: (up) => this.emit("broker", { up }),
      message: (topic, payload) => this.#onMessage(topic, payload),
      closed: () => this.#closed,
    });
    this.#client = client;
    try {
      await Promise.all([ready, events?.ready]);
    } catch (err) {
      this.#client = undefined;
      this.#eventClient = undefined;
      client.end(true);
      events?.client.end(true);
      throw err;
    }
  }

  /** A filter the broker refused, retried by its Subscriptions: logged and told as a warning. */
  #refused(what: string, filter: string, retryMs: number, reason: string): void {
    this.#o.logger?.warn({ filter, retryMs, reason }, `${what} refused by the broker; retrying`);
    this.emit("warning", { code: "subscription_refused" });
  }

  /** Every panel's unshared filters (acks, states, statuses, events): what a pre-split session of the event connection may still hold. */
  #unsharedFleetFilters(): string[] {
    return AGENT_CHANNELS.map((ch) => fleetFilter(ch, this.#o.topicPrefix));
  }

  /** Subscribes filters on the connection they belong to: the shared events on the event connection when there is one. */
  #want(filters: readonly string[]): Promise<void> {
    if (!this.#splitEvents) return this.#subscriptions.add(filters);
    const shared = filters.filter((f) => f.startsWith("$share/"));
    const rest = filters.filter((f) => !f.startsWith("$share/"));
    return Promise.all([rest.length ? this.#subscriptions.add(rest) : undefined, shared.length ? this.#eventSubscriptions.add(shared) : undefined]).then(() => {});
  }

  /** Ends the connection. Outcomes still open resolve `pending` with reason `closed`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const stop of [...this.#iterators]) stop();
    this.#subscriptions.close();
    this.#eventSubscriptions.close();
    for (const p of this.#panels.values()) {
      p.deadlines.clear();
      for (const job of p.sender.close()) closeJob(job);
    }
    const client = this.#client;
    const events = this.#eventClient;
    this.#client = undefined;
    this.#eventClient = undefined;
    await Promise.all([client?.endAsync(), events?.endAsync()]);
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
        highestNByEpoch: new Map(),
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
    this.#client_();
    p.subscribed ??= this.#want(AGENT_CHANNELS.map((c) => this.#shared(c, p.topics[c])));
    return p.subscribed;
  }

  /** The panel's retained state, waiting up to `timeoutMs` for it; undefined when none came. */
  async panelState(panelId: string, timeoutMs = this.#o.ackTimeoutMs): Promise<State | undefined> {
    const p = this.#panel(panelId);
    await this.#watch(p);
    this.#takeDeferred(p);
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
    this.#takeDeferred(p);
    if (p.sender.lastAssigned === undefined) void startCounter(p, this.#counter);
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

  // -------------------------------------------------------------------------------------------
  // receiving

  #onMessage(topic: string, payload: Buffer): void {
    const t = parseTopic(topic, this.#o.topicPrefix);
    if (!t || payload.length === 0) return;
    if (t.channel === "status") return onStatus(this.#inbound, t.panelId, payload);
    if (t.channel === "cmd") return;
    let p: Panel | undefined;
    if (t.channel === "ack") {
      // An ack can only answer the envelope in flight: with none (another client sends to this
      // panel, or a late duplicate) it resolves nothing, so it is dropped before its signature is
      // checked (with several workers on one fleet subscription, most acks are another's).
      p = this.#panels.get(t.panelId);
      if (!p?.sender.inflight) return;
    } else p = this.#panel(t.panelId);
    if (t.channel === "state") {
      // A state not wanted now (another worker publishes to the panel) is kept unverified, the newest
      // only, and judged when the panel is wanted again (panelState, send, stateWanted). Only once the
      // panel's identity is known: in `tofu` mode its first state pins the identity its events need.
      if (this.#wantsState && !this.#wantsState(p.id) && this.#gate.identityOf(p.id)) {
        p.deferredState = payload;
        return;
      }
      p.deferredState = undefined;
    }
    this.#receive(p, t.channel, payload);
  }

  #receive(p: Panel, channel: AgentChannel, payload: Buffer): void {
    // Not verifying (a benchmark's baseline only): the decoders read either form as it is.
    if (!this.#o.verify) return this.#deliver(p, channel, payload);
    this.#gate.receive(p.id, channel, payload);
  }

  /** The newest state heard while the panel's states were not wanted: judged now. */
  #takeDeferred(p: Panel): void {
    const payload = p.deferredState;
    if (!payload) return;
    p.deferredState = undefined;
    this.#receive(p, "state", payload);
  }

  /**
   * Says which panels' retained states the caller wants (undefined: every panel's, the default).
   * The state of a panel not wanted is neither verified nor decoded nor told (`state`): the newest
   * one heard is kept as it came and judged once the panel is wanted again, at the latest when
   * `panelState` or `send` is called for it, or at once with `stateWanted`. Its signature is still
   * checked before anything believes it. For a service whose workers split the panels among
   * them: each verifies only the states of the panels it publishes to (and of those nobody does).
   */
  filterStates(wants: ((panelId: string) => boolean) | undefined): void {
    this.#wantsState = wants;
  }

  /** A panel's states are wanted again (see filterStates): the newest heard meanwhile is judged now. */
  stateWanted(panelId: string): void {
    const p = this.#panels.get(panelId);
    if (p) this.#takeDeferred(p);
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
      case "ack":
        return onAckMessage(this.#inbound, p, body);
      case "evt":
        return onEvent(this.#inbound, p, body);
      case "state":
        return onStateMessage(this.#inbound, p, body, payload);
    }
  }

  // -------------------------------------------------------------------------------------------
  // events

  /**
   * Decoded events of one panel, or of every panel with "+", as an async iterator (break out of
   * the loop to stop). Events are deduplicated by (epoch, outbox number `n`) per panel.
   */
  /** `panelId` "+" for every panel. */
  events(panelId: string): AsyncIterableIterator<{ panelId: string; event: WireEvent }> {
    return eventIterator({ emitter: this, closed: () => this.#closed, iterators: this.#iterators }, panelId, () => {
      if (panelId === "+") this.#watchFleetEvents();
      else void this.#watch(this.#panel(panelId));
    });
  }

  #watchFleetEvents(): void {
    if (this.#fleetEvents || this.#o.fleet) return;
    this.#fleetEvents = true;
    this.#client_();
    // The states too: in `tofu` mode a panel's first signed state pins the identity its events are checked against.
    void this.#want([this.#fleetFilter("evt"), this.#fleetFilter("state"), this.#fleetFilter("status")]);
  }

  /** Every panel's topic of a channel; events through the share group when there is one. */
  #fleetFilter(channel: (typeof AGENT_CHANNELS)[number]): string {
    const group = this.#o.eventShareGroup;
    return channel === "evt" && group !== undefined ? sharedFilter(group, "evt", this.#o.topicPrefix) : fleetFilter(channel, this.#o.topicPrefix);
  }

  /** One panel's topic of a channel as subscribed: its events through the share group when there is one. */
  #shared(channel: (typeof AGENT_CHANNELS)[number], topic: string): string {
    const group = this.#o.eventShareGroup;
    return channel === "evt" && group !== undefined ? `$share/${group}/${topic}` : topic;
  }
}
