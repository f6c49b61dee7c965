/**
 * Keypad lockout: a pure state machine over failure counters, one per access point (keypad or
 * door lock) plus one for the whole panel. The index drives it; the shell persists what changes.
 *
 * Rules (per counter; the panel counter follows the same rules with its own limits):
 * - Every refused credential is a failure (see index.ts for which refusals count).
 * - When failures reach `maxAttempts`, the point is locked for `lockMs` from that attempt.
 *   Normal mode: the counter restarts at 0 with the lock, so after the lock another full set of
 *   attempts is allowed. Strict mode: the counter keeps counting, and every further failure after
 *   a lock locks again at once, for `lockMs + strictStepMs * (failures - maxAttempts)`.
 * - While a point (or the panel) is locked, every credential is refused with `locked_out` without
 *   being looked at: no grant, no count, and nothing learned about the credential.
 * - A grant (only possible when not locked) clears the point's counter and the panel counter.
 * - Lock expiry is an absolute instant, so a restart neither lifts nor prolongs a lock.
 *
 * State changes come back as effects: each carries the counter's whole new state, so the shell
 * can upsert it keyed by (scope, id) and delete the row when both numbers are 0. Rebuilding a
 * snapshot from those rows (`snapshotFromEffects`) restores the machine after a restart.
 */

export interface LockoutPolicy {
  /** Failures at one keypad/door before it locks (vendors use 3 to 10). Infinity disables. */
  maxAttempts: number;
  /** Lock duration, ms (90 s is the common figure). */
  lockMs: number;
  /** Strict mode: every failure after a lock re-locks, each one `strictStepMs` longer. */
  strict: boolean;
  strictStepMs: number;
  /** Failures across all points of the panel before every point locks. Infinity disables. */
  panelMaxAttempts: number;
  panelLockMs: number;
}

export const DEFAULT_LOCKOUT_POLICY: Readonly<LockoutPolicy> = Object.freeze({
  maxAttempts: 10,
  lockMs: 90_000,
  strict: false,
  strictStepMs: 90_000,
  panelMaxAttempts: 30,
  panelLockMs: 90_000,
});

export type PointScope = "keypad" | "door";
export type LockScope = PointScope | "panel";

export interface CounterState {
  failures: number;
  /** Epoch ms the lock ends; 0 when never locked. */
  lockedUntil: number;
}

export interface LockoutSnapshot {
  keypads: Record<string, CounterState>;
  doors: Record<string, CounterState>;
  panel: CounterState;
}

/** The new whole state of one counter; `id` is "" for the panel counter. */
export interface LockoutEffect {
  readonly kind: "lockout_state";
  readonly scope: LockScope;
  readonly id: string;
  readonly failures: number;
  readonly lockedUntil: number;
}

export interface LockoutEvent {
  readonly type: "lockout";
  readonly at: number;
  readonly scope: LockScope;
  readonly id: string;
  readonly failures: number;
  readonly lockedForMs: number;
}

export interface FailureOutcome {
  /** Remaining lock of the point or the panel after this failure (0: not locked). */
  readonly lockedForMs: number;
  readonly effects: readonly LockoutEffect[];
  readonly events: readonly LockoutEvent[];
}

export const NO_EFFECTS: readonly LockoutEffect[] = Object.freeze([]);
const NO_EVENTS: readonly LockoutEvent[] = Object.freeze([]);

class Counter {
  constructor(
    public failures = 0,
    public lockedUntil = 0,
  ) {}
}

function validPolicy(policy: Partial<LockoutPolicy>): LockoutPolicy {
  const p: LockoutPolicy = { ...DEFAULT_LOCKOUT_POLICY, ...policy };
  const count = (n: number) => n === Number.POSITIVE_INFINITY || (Number.isInteger(n) && n >= 1);
  const ms = (n: number) => Number.isFinite(n) && n >= 0;
  if (!count(p.maxAttempts) || !count(p.panelMaxAttempts)) throw new RangeError("lockout: attempts must be integers >= 1 (or Infinity)");
  if (!ms(p.lockMs) || !ms(p.panelLockMs) || !ms(p.strictStepMs)) throw new RangeError("lockout: durations must be finite and >= 0");
  return p;
}

function validCounter(c: CounterState | undefined): Counter | null {
  if (!c || !Number.isFinite(c.failures) || !Number.isFinite(c.lockedUntil)) return null;
  const failures = Math.max(0, Math.trunc(c.failures));
  const lockedUntil = Math.max(0, c.lockedUntil);
  return failures === 0 && lockedUntil === 0 ? null : new Counter(failures, lockedUntil);
}

export class Lockout {
  readonly policy: Readonly<LockoutPolicy>;
  readonly #keypads = new Map<string, Counter>();
  readonly #doors = new Map<string, Counter>();
  readonly #panel: Counter;

  constructor(policy: Partial<LockoutPolicy> = {}, snapshot?: LockoutSnapshot) {
    this.policy = Object.freeze(validPolicy(policy));
    this.#panel = validCounter(snapshot?.panel) ?? new Counter();
    if (snapshot) {
      for (const [id, c] of Object.entries(snapshot.keypads)) {
        const counter = validCounter(c);
        if (counter) this.#keypads.set(id, counter);
      }
      for (const [id, c] of Object.entries(snapshot.doors)) {
        const counter = validCounter(c);
        if (counter) this.#doors.set(id, counter);
      }
    }
  }

  /** Remaining lock at a point, the longer of its own and the panel's; 0 when free. No allocation. */
  lockedForMs(scope: PointScope, id: string, at: number): number {
    const own = (scope === "keypad" ? this.#keypads : this.#doors).get(id);
    const mine = own === undefined ? 0 : own.lockedUntil - at;
    const panel = this.#panel.lockedUntil - at;
    const rest = mine > panel ? mine : panel;
    return rest > 0 ? rest : 0;
  }

  /** Counts a refused credential at a point (and panel-wide); may lock either. */
  recordFailure(scope: PointScope, id: string, at: number): FailureOutcome {
    const map = scope === "keypad" ? this.#keypads : this.#doors;
    let counter = map.get(id);
    if (counter === undefined) {
      counter = new Counter();
      map.set(id, counter);
    }
    const pointLock = this.#fail(counter, scope, id, at, this.policy.maxAttempts, this.policy.lockMs);
    const panelLock = this.#fail(this.#panel, "panel", "", at, this.policy.panelMaxAttempts, this.policy.panelLockMs);
    const effects = [effect(scope, id, counter.failures, counter.lockedUntil), effect("panel", "", this.#panel.failures, this.#panel.lockedUntil)];
    const events: readonly LockoutEvent[] =
      pointLock === null ? (panelLock === null ? NO_EVENTS : [panelLock]) : panelLock === null ? [pointLock] : [pointLock, panelLock];
    return { lockedForMs: this.lockedForMs(scope, id, at), effects, events };
  }

  /** A grant at a point that is not locked: clears its counter and the panel's. */
  recordSuccess(scope: PointScope, id: string, at: number): readonly LockoutEffect[] {
    const map = scope === "keypad" ? this.#keypads : this.#doors;
    const counter = map.get(id);
    const panel = this.#panel;
    if ((counter === undefined || (counter.failures === 0 && counter.lockedUntil === 0)) && panel.failures === 0) return NO_EFFECTS;
    const effects: LockoutEffect[] = [];
    if (counter !== undefined && (counter.failures !== 0 || counter.lockedUntil !== 0) && counter.lockedUntil <= at) {
      // Reset in place: the point will likely fail again, and Map churn costs more than a blank counter.
      counter.failures = 0;
      counter.lockedUntil = 0;
      effects.push(effect(scope, id, 0, 0));
    }
    if (panel.failures !== 0 && panel.lockedUntil <= at) {
      panel.failures = 0;
      panel.lockedUntil = 0;
      effects.push(effect("panel", "", 0, 0));
    }
    return effects.length === 0 ? NO_EFFECTS : effects;
  }

  /** Plain JSON of every counter that is not blank. */
  snapshot(): LockoutSnapshot {
    const dump = (map: Map<string, Counter>) => {
      const out: Record<string, CounterState> = {};
      for (const [id, c] of map) if (c.failures !== 0 || c.lockedUntil !== 0) out[id] = { failures: c.failures, lockedUntil: c.lockedUntil };
      return out;
    };
    return {
      keypads: dump(this.#keypads),
      doors: dump(this.#doors),
      panel: { failures: this.#panel.failures, lockedUntil: this.#panel.lockedUntil },
    };
  }

  /** Counts one failure on a counter; returns the lockout event when it locks. */
  #fail(c: Counter, scope: LockScope, id: string, at: number, max: number, lockMs: number): LockoutEvent | null {
    c.failures += 1;
    if (c.failures < max) return null;
    const duration = this.policy.strict ? lockMs + this.policy.strictStepMs * (c.failures - max) : lockMs;
    // A lock never shortens one already running (strict panel and point locks may overlap).
    c.lockedUntil = Math.max(c.lockedUntil, at + duration);
    const event: LockoutEvent = { type: "lockout", at, scope, id, failures: c.failures, lockedForMs: c.lockedUntil - at };
    if (!this.policy.strict) c.failures = 0;
    return event;
  }
}

function effect(scope: LockScope, id: string, failures: number, lockedUntil: number): LockoutEffect {
  return { kind: "lockout_state", scope, id, failures, lockedUntil };
}

/** Rebuilds a snapshot from the persisted effects (the latest per scope and id wins). */
export function snapshotFromEffects(effects: Iterable<LockoutEffect>): LockoutSnapshot {
  const snap: LockoutSnapshot = { keypads: {}, doors: {}, panel: { failures: 0, lockedUntil: 0 } };
  for (const e of effects) {
    const state = { failures: e.failures, lockedUntil: e.lockedUntil };
    if (e.scope === "panel") snap.panel = state;
    else if (e.scope === "keypad") snap.keypads[e.id] = state;
    else snap.doors[e.id] = state;
  }
  return snap;
}
