import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ROLES } from "../../../src/domain/index.js";
import { anyAckSchema, decodeAck, decodeWith, encodeCbor } from "../../../protocol/index.js";
import { isAck } from "../../../protocol/ack-fast.js";
import { NOW, PANEL } from "./helpers.js";

/** The contract: the fast path never accepts what the schema refuses, and decodeAck answers exactly as the schema alone did. */
function agrees(value: unknown): void {
  const zod = anyAckSchema.safeParse(value);
  if (isAck(value)) {
    expect(zod.success).toBe(true);
    expect(zod.data).toEqual(value);
  }
  let bytes: Buffer;
  try {
    bytes = encodeCbor(value);
  } catch {
    return; // not encodable (a class instance): never arrives as an ack
  }
  expect(decodeAck(bytes)).toEqual(decodeWith(anyAckSchema, bytes));
}

// ---------------------------------------------------------------------------------------------
// valid acks

const id = fc.string({ minLength: 1, maxLength: 8 });
const seq = fc.integer({ min: 1, max: 2 ** 40 });
const slot = fc.integer({ min: 1, max: 1_000_000 });
const schedule = fc.oneof(
  fc.constant({ kind: "always" as const }),
  fc.record({ kind: fc.constant("weekly" as const), windows: fc.array(fc.record({ days: fc.uniqueArray(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 7 }), start: fc.integer({ min: 0, max: 1439 }), end: fc.integer({ min: 1, max: 1440 }) }), { minLength: 1, maxLength: 3 }) }),
  fc.record({ kind: fc.constant("temporary" as const), from: fc.integer({ min: 0, max: 2 ** 45 }), to: fc.integer({ min: 0, max: 2 ** 45 }) }),
);
const account = fc.oneof(
  fc.constant(null),
  fc.record({ id, email: fc.constantFrom("ada@example.com", "b@c"), createdAt: fc.integer({ min: 0, max: 2 ** 45 }), status: fc.constantFrom("Not confirmed", "Active", "Suspended") }),
);
const slotView = fc.record({
  number: slot,
  label: fc.string({ maxLength: 12 }),
  role: fc.constantFrom(...ROLES),
  codeSet: fc.boolean(),
  partitions: fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 4 }),
  schedule,
  doorLocks: fc.array(fc.string({ minLength: 1, maxLength: 6 }), { maxLength: 3 }),
  tags: fc.array(fc.record({ kind: fc.constantFrom("keypad", "doorlock") }), { maxLength: 3 }),
  account,
  version: fc.integer({ min: 0, max: 2 ** 40 }),
});
const page = fc.record({
  rows: fc.array(fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null))), { maxLength: 3 }),
  page: fc.integer({ min: 1, max: 100 }),
  perPage: fc.constantFrom(10, 15, 50, 100, 200),
  total: fc.nat(),
  pages: fc.integer({ min: 1, max: 100 }),
  range: fc.string({ maxLength: 20 }),
});
const slotList = fc.array(slot, { maxLength: 4 });
const result = fc.record({ page, slots: fc.array(slotView, { maxLength: 3 }), added: slotList, changed: slotList, removed: slotList }, { requiredKeys: [] });
const detail = fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean()), { maxKeys: 3 });
const wireError = fc.record({ code: fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/), detail }, { requiredKeys: ["code"] });
const applied = fc.record({ ok: fc.constant(true as const), id, seq, result, dup: fc.constant(true as const) }, { requiredKeys: ["ok", "id", "seq"] });
const rejected = fc.record({ ok: fc.constant(false as const), id, seq, error: wireError, dup: fc.constant(true as const) }, { requiredKeys: ["ok", "error"] });
const outcome = fc.oneof(applied, rejected);
const head = { v: fc.constant(1), panel: fc.constantFrom(PANEL, "p1", "A.b_c-9"), at: fc.integer({ min: 0, max: 2 ** 45 }) };
const single = fc.record({ ...head, t: fc.constant("ack" as const), ack: outcome });
const batch = fc.record({ ...head, t: fc.constant("batch_ack" as const), id, acks: fc.array(outcome, { maxLength: 6 }), error: wireError }, { requiredKeys: ["v", "t", "panel", "at", "acks"] });
const anyAck = fc.oneof(single, batch);

// ---------------------------------------------------------------------------------------------
// mutations: one spot of a valid ack replaced, removed or joined by a stranger

const nasty: unknown[] = [
  undefined, null, true, false, 0, -0, 1, -1, 1.5, 64, 65, 256, 1_000_000, 1_000_001, 8.64e15, 8.64e15 + 1, 2 ** 53, Number.NaN, Infinity, -Infinity,
  "", "x", "x".repeat(64), "x".repeat(65), "x".repeat(128), "x".repeat(129), "x".repeat(256), "x".repeat(257), "always", "keypad", "User", "Master ", "ack", "batch_ack", "bad code", "a".repeat(65),
  [], [1], [0], [{}], {}, { kind: "always" }, { kind: "always", x: 1 }, { kind: "weekly" }, { kind: "lock" }, new Uint8Array(0), new Uint8Array(2),
];

type Path = (string | number)[];
function paths(value: unknown, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...at, i], out));
  else if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) for (const [k, v] of Object.entries(value)) paths(v, [...at, k], out);
  return out;
}

function mutate(value: unknown, path: Path, how: number, replacement: unknown): unknown {
  if (path.length === 0) return how === 0 ? replacement : value;
  const copy: unknown = Array.isArray(value) ? [...value] : { ...(value as object) };
  const c = copy as Record<string | number, unknown>;
  const [key, ...rest] = path as [string | number, ...Path];
  if (rest.length > 0) c[key] = mutate(c[key], rest, how, replacement);
  else if (how === 0) c[key] = replacement;
  else if (how === 1) {
    if (Array.isArray(copy)) copy.splice(key as number, 1);
    else delete c[key];
  } else if (Array.isArray(copy)) copy.push(replacement);
  else c.extra = replacement;
  return copy;
}

describe("the fast ack check", () => {
  it("accepts every valid ack, as the schema does", () => {
    fc.assert(
      fc.property(anyAck, (ack) => {
        expect(anyAckSchema.safeParse(ack).success).toBe(true);
        expect(isAck(ack)).toBe(true);
        agrees(ack);
      }),
      { numRuns: 600 },
    );
  });

  it("agrees with the schema on mutated acks", () => {
    fc.assert(
      fc.property(anyAck, fc.nat(), fc.nat({ max: 2 }), fc.constantFrom(...nasty), (ack, pick, how, replacement) => {
        const all = paths(ack);
        agrees(mutate(ack, all[pick % all.length]!, how, replacement));
      }),
      { numRuns: 3000 },
    );
  });

  it("agrees with the schema on anything at all", () => {
    fc.assert(fc.property(fc.anything(), (value) => agrees(value)), { numRuns: 500 });
    for (const value of nasty) agrees(value);
  });

  const view = { number: 2, label: "L", role: "User", codeSet: true, partitions: [1], schedule: { kind: "always" }, doorLocks: [], tags: [], account: null, version: 1 };
  const withView = (over: Record<string, unknown>) => ({ v: 1, t: "ack", panel: PANEL, at: NOW, ack: { ok: true, id: "c", seq: 1, result: { slots: [{ ...view, ...over }] } } });
  const withResult = (result: Record<string, unknown>) => ({ v: 1, t: "ack", panel: PANEL, at: NOW, ack: { ok: true, id: "c", seq: 1, result } });
  const withError = (error: unknown) => ({ v: 1, t: "ack", panel: PANEL, at: NOW, ack: { ok: false, error } });

  it.each([
    ["slot number", withView({ number: 1_000_000 }), withView({ number: 1_000_001 })],
    ["label length", withView({ label: "x".repeat(256) }), withView({ label: "x".repeat(257) })],
    ["partition", withView({ partitions: [64] }), withView({ partitions: [65] })],
    ["partition count", withView({ partitions: Array(64).fill(1) }), withView({ partitions: Array(65).fill(1) })],
    ["door lock length", withView({ doorLocks: ["x".repeat(64)] }), withView({ doorLocks: ["x".repeat(65)] })],
    ["empty door lock", withView({ doorLocks: ["x"] }), withView({ doorLocks: [""] })],
    ["tag count", withView({ tags: Array(64).fill({ kind: "keypad" }) }), withView({ tags: Array(65).fill({ kind: "keypad" }) })],
    ["version", withView({ version: 0 }), withView({ version: -1 })],
    ["role", withView({ role: "Dealer" }), withView({ role: "dealer" })],
    ["tag kind", withView({ tags: [{ kind: "doorlock" }] }), withView({ tags: [{ kind: "door" }] })],
    ["schedule", withView({ schedule: { kind: "weekly", windows: [{ days: [1], start: 0, end: 1440 }] } }), withView({ schedule: { kind: "weekly", windows: [] } })],
    ["account", withView({ account: { id: "a", email: "a@b", createdAt: 0, status: "Active" } }), withView({ account: { id: "a", email: "a b@c", createdAt: 0, status: "Active" } })],
    ["slot list size", withResult({ added: Array(200_000).fill(1) }), withResult({ removed: Array(200_001).fill(1) })],
    ["error code length", withError({ code: "a".repeat(64) }), withError({ code: "a".repeat(65) })],
    ["error code shape", withError({ code: "a_9" }), withError({ code: "9a" })],
    ["detail key", withError({ code: "x", detail: { ["k".repeat(64)]: 1 } }), withError({ code: "x", detail: { ["k".repeat(65)]: 1 } })],
    ["detail value", withError({ code: "x", detail: { k: "v".repeat(256) } }), withError({ code: "x", detail: { k: "v".repeat(257) } })],
    ["id length", { v: 1, t: "batch_ack", panel: PANEL, at: NOW, id: "i".repeat(128), acks: [] }, { v: 1, t: "batch_ack", panel: PANEL, at: NOW, id: "i".repeat(129), acks: [] }],
    ["at", { v: 1, t: "batch_ack", panel: PANEL, at: 8.64e15, acks: [] }, { v: 1, t: "batch_ack", panel: PANEL, at: 8.64e15 + 1, acks: [] }],
    ["panel id", { v: 1, t: "batch_ack", panel: "p".repeat(64), acks: [], at: NOW }, { v: 1, t: "batch_ack", panel: "p".repeat(65), acks: [], at: NOW }],
    ["batch size", { v: 1, t: "batch_ack", panel: PANEL, at: NOW, acks: Array(1000).fill({ ok: false, error: { code: "x" } }) }, { v: 1, t: "batch_ack", panel: PANEL, at: NOW, acks: Array(1001).fill({ ok: false, error: { code: "x" } }) }],
  ])("accepts and refuses at the schema's bounds: %s", (_name, inside, outside) => {
    expect(isAck(inside)).toBe(true);
    expect(anyAckSchema.safeParse(outside).success).toBe(false);
    agrees(inside);
    agrees(outside);
  });
});
