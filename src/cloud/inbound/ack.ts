/**
 * Acks: the answer to the envelope in flight becomes one outcome per caller. A command refused
 * for the number it carried (`replayed`, `sequence_gap`: the counter was stale) is, with the
 * `resequence` option, numbered again from the panel's word and sent once more.
 */
import { decodeAck, type AnyAck, type Outcome as WireOutcome, type State } from "../../../protocol/index.js";
import { final, fromWire, rejectedLocally, type Job } from "../job.js";
import { awaitState, type Panel } from "../panel.js";
import type { Outcome, Resequenced } from "../types.js";
import type { InboundContext } from "./context.js";

export function onAckMessage(ctx: InboundContext, p: Panel, body: Uint8Array): void {
  const d = decodeAck(body);
  if (!d.ok) return void ctx.emit("warning", { panelId: p.id, code: d.error.code });
  if (d.value.panel !== p.id) return ctx.gate.refuse(p.id, "ack", "wrong_panel");
  onAck(ctx, p, d.value);
  p.deadlines.trim();
}

function onAck(ctx: InboundContext, p: Panel, ack: AnyAck): void {
  const inflight = p.sender.inflight;
  if (!inflight) return; // a late duplicate of something already answered
  if (ack.t === "ack") {
    if (inflight.batch || ack.ack.id !== inflight.key) return;
    const job = inflight.jobs[0]!;
    if (!ack.ack.ok && ack.ack.seq === undefined) return p.sender.envelopeFailed(ack.ack.error.code, ack.ack.error.detail);
    if (stale(ctx, job, ack.ack)) return resequence(ctx, p, [{ job, o: ack.ack }], ack.at);
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
      if (stale(ctx, job, o)) again.push({ job, o });
      else answers.push([job, fromWire(p.id, job, o)]);
    } else answers.push([job, rejectedLocally(p.id, job.id, "missing_ack")]);
  });
  if (again.length > 0) resequence(ctx, p, again, ack.at);
  else p.sender.settle();
  for (const [job, o] of answers) final(job, o);
}

/** Refused for the number it carried, not for what it asks: with `resequence`, worth one more try at a fresh seq. */
function stale(ctx: InboundContext, job: Job, o: WireOutcome): boolean {
  return ctx.resequence && !job.resent && !job.finalDone && !o.ok && (o.error.code === "replayed" || o.error.code === "sequence_gap");
}

/**
 * Commands refused `replayed` or `sequence_gap` go back to the head of the queue, marked so a
 * second refusal is final. Sending holds until the panel's word on its lastSeq is known: for a
 * gap the ack says it (`detail.lastSeq`), and the retained state must agree (after a reset the
 * state in hand may be the old database's, with the old sealing key); for a replay the retained
 * state must show at least the replayed seq (it is republished within a moment of any change).
 */
function resequence(ctx: InboundContext, p: Panel, again: { job: Job; o: WireOutcome }[], ackAt: number): void {
  const gap = again.find((a) => !a.o.ok && a.o.error.code === "sequence_gap");
  const code: Resequenced["code"] = gap ? "sequence_gap" : "replayed";
  const gapLast = gap && !gap.o.ok ? gap.o.error.detail?.lastSeq : undefined;
  const agentLast = typeof gapLast === "number" && Number.isSafeInteger(gapLast) && gapLast >= 0 ? gapLast : undefined;
  const maxReplayed = Math.max(0, ...again.map((a) => (a.o.ok ? 0 : (a.o.seq ?? 0))));
  const from = Math.min(...again.map((a) => a.job.seq ?? Number.MAX_SAFE_INTEGER));
  p.sender.requeue(again.map((a) => a.job));
  const accept = (s: State) => s.at >= ackAt || (agentLast !== undefined ? s.lastSeq === agentLast : s.lastSeq >= maxReplayed);
  void awaitState(p, accept, Math.min(ctx.ackTimeoutMs, 3000), () => ctx.closed()).then((fresh) => {
    p.sender.hold = false;
    if (ctx.closed()) return;
    const state = p.state!;
    let base: number;
    if (agentLast !== undefined) {
      // The agent's own word is fresher than a state that never agreed with it.
      base = fresh ? Math.max(agentLast, fresh.lastSeq) : agentLast;
      if (!fresh && state.lastSeq > base) p.state = { ...state, lastSeq: base };
    } else base = Math.max(p.sender.lastAssigned ?? 0, state.lastSeq, maxReplayed);
    p.sender.lastAssigned = base;
    ctx.emit("resequenced", { panelId: p.id, code, from, to: base + 1, commands: again.length });
    p.sender.scheduleFlush();
  });
}
