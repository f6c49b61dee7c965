import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ERROR_CODES, Secret } from "../../../src/domain/index.js";
import { commandSchema } from "../../../src/domain/index.js";
import { encodeBatch, openEnvelope, type OpenResult } from "../../../protocol/index.js";
import { actor, EXP, keys, openOpts, PANEL } from "./helpers.js";

const codes = new Set<string>(ERROR_CODES);

function wellFormed(r: OpenResult): boolean {
  if (!r.ok) return codes.has(r.error.code);
  return r.commands.every((c) => (c.ok ? commandSchema.safeParse(c.command).success : codes.has(c.error.code)));
}

const valid = encodeBatch(
  PANEL,
  "b",
  [
    { seq: 1, expiresAt: EXP, command: { kind: "set_code", id: "c1", actor, slot: 2, code: new Secret("1234") } },
    { seq: 2, expiresAt: EXP, command: { kind: "set_label", id: "c2", actor, slot: 2, label: "Bob" } },
    { seq: 3, expiresAt: EXP, command: { kind: "snapshot", id: "c3", actor, users: [{ slot: 1, code: "keep" }, { slot: 2, code: new Secret("5678") }] } },
  ],
  keys,
);

describe("openEnvelope under fuzzing", () => {
  it("never throws on random bytes and always answers with a known code", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        expect(wellFormed(openEnvelope(bytes, openOpts()))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("never throws on bit flips and truncations of a valid envelope", () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: valid.length * 8 - 1 }), { minLength: 1, maxLength: 4 }), fc.nat({ max: valid.length }), (flips, cut) => {
        const bytes = Buffer.from(valid);
        for (const bit of flips) bytes[bit >> 3]! ^= 1 << (bit & 7);
        const r = openEnvelope(bytes.subarray(0, Math.max(cut, 1)), openOpts());
        expect(wellFormed(r)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it("a flipped bit inside the signed body never opens", () => {
    // The body is the long byte string in the middle; flipping any bit of it must fail as a whole.
    fc.assert(
      fc.property(fc.integer({ min: 40, max: valid.length - 80 }), fc.integer({ min: 0, max: 7 }), (byte, bit) => {
        const bytes = Buffer.from(valid);
        bytes[byte]! ^= 1 << bit;
        const r = openEnvelope(bytes, openOpts());
        expect(r.ok).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});
