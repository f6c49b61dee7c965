/**
 * What a caller of the cloud client hands over and gets back: commands, outcomes, options, events
 * and errors. Kept apart from the client so the sender and the inbound handlers can name them
 * without importing the facade.
 */
import type { z } from "zod";
import type { SigningKey, State, Status, WireCommandInput, WireCommandResult, WireEvent } from "../../protocol/index.js";
import type { commandSchema, Actor } from "../domain/index.js";
import type { ForgedMessage, IdentityPinned, TrustMode } from "./authenticity.js";
import type { SeqStore } from "./seq-store.js";

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
  /** Other nodes of the same broker cluster, tried in turn after the connection is lost (mqtt://, mqtts://, tcp://, tls://). */
  failoverUrls?: readonly string[];
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
  /**
   * Subscribe to events (the `evt` channel only) through the MQTT shared subscription
   * `$share/<group>/...` (mosquitto 2, EMQX, HiveMQ; MQTT 5, and mosquitto's 3.1.1 too): each event
   * then reaches ONE client of the group instead of every one, so several workers split the
   * fleet's events. Acks, states and statuses stay unshared (every worker needs its own acks and
   * the retained states). Default: unshared, every client gets every event (NATS 2.9 has no
   * `$share`; consumers dedup by the panel's event number). Letters, digits, `.`, `_`, `-`, 1-64.
   * Mind what a member's going away means on mosquitto 2: with a clean session (the default) an
   * event in flight to it when it drops is not handed to another member (eclipse-mosquitto issue
   * 2662); with a persistent session (fixed clientId) the broker keeps dealing that member its
   * share while it is away, delivered when it returns. Unshared, the other clients still hear it.
   * With a persistent session too, the client opens a second connection that holds the shared
   * event subscription alone in the persistent session under `clientId` (a session left by an
   * earlier version keeps its queued events; its unshared filters are dropped), and the main
   * connection is a clean one under `<clientId>-cmd`: what the broker keeps for a member away is its share of the events,
   * not every panel's acks and states (which filled the broker's queue for it, so that its share of
   * the events past the queue's limit was dropped).
   */
  eventShareGroup?: string;
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
