/**
 * The client's `event` emissions as an async iterator: buffered so none is lost between two
 * `next()` calls, ended by `return()` (break out of the loop), by `stop` (the client closes) or
 * when `closed()` says so.
 */
import type { EventEmitter } from "node:events";
import type { WireEvent } from "../../protocol/index.js";
import type { CloudClientEvents } from "./types.js";

export interface EventSource {
  emitter: EventEmitter<CloudClientEvents>;
  closed(): boolean;
  /** Where the iterator's stop is kept so the client can end it on close (it removes itself when it ends). */
  iterators: Set<() => void>;
}

/** `panelId` "+" for every panel; `watch` starts listening once the listener is in place. */
export function eventIterator(source: EventSource, panelId: string, watch: () => void): AsyncIterableIterator<{ panelId: string; event: WireEvent }> {
  const { emitter, iterators } = source;
  const buffer: { panelId: string; event: WireEvent }[] = [];
  let wake: (() => void) | undefined;
  let done = false;
  const listener = (pid: string, event: WireEvent) => {
    if (panelId !== "+" && pid !== panelId) return;
    buffer.push({ panelId: pid, event });
    wake?.();
  };
  emitter.on("event", listener);
  watch();
  const stop = () => {
    done = true;
    emitter.off("event", listener);
    iterators.delete(stop);
    wake?.();
  };
  iterators.add(stop);
  const iterator: AsyncIterableIterator<{ panelId: string; event: WireEvent }> = {
    next: async () => {
      while (buffer.length === 0 && !done && !source.closed()) await new Promise<void>((r) => (wake = r));
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
