import type { PartitionStatus } from "../../src/keypad/backend.js";
import {
  createSession,
  isKeyName,
  render,
  step,
  type BackendRequest,
  type Display,
  type SessionInput,
  type SessionOptions,
  type SessionState,
  type StepContext,
} from "../../src/keypad/session.js";

export type Answerer = (request: BackendRequest) => SessionInput;

/** Answers every request as granted / ok. */
export const grantAll: Answerer = (request) =>
  request.kind === "access"
    ? { t: "access_answer", answer: { granted: true, label: "User 1", slot: 1 } }
    : { t: request.kind === "program" ? "program_answer" : "dealer_answer", answer: { ok: true } };

/**
 * Drives the pure session machine the way the socket shell does: runs each step, records the
 * displays, answers each backend request synchronously and feeds the answer back in.
 */
export class SessionHarness {
  state: SessionState;
  at: number;
  readonly arm = new Map<number, PartitionStatus["state"]>();
  readonly requests: BackendRequest[] = [];
  readonly displays: Display[] = [];
  answer: Answerer;

  constructor(options: Partial<SessionOptions> = {}, answer: Answerer = grantAll, at = 1_000_000) {
    this.at = at;
    this.answer = answer;
    this.state = createSession({ keypadId: "kp1", partitions: [1], codeLength: null, ...options }, at);
  }

  ctx(): StepContext {
    return {
      at: this.at,
      status: (ps) => ps.map((partition) => ({ partition, state: this.arm.get(partition) ?? "disarmed" })),
    };
  }

  /** Feeds one input (and any answers it causes); returns the displays it produced. */
  send(input: SessionInput): Display[] {
    const out: Display[] = [];
    let next: SessionInput | null = input;
    while (next !== null) {
      const { state, effects } = step(this.state, next, this.ctx());
      this.state = state;
      next = null;
      for (const effect of effects) {
        if (effect.kind === "display") out.push(effect.display);
        else {
          this.requests.push(effect.request);
          next = this.answer(effect.request);
        }
      }
    }
    this.displays.push(...out);
    return out;
  }

  /** Presses each character of `chars` (digits, `*`, `#`), or a named key. */
  keys(chars: string): Display[] {
    const out: Display[] = [];
    for (const c of chars) {
      if (!isKeyName(c)) throw new Error(`not a key: ${c}`);
      out.push(...this.send({ t: "key", key: c }));
    }
    return out;
  }

  press(name: "stay" | "away" | "disarm" | "prog" | "chime"): Display[] {
    return this.send({ t: "key", key: name });
  }

  tick(advanceMs: number): Display[] {
    this.at += advanceMs;
    return this.send({ t: "tick" });
  }

  get screen(): Display {
    return render(this.state, this.ctx());
  }

  get lastRequest(): BackendRequest | undefined {
    return this.requests.at(-1);
  }
}
