/**
 * A panel's command counter: where it starts (the stored seq or the panel's lastSeq, whichever is
 * higher) and what happens to it when the panel's database turns out to be new (another epoch).
 */
import type { State } from "../../protocol/index.js";
import type { Emit } from "./inbound/context.js";
import type { Panel } from "./panel.js";
import type { SeqStore } from "./seq-store.js";

export interface CounterDeps {
  seqStore: SeqStore;
  /** The client's `resequence` option: a reset panel's counter is re-aligned to its lastSeq. */
  resequence: boolean;
  emit: Emit;
  /** Subscribes to the panel's channels (resolves once subscribed); throws once the client is closed. */
  watch(p: Panel): Promise<void>;
}

/** Learns the panel's state and our stored seq, then starts sending. */
export async function startCounter(p: Panel, deps: CounterDeps): Promise<void> {
  if (p.initializing) return;
  p.initializing = true;
  try {
    await deps.watch(p);
    const state = p.state ?? (await new Promise<State>((resolve) => p.stateWaiters.push(resolve)));
    const stored = await deps.seqStore.load(p.id);
    const storedEpoch = deps.seqStore.loadEpoch ? await deps.seqStore.loadEpoch(p.id) : undefined;
    const current = p.state ?? state;
    const counter = Math.max(stored ?? 0, current.lastSeq);
    p.epoch ??= storedEpoch;
    if (p.epoch !== undefined && current.epoch !== undefined && p.epoch !== current.epoch) resetCounter(p, current, stored ?? 0, deps);
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
export function resetCounter(p: Panel, state: State, counter: number, deps: Pick<CounterDeps, "seqStore" | "resequence" | "emit">): void {
  const previousEpoch = p.epoch!;
  p.epoch = state.epoch;
  p.highestN = 0;
  p.sender.unprepare();
  const realign = deps.resequence;
  if (realign) {
    p.sender.lastAssigned = state.lastSeq;
    void Promise.resolve(deps.seqStore.save(p.id, state.lastSeq, state.epoch)).catch(() => {});
  } else p.sender.lastAssigned ??= Math.max(counter, state.lastSeq);
  deps.emit("reset", { panelId: p.id, epoch: state.epoch!, previousEpoch, lastSeq: state.lastSeq, counter, realigned: realign });
}
