import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decodeState, decodeWith, encodeCbor, encodeState, PROTOCOL_VERSION, signAgentMessage, generateSigningKey, stateSchema, WIRE_KINDS } from "../../../protocol/index.js";
import { isState } from "../../../protocol/ack-fast.js";

/** The contract: the fast path never accepts what the schema refuses, and decodeState answers as the schema alone did. */
function agrees(value: unknown): boolean {
  const zod = stateSchema.safeParse(value);
  const fast = isState(value);
  if (fast) {
    expect(zod.success).toBe(true);
    expect(zod.data).toEqual(value);
  }
  let bytes: Buffer;
  try {
    bytes = encodeCbor(value);
  } catch {
    return fast; // not encodable: never arrives as a state
  }
  expect(decodeState(bytes)).toEqual(decodeWith(stateSchema, bytes));
  return fast;
}

const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const state = fc.record(
  {
    v: fc.constant(PROTOCOL_VERSION),
    t: fc.constant("state"),
    panel: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/),
    at: fc.integer({ min: 0, max: 2 ** 45 }),
    sealKey: bytes32,
    lastSeq: fc.integer({ min: 0, max: 2 ** 40 }),
    proto: fc.record({ v: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 3 }), kinds: fc.array(fc.string({ minLength: 1, maxLength: 10 }), { maxLength: 20 }) }),
    agent: fc.string({ minLength: 1, maxLength: 64 }),
    panelType: fc.constantFrom(...stateSchema.shape.panelType.options),
    codeLength: fc.integer({ min: 1, max: 16 }),
    capacity: fc.integer({ min: 1, max: 1_000_000 }),
    users: fc.integer({ min: 0, max: 1_000_000 }),
    timeZone: fc.string({ minLength: 1, maxLength: 64 }),
    dealerAccess: fc.oneof(fc.constant(null), fc.record({ until: fc.integer({ min: 0, max: 2 ** 45 }), hours: fc.constantFrom(2 as const, 24 as const) })),
    tableVersion: fc.integer({ min: 0, max: 2 ** 40 }),
    digest: hex(64),
    epoch: hex(16),
    identityKey: bytes32,
  },
  { requiredKeys: ["v", "t", "panel", "at", "sealKey", "lastSeq", "proto", "agent", "panelType", "codeLength", "capacity", "users", "timeZone", "dealerAccess", "tableVersion", "digest"] },
);

/** Values a field may be swapped for: near misses of every field's rules, and other types. */
const junk = fc.oneof(
  fc.constantFrom(null, undefined, true, false, 0, -1, 1.5, 17, 1_000_001, 2 ** 53, Number.NaN, "", "x".repeat(65), "DSC", "state", "g".repeat(64), "0".repeat(16), "0".repeat(63)),
  fc.constantFrom(new Uint8Array(31), new Uint8Array(32), new Uint8Array(33), [], [0], [1], ["a"], {}, { until: 1, hours: 3 }, { until: -1, hours: 2 }, { v: [], kinds: [] }, { v: [1], kinds: [""] }, { v: [1], kinds: [], x: 1 }),
  fc.anything(),
);

describe("the retained state's fast acceptance path (isState)", () => {
  it("accepts the states the agent publishes, as the schema does", () => {
    fc.assert(
      fc.property(state, (s) => {
        expect(agrees(s)).toBe(true);
      }),
      { numRuns: 300 },
    );
    const s = { panel: "p-1", at: 1, sealKey: Buffer.alloc(32, 1), lastSeq: 3, proto: { v: [PROTOCOL_VERSION], kinds: [...WIRE_KINDS] }, agent: "panel-agent/1", panelType: "DSC" as const, codeLength: 4, capacity: 40, users: 1, timeZone: "Europe/Berlin", dealerAccess: null, tableVersion: 2, digest: "a".repeat(64), epoch: "0123456789abcdef", identityKey: Buffer.alloc(32, 2) };
    const signed = signAgentMessage(encodeState(s), generateSigningKey());
    const d = decodeState(signed);
    expect(d.ok && d.value.lastSeq).toBe(3);
    expect(isState(d.ok ? d.value : undefined)).toBe(true);
  });

  it("never accepts what the schema refuses: a field swapped, removed or added", () => {
    const keys = Object.keys(stateSchema.shape);
    fc.assert(
      fc.property(state, fc.constantFrom(...keys), junk, fc.constantFrom("swap", "drop", "extra"), (s, key, value, how) => {
        const m: Record<string, unknown> = { ...s };
        if (how === "swap") m[key] = value;
        else if (how === "drop") delete m[key];
        else m[`${key}_x`] = value;
        agrees(m);
      }),
      { numRuns: 3000 },
    );
  });

  it("refuses through zod with the schema's own error", () => {
    const bad = encodeCbor({ v: PROTOCOL_VERSION, t: "state", panel: "p-1" });
    const d = decodeState(bad);
    expect(d.ok).toBe(false);
    expect(d).toEqual(decodeWith(stateSchema, bad));
    expect(() => encodeState({ panel: "p-1" } as never)).toThrow();
  });
});
