import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Secret } from "../../../src/domain/secret.js";
import type { SessionInput } from "../../../src/keypad/session.js";
import { SessionHarness, type Answerer } from "../../helpers/keypad-harness.js";

/**
 * Whatever digits are typed, the keypad shows the same thing: the display is a function of how
 * many digits were typed, never of which. Inputs avoid the programming menus (where user numbers
 * and partition digits are shown on purpose) but cover entries, function keys, doors, tags,
 * partition switches, the dealer menu's code entry, timeouts and every kind of answer.
 */
type Step = { kind: "digit"; d: number } | { kind: "input"; input: SessionInput } | { kind: "wait"; ms: number };

const digit = fc.integer({ min: 0, max: 9 }).map((d): Step => ({ kind: "digit", d }));
const other = fc.constantFrom<Step>(
  { kind: "input", input: { t: "key", key: "#" } },
  { kind: "input", input: { t: "key", key: "stay" } },
  { kind: "input", input: { t: "key", key: "away" } },
  { kind: "input", input: { t: "key", key: "disarm" } },
  { kind: "input", input: { t: "door", doorLockId: "front" } },
  { kind: "input", input: { t: "tag", tag: new Secret("TAG1") } },
  { kind: "input", input: { t: "partition", partition: 2 } },
  { kind: "input", input: { t: "partition", partition: 0 } },
  { kind: "input", input: { t: "tick" } },
  { kind: "wait", ms: 31_000 },
  { kind: "wait", ms: 500 },
);

const answers: Answerer[] = [
  () => ({ t: "access_answer", answer: { granted: true, label: "User 3" } }),
  () => ({ t: "access_answer", answer: { granted: false } }),
  () => ({ t: "access_answer", answer: { granted: false, lockedForMs: 5_000 } }),
  () => ({ t: "backend_failed" }),
];

function run(steps: Step[], shift: number, codeLength: number | null): { lines: string[]; codes: string[] } {
  let n = 0;
  // The answer depends on how many requests were made, never on the credential.
  const h = new SessionHarness({ partitions: [1, 2], codeLength }, (r) => answers[n++ % answers.length]!(r));
  const lines: string[] = [];
  for (const s of steps) {
    if (s.kind === "wait") {
      h.at += s.ms;
      continue;
    }
    const input: SessionInput = s.kind === "digit" ? { t: "key", key: String((s.d + shift) % 10) as "0" } : s.input;
    for (const d of h.send(input)) lines.push(d.line1, d.line2);
  }
  const codes = h.requests.flatMap((r) => (r.kind === "access" && r.credential.kind === "pin" ? [r.credential.value.reveal()] : []));
  return { lines, codes };
}

describe("keypad session: the display never depends on the digits typed", () => {
  it("holds for random key sequences", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ weight: 3, arbitrary: digit }, { weight: 2, arbitrary: other }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 9 }),
        fc.constantFrom(4, 6, null),
        (steps, shift, codeLength) => {
          const a = run(steps, 0, codeLength);
          const b = run(steps, shift, codeLength);
          expect(b.lines).toEqual(a.lines);
          // and the lines hold no digits beyond partition numbers, seconds and the label
          for (const line of a.lines) expect(line.replace(/P[12] |User 3|locked \d+ s|Partition 2/g, "")).not.toMatch(/\d/);
          // while the backend did get the real digits
          expect(b.codes.map((c) => [...c].map((d) => (Number(d) - shift + 10) % 10).join(""))).toEqual(a.codes);
        },
      ),
      { numRuns: 300 },
    );
  });
});
