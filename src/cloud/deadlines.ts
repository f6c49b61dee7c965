/**
 * The ack timeout of one panel's callers: a job whose caller has no answer when its deadline
 * passes is handed to `onDue` (which answers `pending`). Jobs are added in hand-over order, which
 * is deadline order (one ack timeout for all): one timer per panel instead of one per command.
 */
import type { Job } from "./job.js";

export class Deadlines {
  readonly #ackTimeoutMs: number;
  readonly #onDue: (job: Job) => void;
  #waiting: Job[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(ackTimeoutMs: number, onDue: (job: Job) => void) {
    this.#ackTimeoutMs = ackTimeoutMs;
    this.#onDue = onDue;
  }

  /** A job handed over now: its deadline is `job.deadline` (performance.now() + the ack timeout). */
  add(job: Job): void {
    this.#waiting.push(job);
    if (this.#timer) this.#timer.ref();
    else this.#timer = setTimeout(() => this.#fire(), this.#ackTimeoutMs);
  }

  /** Forgets answered jobs at the head (answers come mostly in order), and the timer when none are left. */
  trim(): void {
    const waiting = this.#waiting;
    let i = 0;
    while (i < waiting.length && waiting[i]!.firstDone) i++;
    if (i > 0) waiting.splice(0, i);
    // Kept armed but unref'd rather than cleared: one command at a time would otherwise make and
    // clear a timer per command. Firing with nothing due just re-arms for the next deadline.
    if (waiting.length === 0) this.#timer?.unref();
  }

  /** The client closed: no more `pending` answers from here (close() answers every job itself). */
  clear(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#waiting = [];
  }

  /** Hands every job whose deadline has passed to `onDue`, then waits for the next deadline. */
  #fire(): void {
    this.#timer = undefined;
    const now = performance.now();
    const waiting = this.#waiting;
    let i = 0;
    for (; i < waiting.length; i++) {
      const job = waiting[i]!;
      if (job.firstDone) continue;
      if (job.deadline > now) break;
      this.#onDue(job);
    }
    if (i > 0) waiting.splice(0, i);
    if (waiting.length > 0) this.#timer = setTimeout(() => this.#fire(), Math.max(1, Math.ceil(waiting[0]!.deadline - now)));
  }
}
