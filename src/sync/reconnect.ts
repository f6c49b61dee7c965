/**
 * Reconnecting to a broker that is down: the delay doubles from `minMs` to `maxMs` with full
 * jitter (so a fleet whose broker restarts does not reconnect in lock-step), and the outage is
 * logged when it starts, reminded every `remindEveryMs`, and logged once when it ends.
 * Pure: the caller passes the time and a random number in [0, 1).
 */
export interface BackoffPolicy {
  minMs: number;
  maxMs: number;
  remindEveryMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { minMs: 1_000, maxMs: 60_000, remindEveryMs: 5 * 60_000 };

export type OutageNotice =
  | { kind: "down"; error: string | undefined }
  | { kind: "still_down"; forMs: number; attempts: number; error: string | undefined }
  | { kind: "up"; downForMs: number; attempts: number };

export class ReconnectBackoff {
  readonly #policy: BackoffPolicy;
  #attempts = 0;
  #downSince: number | undefined;
  #remindedAt = 0;
  #lastError: string | undefined;

  constructor(policy: BackoffPolicy = DEFAULT_BACKOFF) {
    this.#policy = policy;
  }

  get attempts(): number {
    return this.#attempts;
  }

  /** The delay before the next attempt: min(max, min * 2^attempts) scaled into [min/2, that]. */
  nextDelay(random: number): number {
    const { minMs, maxMs } = this.#policy;
    const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(this.#attempts, 30));
    this.#attempts++;
    return Math.round(minMs / 2 + random * (ceiling - minMs / 2));
  }

  /** A failed attempt or a lost connection; returns what to log now, if anything. */
  failed(now: number, error?: string): OutageNotice | undefined {
    if (error !== undefined) this.#lastError = error;
    if (this.#downSince === undefined) {
      this.#downSince = now;
      this.#remindedAt = now;
      return { kind: "down", error: this.#lastError };
    }
    if (now - this.#remindedAt >= this.#policy.remindEveryMs) {
      this.#remindedAt = now;
      return { kind: "still_down", forMs: now - this.#downSince, attempts: this.#attempts, error: this.#lastError };
    }
    return undefined;
  }

  /** Connected: the delay starts over; returns the end of an outage to log, if there was one. */
  connected(now: number): OutageNotice | undefined {
    const since = this.#downSince;
    const attempts = this.#attempts;
    this.#downSince = undefined;
    this.#attempts = 0;
    this.#lastError = undefined;
    return since === undefined ? undefined : { kind: "up", downForMs: now - since, attempts };
  }
}
