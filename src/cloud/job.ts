/**
 * One command on its way through the cloud client, from hand-over to its caller's answers, and
 * the outcomes made of it. Shared by the sender (which numbers and sends jobs), the deadlines
 * (which answer `pending` in time) and the ack handler (which answers finally).
 */
import type { Outcome as WireOutcome, WireCommandInput } from "../../protocol/index.js";
import type { OutcomeCode } from "./failures.js";
import type { AppliedOutcome, ErrorDetail, Outcome, PendingOutcome, RejectedOutcome } from "./types.js";

export interface Job {
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

/** The final answer: resolves the caller's promise (if no `pending` went out first) and `later`. */
export function final(job: Job, o: Outcome): void {
  if (!job.firstDone) {
    job.firstDone = true;
    job.resolveFirst(o);
  }
  if (!job.finalDone) {
    job.finalDone = true;
    job.resolveLater?.(o);
  }
}

export function laterOf(job: Job): Promise<Outcome> {
  job.later ??= new Promise<Outcome>((r) => (job.resolveLater = r));
  return job.later;
}

export function fromWire(panelId: string, job: Job, o: WireOutcome): AppliedOutcome | RejectedOutcome {
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

export function rejectedLocally(panelId: string, id: string, code: OutcomeCode, detail?: ErrorDetail): RejectedOutcome {
  const out: RejectedOutcome = { status: "rejected", panelId, id, code, local: true };
  if (detail) out.detail = detail;
  return out;
}

/** The client closed before an answer: `pending` with reason `closed`, to the caller and to `later`. */
export function closeJob(job: Job): void {
  const out: PendingOutcome = { status: "pending", panelId: job.panelId, id: job.id, reason: "closed", later: laterOf(job) };
  if (job.seq !== undefined) out.seq = job.seq;
  final(job, out);
}
