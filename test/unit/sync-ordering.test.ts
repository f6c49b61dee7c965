import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sequence } from "../../src/sync/ordering.js";

/**
 * Model: the cloud issues commands 1..N in order; the network duplicates, reorders and drops.
 * Whatever arrives, the agent applies each command at most once and only in order, so the applied
 * list is always a prefix 1..k of the cloud's commands (without a snapshot).
 */
describe("command sequencing", () => {
  it("applies in order, at most once, whatever the delivery does", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }).chain((n) =>
          fc.tuple(fc.constant(n), fc.array(fc.integer({ min: 1, max: n }), { maxLength: 120 })),
        ),
        ([, deliveries]) => {
          let last = 0;
          const seen = new Set<number>();
          const applied: number[] = [];
          for (const seq of deliveries) {
            const verdict = sequence(last, seq, seen.has(seq), false);
            if (verdict === "apply") {
              applied.push(seq);
              seen.add(seq);
              last = seq;
            }
            if (verdict === "duplicate") expect(seen.has(seq)).toBe(true);
          }
          expect(applied).toEqual(Array.from({ length: applied.length }, (_, i) => i + 1));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("a clean in-order delivery with 30 % duplicates ends like a single delivery", () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 200 }), (dups) => {
        let last = 0;
        const seen = new Set<number>();
        let count = 0;
        dups.forEach((dup, i) => {
          const seq = i + 1;
          for (const _ of dup ? [1, 2] : [1]) {
            if (sequence(last, seq, seen.has(seq), false) === "apply") {
              seen.add(seq);
              last = seq;
              count++;
            }
          }
        });
        expect(count).toBe(dups.length);
      }),
    );
  });

  it("names each case", () => {
    expect(sequence(5, 6, false, false)).toBe("apply");
    expect(sequence(5, 6, true, false)).toBe("duplicate");
    expect(sequence(5, 5, false, false)).toBe("replayed");
    expect(sequence(5, 9, false, false)).toBe("gap");
    expect(sequence(5, 9, false, true)).toBe("apply");
    expect(sequence(5, 3, false, true)).toBe("replayed");
  });
});
