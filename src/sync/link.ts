import { currentBroker, failoverOptions } from "../broker-servers.js";
import { readFileSync } from "node:fs";
import type { Socket } from "node:net";
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from "mqtt";
import {
  decodeCbor, encodeEvent, encodeState, encodeStatus, panelTopics, PROTOCOL_VERSION, signAgentMessage, WIRE_KINDS,
  type PanelTopics, type SealingKey, type SigningKey, type TrustedKeys,
} from "../../protocol/index.js";
import type { Logger } from "pino";
import type { PanelCore } from "../core.js";
import { DEALER_KEY, dealerWindow, isWindowOpen } from "../domain/dealer.js";
import type { OutboxRow } from "../store/store.js";
import { TableDigest } from "./digest.js";
import { CommandEngine } from "./engine.js";
import { LEGACY_OUTBOX_ACK, LEGACY_OUTBOX_EVENT, OUTBOX_ACK, OUTBOX_EVENT, type OutboxRows } from "./outbox-rows.js";
import { MQTT_LOG } from "../mqtt-log.js";
import { DEFAULT_BACKOFF, ReconnectBackoff } from "./reconnect.js";

/** How long a stop waits for the broker to acknowledge what is in flight before it closes the connection anyway. */
const END_WAIT_MS = 2000;

export interface BrokerOptions {
  url: string;
  /** Other nodes of the same cluster, tried in turn after the connection is lost. */
  failoverUrls?: readonly string[];
  clientId?: string;
  username?: string;
  password?: string;
  protocolVersion: 4 | 5;
  keepaliveSeconds: number;
  topicPrefix: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string; rejectUnauthorized: boolean };
}

export interface LinkOptions {
  panelId: string;
  broker: BrokerOptions;
  core: PanelCore;
  trustedKeys: TrustedKeys;
  sealingKey: SealingKey;
  /** The panel's identity: signs every ack, event and state (protocol/README.md 4.1); its public key is in the state. */
  identityKey: SigningKey;
  /** The agent's outbox rows; the link gives them their signer (the identity key). */
  rows: OutboxRows;
  /** false: publish unsigned (a benchmark's baseline only; a verifying cloud drops everything). Default true. */
  signMessages?: boolean;
  maxPayloadBytes: number;
  agentVersion: string;
  logger: Logger;
  /** Jitter source for reconnect delays, in [0, 1) (default Math.random; tests fix it). */
  random?: () => number;
}

/** Rows handed to mqtt.js at once; the rest wait for PUBACKs (keeps memory bounded on a long outage). */
const OUTBOX_WINDOW = 500;
/** The retained state is republished at most this often while commands stream in (it hashes the table). */
const STATE_EVERY_MS = 250;
/** Acknowledged outbox rows are deleted in groups: one commit for many PUBACKs. */
const DELETE_EVERY_MS = 200;

/**
 * The MQTT shell around the engine: a persistent session (3.1.1 clean=false with a fixed client
 * id; MQTT 5 session expiry), commands applied inside mqtt.js's handleMessage so the PUBACK follows
 * the commit, the outbox published in order with QoS 1 and deleted after PUBACK, retained state and
 * online/offline status (last will).
 */
export class SyncLink {
  readonly topics: PanelTopics;
  readonly engine: CommandEngine;
  readonly #o: LinkOptions;
  #client: MqttClient | undefined;
  /** Highest outbox id handed to mqtt.js in this process. */
  #sentUpTo = 0;
  #inFlight = 0;
  #acked: number[] = [];
  #deleteTimer: NodeJS.Timeout | undefined;
  #stateTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #digest = new TableDigest();

  constructor(options: LinkOptions) {
    this.#o = options;
    this.topics = panelTopics(options.panelId, options.broker.topicPrefix);
    options.rows.setFinish((body) => this.#signed(body));
    this.engine = new CommandEngine({ panelId: options.panelId, core: options.core, trustedKeys: options.trustedKeys, sealingKey: options.sealingKey, maxPayloadBytes: options.maxPayloadBytes, rows: options.rows });
  }

  get connected(): boolean {
    return this.#client?.connected === true;
  }

  async start(): Promise<void> {
    const { broker, core, logger } = this.#o;
    const opts: IClientOptions = {
      // The panel id: what the ACL's %c (mosquitto) and ${clientid} (EMQX) name (protocol/README.md 11).
      clientId: broker.clientId ?? this.#o.panelId,
      clean: false,
      protocolVersion: broker.protocolVersion,
      keepalive: broker.keepaliveSeconds,
      reconnectPeriod: DEFAULT_BACKOFF.minMs,
      connectTimeout: 10_000,
      ...MQTT_LOG,
      ...failoverOptions(broker.url, broker.failoverUrls),
      username: broker.username,
      password: broker.password,
      will: { topic: this.topics.status, payload: encodeStatus({ panel: this.#o.panelId, status: "offline", reason: "connection_lost" }), qos: 1, retain: true },
      ...(broker.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 7 * 24 * 3600 } } : {}),
      ...(broker.tls
        ? {
            ca: broker.tls.caFile ? readFileSync(broker.tls.caFile) : undefined,
            cert: broker.tls.certFile ? readFileSync(broker.tls.certFile) : undefined,
            key: broker.tls.keyFile ? readFileSync(broker.tls.keyFile) : undefined,
            rejectUnauthorized: broker.tls.rejectUnauthorized,
          }
        : {}),
    };
    const client = mqtt.connect(broker.url, opts);
    this.#client = client;
    client.handleMessage = (packet, callback) => this.#onPacket(packet, callback);
    client.on("connect", (connack) => {
      (client.stream as unknown as Socket).setNoDelay?.(true);
      const outage = this.#backoff.connected(Date.now());
      client.options.reconnectPeriod = DEFAULT_BACKOFF.minMs;
      logger.info({ broker: currentBroker(client.options), sessionPresent: connack.sessionPresent, ...(outage?.kind === "up" ? { downForS: Math.round(outage.downForMs / 1000), attempts: outage.attempts } : {}) }, outage ? "broker reachable again" : "connected to broker");
      // Without a stored session (first start, or the broker lost it) subscribe again.
      if (!connack.sessionPresent) client.subscribe(this.topics.cmd, { qos: 1 }, (err) => err && logger.error({ err: err.message }, "subscribe failed"));
      client.publish(this.topics.status, encodeStatus({ panel: this.#o.panelId, status: "online", at: core.now }), { qos: 1, retain: true });
      this.publishState();
      this.#sentUpTo = 0;
      this.#inFlight = 0;
      this.flushOutbox();
    });
    client.on("error", (err) => {
      // While connected an error is news; while reconnecting each failed attempt says the same.
      if (client.connected) logger.warn({ err: err.message }, "mqtt error");
      else this.#lastError = (err as NodeJS.ErrnoException).code ?? err.message;
    });
    client.on("close", () => this.#onClose(client));
    // Every commit, whatever its source (cloud command, keypad programming, *6 dealer grant,
    // housekeeping expiry), ends here: publish its rows, and the state when what it says moved.
    core.onOutbox = () => {
      this.flushOutbox();
      this.#publishStateIfChanged();
    };
    await new Promise<void>((resolve) => {
      if (client.connected) resolve();
      else client.once("connect", () => resolve());
      // Start even when the broker is down: checks never wait on the network.
      setTimeout(resolve, 3000).unref();
    });
  }

  readonly #backoff = new ReconnectBackoff();
  #lastError: string | undefined;

  /**
   * The connection closed (lost, or an attempt failed): the next attempt waits longer, up to a
   * minute, with jitter; the outage is logged when it starts and reminded every few minutes.
   * mqtt.js re-arms its reconnect timer with a fixed period and offers no backoff, so the timer is
   * re-armed here with the new period (its private _clearReconnect/_setupReconnect; the
   * reconnect test fails if an mqtt.js upgrade changes them).
   */
  #onClose(client: MqttClient): void {
    if (this.#stopped || client.disconnecting) return;
    const { logger } = this.#o;
    const notice = this.#backoff.failed(Date.now(), this.#lastError);
    if (notice?.kind === "down") logger.warn({ err: notice.error }, "broker unreachable; keypads keep working, the outbox keeps events; retrying with backoff up to 60 s");
    else if (notice?.kind === "still_down") logger.warn({ err: notice.error, downForS: Math.round(notice.forMs / 1000), attempts: notice.attempts }, "broker still unreachable");
    const timers = client as unknown as { _clearReconnect?: () => void; _setupReconnect?: () => void };
    client.options.reconnectPeriod = this.#backoff.nextDelay((this.#o.random ?? Math.random)());
    if (typeof timers._clearReconnect === "function" && typeof timers._setupReconnect === "function") {
      timers._clearReconnect();
      timers._setupReconnect();
    }
  }

  /** Publishes outbox rows in order (QoS 1) and deletes each after its PUBACK. */
  flushOutbox(): void {
    const client = this.#client;
    if (!client?.connected || this.#stopped) return;
    while (this.#inFlight < OUTBOX_WINDOW) {
      const rows = this.#o.core.outboxPeek(Math.min(200, OUTBOX_WINDOW - this.#inFlight), this.#sentUpTo);
      if (rows.length === 0) break;
      for (const row of rows) this.#publishRow(client, row);
    }
  }

  #publishRow(client: MqttClient, row: OutboxRow): void {
    this.#sentUpTo = row.id;
    const out = this.#wireForm(row);
    if (!out) {
      this.#done(row.id);
      return;
    }
    this.#inFlight++;
    client.publish(out.topic, out.payload, { qos: 1 }, (err) => {
      this.#inFlight--;
      if (err) return; // left in the outbox: sent again after reconnect or restart
      this.#done(row.id);
      if (this.#inFlight < OUTBOX_WINDOW / 2) this.flushOutbox();
    });
  }

  /**
   * What a row goes out as. Rows of this agent hold their final signed bytes (made in the
   * transaction that committed them) and go as stored; rows an older agent left before an upgrade
   * (a bare ack, a bare event) are finished here, once. Such an event goes without an epoch, as it
   * went before the upgrade: a redelivery of one published then keeps its dedup key (panel, n).
   */
  #wireForm(row: OutboxRow): { topic: string; payload: Buffer } | undefined {
    switch (row.kind) {
      case OUTBOX_ACK:
        return { topic: this.topics.ack, payload: row.body };
      case OUTBOX_EVENT:
        return { topic: this.topics.evt, payload: row.body };
      case LEGACY_OUTBOX_ACK:
        return { topic: this.topics.ack, payload: this.#signed(row.body) };
      case LEGACY_OUTBOX_EVENT:
        try {
          const decoded = decodeCbor(row.body);
          const e = (decoded.ok ? decoded.value : {}) as { type: Parameters<typeof encodeEvent>[3]; at: number; data: Parameters<typeof encodeEvent>[4] };
          return { topic: this.topics.evt, payload: this.#signed(encodeEvent(this.#o.panelId, row.n ?? row.id, e.at, e.type, e.data)) };
        } catch (err) {
          // A row no encoder accepts can never be published; holding it would stop every row after
          // it, and throwing here would crash the daemon on every start. Say so, and let it go.
          this.#o.logger.error({ outboxId: row.id, kind: row.kind, err: (err as Error).message }, "outbox row cannot be encoded as an event; dropped");
          return undefined;
        }
      default:
        this.#o.logger.error({ outboxId: row.id, kind: row.kind }, "outbox row of an unknown kind; dropped");
        return undefined;
    }
  }

  #signed(body: Uint8Array): Buffer {
    return this.#o.signMessages === false ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : signAgentMessage(body, this.#o.identityKey);
  }

  /** The row is finished with (PUBACKed, or unpublishable): deleted with the next group. */
  #done(id: number): void {
    this.#acked.push(id);
    this.#deleteTimer ??= setTimeout(() => this.#deleteAcked(), DELETE_EVERY_MS);
  }

  #deleteAcked(): void {
    this.#deleteTimer = undefined;
    const ids = this.#acked;
    this.#acked = [];
    try {
      this.#o.core.outboxDelete(ids);
    } catch (err) {
      this.#o.logger.error({ err: (err as Error).message }, "outbox delete failed; rows will be sent again");
    }
  }

  /** What the last published (or scheduled) state said about sequence, table and dealer window. */
  #stateKey = "";
  #dealerEndTimer: NodeJS.Timeout | undefined;

  #publishStateIfChanged(): void {
    if (stateKey(this.#o.core, dealerState(this.#o.core)) !== this.#stateKey) this.publishState();
  }

  /** Retained state: what the cloud needs to seal, sequence and check convergence. Coalesced. */
  publishState(): void {
    if (this.#stateTimer) return;
    this.#stateTimer = setTimeout(() => {
      this.#stateTimer = undefined;
      const client = this.#client;
      if (!client?.connected) return;
      client.publish(this.topics.state, this.stateBytes(), { qos: 1, retain: true });
    }, STATE_EVERY_MS);
  }

  stateBytes(): Buffer {
    const { core } = this.#o;
    const t = core.table;
    const dealer = dealerState(core);
    this.#stateKey = stateKey(core, dealer);
    // The window ends on the steady clock; the state says so when it does, not at the next command.
    if (this.#dealerEndTimer) clearTimeout(this.#dealerEndTimer);
    this.#dealerEndTimer = dealer ? setTimeout(() => this.publishState(), Math.max(0, dealer.until - core.now) + 5).unref() : undefined;
    return this.#signed(encodeState({
      panel: this.#o.panelId,
      at: core.now,
      sealKey: this.#o.sealingKey.publicRaw,
      lastSeq: core.lastSeq,
      proto: { v: [PROTOCOL_VERSION], kinds: [...WIRE_KINDS] },
      agent: `panel-agent/${this.#o.agentVersion}`,
      panelType: t.config.type,
      codeLength: t.config.codeLength,
      capacity: t.type.capacity,
      users: t.activeCount(),
      timeZone: t.config.timeZone,
      dealerAccess: dealer,
      tableVersion: core.tableVersion,
      digest: this.#digest.of(t, core.tableVersion),
      epoch: core.epoch,
      identityKey: this.#o.identityKey.publicRaw,
    }));
  }

  #onPacket(packet: IPublishPacket, callback: (err?: Error) => void): void {
    // Runs before the PUBACK: the commit happens here, synchronously. Never cb(err): mqtt.js would
    // drop the error and send no PUBACK; every rejection is an ack instead.
    if (packet.topic === this.topics.cmd) {
      try {
        const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
        const report = this.engine.process(payload);
        // A refusal before the rules consumes its seq too: the state must say so promptly.
        this.#publishStateIfChanged();
        if (report.envelopeError) this.#o.logger.warn({ code: report.envelopeError, bytes: payload.length }, "command envelope rejected");
      } catch (err) {
        // The store failed (disk full, I/O error): nothing was committed. Withhold the PUBACK so the
        // broker redelivers, and drop the connection to get the message again after reconnecting.
        this.#o.logger.error({ err: (err as Error).message }, "command not applied; the broker will redeliver");
        this.#client?.stream.destroy();
        return;
      }
    }
    callback();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#stateTimer) clearTimeout(this.#stateTimer);
    this.#stateTimer = undefined;
    if (this.#dealerEndTimer) clearTimeout(this.#dealerEndTimer);
    const client = this.#client;
    if (!client) return;
    if (client.connected) {
      await new Promise<void>((resolve) => {
        client.publish(this.topics.status, encodeStatus({ panel: this.#o.panelId, status: "offline", at: this.#o.core.now, reason: "shutdown" }), { qos: 1, retain: true }, () => resolve());
        setTimeout(resolve, 1000).unref();
      });
    }
    // A clean end waits for in-flight QoS 1 messages; a broker that never answers them must not
    // hold the stop (systemd would kill the daemon mid-close): after END_WAIT_MS the connection is
    // closed anyway. Nothing is lost: unacked outbox rows stay in the outbox for the next start.
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([client.endAsync().then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), END_WAIT_MS)))]);
    clearTimeout(timer);
    if (!ended) await client.endAsync(true);
    if (this.#deleteTimer) clearTimeout(this.#deleteTimer);
    this.#deleteAcked();
  }
}

/** What a retained state says that a commit can change: sequence, table, and whether (and how long) a dealer window is open. */
function stateKey(core: PanelCore, dealer: ReturnType<typeof dealerState>): string {
  return `${core.lastSeq}:${core.tableVersion}:${dealer?.hours ?? "-"}`;
}

/**
 * The dealer window as the cloud should read it: open exactly when the agent enforces it (the
 * steady clock), and `until` in wall time from now plus what remains on the steady clock, so a
 * wall clock moved since the grant neither ends it early nor stretches it on the cloud's side.
 */
function dealerState(core: PanelCore): { until: number; hours: 2 | 24 } | null {
  const w = dealerWindow(core.table.meta(DEALER_KEY));
  const steady = core.steady.now();
  return isWindowOpen(w, steady) ? { until: core.now + (w.expiresSteady - steady), hours: w.hours === 24 ? 24 : 2 } : null;
}
