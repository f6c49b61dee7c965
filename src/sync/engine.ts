import {
  appliedOutcome, encodeAck, encodeBatchAck, encodeEnvelopeFailure, openEnvelope, rejectedOutcome, type OpenedCommand, type Outcome, type SealingKey, type TrustedKeys,
} from "../../protocol/index.js";
import type { ExecuteItem, PanelCore, PreRefusal } from "../core.js";
import { RuleError, type ErrorCode } from "../domain/errors.js";
import type { Refusal } from "../domain/apply.js";
import type { OutboxInsert, StoredOutcome } from "../store/store.js";
import { sequence } from "./ordering.js";
import type { OutboxRows } from "./outbox-rows.js";

export interface EngineOptions {
  panelId: string;
  core: PanelCore;
  trustedKeys: TrustedKeys;
  sealingKey: SealingKey;
  maxPayloadBytes: number;
  /** Makes the ack and event rows in their final (signed) form. */
  rows: OutboxRows;
  /** How often a resync may be asked for while the gap persists. */
  resyncIntervalMs?: number;
}

export interface ProcessReport {
  /** Commands applied now (not counting duplicates and rejections). */
  applied: number;
  rejected: number;
  duplicates: number;
  /** The envelope failed as a whole (its error code). */
  envelopeError?: ErrorCode;
  resyncRequested: boolean;
}

function stored(o: StoredOutcome, id: string, seq: number, dup: boolean): Outcome {
  return o.status === "applied"
    ? appliedOutcome(id, seq, o.result, dup)
    : rejectedOutcome(new RuleError(o.error.code, o.error.detail), id, seq, dup);
}

/**
 * An ack that cannot be encoded (a bug, or a detail echoing hostile input) must not turn the
 * message into a poison message that is never PUBACKed: answer with a bare internal_error instead.
 */
function safeAck(build: () => Buffer, panelId: string, now: number): Buffer {
  try {
    return build();
  } catch {
    return encodeAck(panelId, now, { ok: false, error: { code: "internal_error" } });
  }
}

/**
 * Turns one MQTT payload into applied commands and their acks, without any MQTT: verify and open
 * the envelope, sequence each command, apply the applicable ones in ONE store transaction that also
 * holds the ack (and any resync request) in the outbox. Never throws for bad input: every rejection
 * becomes an ack with a code. Throws only when the store itself fails (then nothing was written).
 */
export class CommandEngine {
  readonly #o: EngineOptions;
  #lastResyncAt = Number.NEGATIVE_INFINITY;
  #lastResyncSeq = -1;

  constructor(options: EngineOptions) {
    this.#o = options;
  }

  process(payload: Uint8Array): ProcessReport {
    const { core, panelId } = this.#o;
    const now = core.now;
    const opened = openEnvelope(payload, { panelId, trustedKeys: this.#o.trustedKeys, agentPrivateKey: this.#o.sealingKey, now, maxBytes: this.#o.maxPayloadBytes });
    if (!opened.ok) {
      core.refuseMessage(
        { actor: { kind: "cloud", id: "unverified" }, action: "envelope", slot: null, commandId: opened.id ?? opened.batchId ?? "-" },
        opened.error.code,
        [this.#o.rows.ack(safeAck(() => encodeEnvelopeFailure(panelId, now, opened), panelId, now))],
      );
      return { applied: 0, rejected: 1, duplicates: 0, envelopeError: opened.error.code, resyncRequested: false };
    }

    // Sequencing and dedup, decided here once per command in envelope order (one lookup of the
    // stored record for a seq already consumed); what consumes a seq goes to the core's unit of
    // work. Ids are unique and seqs strictly increasing within an envelope (checked on open).
    type Planned = { cmd: OpenedCommand; outcome?: Outcome; item?: number };
    const plan: Planned[] = [];
    const items: ExecuteItem[] = [];
    // Refusals that consume no seq (replayed, gap) are logged in the same transaction.
    const refusals: PreRefusal[] = [];
    const actor = { kind: "cloud", id: opened.kid } as const;
    const refusal = (cmd: OpenedCommand): Refusal => ({ actor, action: cmd.ok ? cmd.command.kind : "command", slot: null, commandId: cmd.id });
    let last = core.lastSeq;
    let gapAt: number | undefined;
    let duplicates = 0;
    for (const cmd of opened.commands) {
      const prior = cmd.seq <= last ? core.storedOutcome(cmd.seq) : undefined;
      const verdict = sequence(last, cmd.seq, prior?.id === cmd.id, cmd.ok && cmd.command.kind === "snapshot");
      if (verdict === "duplicate") {
        duplicates++;
        plan.push({ cmd, outcome: stored(prior!.outcome, cmd.id, cmd.seq, true) });
        continue;
      }
      if (verdict === "replayed" || verdict === "gap") {
        const error = verdict === "replayed" ? new RuleError("replayed", { seq: cmd.seq }) : new RuleError("sequence_gap", { lastSeq: last, seq: cmd.seq });
        if (verdict === "gap") gapAt ??= cmd.seq;
        plan.push({ cmd, outcome: rejectedOutcome(error, cmd.id, cmd.seq) });
        refusals.push({ refusal: refusal(cmd), code: error.code });
        continue;
      }
      last = cmd.seq;
      plan.push({ cmd, item: items.length });
      items.push(cmd.ok ? { command: cmd.command, seq: cmd.seq } : { id: cmd.id, seq: cmd.seq, refused: cmd.error, refusal: refusal(cmd) });
    }

    const resync = gapAt !== undefined && this.#shouldRequestResync(now, core.lastSeq);
    let applied = 0;
    core.execute(items, (outs) => {
      const outcomes = plan.map((p) => {
        if (p.outcome) return p.outcome;
        const o = outs[p.item!]!;
        if (o.status === "applied") applied++;
        return stored(o.outcome, p.cmd.id, p.cmd.seq, false);
      });
      const rows: OutboxInsert[] = [];
      if (resync) rows.push(this.#o.rows.event("resync_request", now, { lastSeq: last, gotSeq: gapAt!, reason: "sequence_gap" }));
      const batchId = opened.batchId;
      rows.push(this.#o.rows.ack(safeAck(() => (batchId === null ? encodeAck(panelId, now, outcomes[0]!) : encodeBatchAck(panelId, now, batchId, outcomes)), panelId, now)));
      return rows;
    }, refusals);
    return { applied, rejected: plan.length - applied - duplicates, duplicates, resyncRequested: resync };
  }

  #shouldRequestResync(now: number, lastSeq: number): boolean {
    const interval = this.#o.resyncIntervalMs ?? 5000;
    if (lastSeq === this.#lastResyncSeq && now - this.#lastResyncAt < interval) return false;
    this.#lastResyncSeq = lastSeq;
    this.#lastResyncAt = now;
    return true;
  }
}
