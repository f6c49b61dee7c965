/**
 * What the cloud client knows of one panel: its topics, its last retained state and status, the
 * counter's epoch, and the sender and deadlines of its commands. The facade and the inbound
 * handlers share it.
 */
import type { PanelTopics, State, Status } from "../../protocol/index.js";
import type { Deadlines } from "./deadlines.js";
import type { PanelSender } from "./sender.js";

export interface Panel {
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
  /** The highest event number heard of events that name no epoch (agents from before they did); reset with a new epoch. */
  highestN: number;
  /** The highest event number heard per epoch the events named, the most recently heard epochs last (a few kept). */
  highestNByEpoch: Map<string, number>;
  /** The database epoch the counter counts in (from the SeqStore, then from the retained state). */
  epoch?: string;
  /** Epochs this panel's states showed before the current one: a state of one of them is a replay. */
  pastEpochs?: Set<string>;
  /**
   * The newest retained state heard while the caller did not want this panel's states (see
   * CloudClient.filterStates), not yet verified nor taken: judged when the panel is wanted again.
   */
  deferredState?: Buffer;
}

/** The panel's state once `accept` says so (the one in hand first), or undefined after `timeoutMs`; any state once `closed()`. */
export function awaitState(p: Panel, accept: (s: State) => boolean, timeoutMs: number, closed: () => boolean): Promise<State | undefined> {
  if (p.state && accept(p.state)) return Promise.resolve(p.state);
  return new Promise((resolve) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      resolve(undefined);
    }, timeoutMs).unref();
    const waiter = (s: State) => {
      if (done) return;
      if (accept(s) || closed()) {
        done = true;
        clearTimeout(timer);
        resolve(s);
      } else p.stateWaiters.push(waiter);
    };
    p.stateWaiters.push(waiter);
  });
}
