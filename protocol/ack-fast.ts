import { accountSchema, scheduleSchema } from "../src/domain/index.js";
import { LIMITS, MAX_EPOCH_MS, PANEL_ID_PATTERN, PROTOCOL_VERSION, pageSchema, slotViewSchema, stateSchema, type AnyAck, type State } from "./schema.js";

/**
 * A fast acceptance path for `anyAckSchema`, for the cloud's ack decoding: zod took ~9 µs per
 * outcome of a 500-command batch_ack, and the next envelope waits for that decode.
 *
 * `isAck(value)` is true only when `anyAckSchema.safeParse(value)` succeeds (and then returns a
 * value equal to `value`: no ack schema transforms or defaults anything). False means "not
 * decided here": the caller asks zod, which refuses or accepts and reports why. So this path can
 * only ever be narrower than the schema, never wider; shapes that are rare in acks (a page of a
 * read, a non-trivial schedule, an account) are handed to their zod schemas piecewise.
 * test/unit/protocol/ack-fast.test.ts holds the two to the same answers.
 *
 * Mirrors protocol/schema.ts (ackSchema, batchAckSchema, outcomeSchema, wireErrorSchema,
 * commandResultSchema, slotViewSchema): a change there needs the same change here.
 */
export function isAck(value: unknown): value is AnyAck {
  if (!isPlain(value)) return false;
  if (value.t === "ack") return isSingleAck(value);
  if (value.t === "batch_ack") return isBatchAck(value);
  return false;
}

type Obj = Record<string, unknown>;

/** A plain object (or one without a prototype); anything else (arrays, byte strings, class instances) goes to zod. */
function isPlain(v: unknown): v is Obj {
  if (typeof v !== "object" || v === null) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function isInt(v: unknown, min: number, max: number): boolean {
  return Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;
}

function isStr(v: unknown, min: number, max: number): boolean {
  return typeof v === "string" && v.length >= min && v.length <= max;
}

/** A `z.array(item).max(max)`. */
function isArrayOf(max: number, item: (x: unknown) => boolean): (v: unknown) => boolean {
  return (v) => {
    if (!Array.isArray(v) || v.length > max) return false;
    for (let i = 0; i < v.length; i++) if (!item(v[i])) return false;
    return true;
  };
}

const isId = (v: unknown) => isStr(v, 1, LIMITS.maxIdLength);
/** seqSchema by hand (also used by the cloud-side encoder). */
export const isSeq = (v: unknown): boolean => isInt(v, 1, Number.MAX_SAFE_INTEGER);
/** epochMsSchema by hand (also used by the cloud-side encoder). */
export const isEpochMs = (v: unknown): boolean => isInt(v, 0, MAX_EPOCH_MS);
const isPanel = (v: unknown) => typeof v === "string" && PANEL_ID_PATTERN.test(v);
const ERROR_CODE = /^[a-z][a-z0-9_]{0,63}$/;

/** One field of a strict object: its check, and whether it may be absent (or undefined). */
type Field = { check: (x: unknown) => boolean; optional?: true };
type Shape = { fields: ReadonlyMap<string, Field>; required: number };

function shape(fields: Record<string, Field>): Shape {
  return { fields: new Map(Object.entries(fields)), required: Object.values(fields).filter((f) => !f.optional).length };
}

/** A `z.strictObject`: no unknown key, every required field present and valid, optional ones valid or undefined. */
function isStrict(v: Obj, s: Shape): boolean {
  let required = 0;
  for (const k in v) {
    const f = s.fields.get(k);
    if (f === undefined) return false;
    const x = v[k];
    if (f.optional) {
      if (x !== undefined && !f.check(x)) return false;
    } else {
      if (!f.check(x)) return false;
      required++;
    }
  }
  return required === s.required;
}

const opt = (check: Field["check"]): Field => ({ check, optional: true });
const req = (check: Field["check"]): Field => ({ check });
const isTrue = (x: unknown) => x === true;

const ENVELOPE_FIELDS = {
  v: req((x) => x === PROTOCOL_VERSION),
  t: req(() => true), // checked by isAck
  panel: req(isPanel),
  at: req(isEpochMs),
};
const SINGLE_ACK = shape({ ...ENVELOPE_FIELDS, ack: req(isOutcome) });
const BATCH_ACK = shape({ ...ENVELOPE_FIELDS, acks: req(isArrayOf(LIMITS.maxBatch, isOutcome)), id: opt(isId), error: opt(isWireError) });
const OUTCOME_OK = shape({ ok: req(isTrue), id: req(isId), seq: req(isSeq), result: opt(isResult), dup: opt(isTrue) });
const OUTCOME_FAILED = shape({ ok: req((x) => x === false), error: req(isWireError), id: opt(isId), seq: opt(isSeq), dup: opt(isTrue) });
const WIRE_ERROR = shape({ code: req((x) => typeof x === "string" && ERROR_CODE.test(x)), detail: opt(isDetail) });

function isSingleAck(o: Obj): boolean {
  return isStrict(o, SINGLE_ACK);
}

function isBatchAck(o: Obj): boolean {
  return isStrict(o, BATCH_ACK);
}

function isOutcome(v: unknown): boolean {
  if (!isPlain(v)) return false;
  if (v.ok === true) return isStrict(v, OUTCOME_OK);
  if (v.ok === false) return isStrict(v, OUTCOME_FAILED);
  return false;
}

function isWireError(v: unknown): boolean {
  return isPlain(v) && isStrict(v, WIRE_ERROR);
}

/** `z.record(z.string().max(64), z.union([z.string().max(256), z.number(), z.boolean()]))`. */
function isDetail(v: unknown): boolean {
  // A record also reads symbol keys (which zod refuses); decoded CBOR never has any.
  if (!isPlain(v) || Object.getOwnPropertySymbols(v).length > 0) return false;
  for (const k in v) {
    if (!Object.hasOwn(v, k) || k.length > 64) return false;
    const x = v[k];
    if (typeof x === "string") {
      if (x.length > 256) return false;
    } else if (typeof x === "number") {
      if (!Number.isFinite(x)) return false;
    } else if (typeof x !== "boolean") return false;
  }
  return true;
}

const MAX_LIST = 200_000;
const MAX_SLOT = 1_000_000;

const isSlotList = isArrayOf(MAX_LIST, (x) => isInt(x, 1, MAX_SLOT));

const RESULT = shape({
  slots: opt(isArrayOf(MAX_LIST, isSlotView)),
  added: opt(isSlotList),
  changed: opt(isSlotList),
  removed: opt(isSlotList),
  page: opt((x) => pageSchema.safeParse(x).success), // reads only, at most one per ack
});

function isResult(v: unknown): boolean {
  return isPlain(v) && isStrict(v, RESULT);
}

const ROLES: ReadonlySet<unknown> = new Set(slotViewSchema.shape.role.options);
const TAG_KINDS: ReadonlySet<unknown> = new Set(slotViewSchema.shape.tags.element.shape.kind.options);

const SLOT_VIEW = shape({
  number: req((x) => isInt(x, 1, MAX_SLOT)),
  label: req((x) => isStr(x, 0, 256)),
  role: req((x) => ROLES.has(x)),
  codeSet: req((x) => typeof x === "boolean"),
  partitions: req(isArrayOf(64, (x) => isInt(x, 1, 64))),
  schedule: req((x) => isAlways(x) || scheduleSchema.safeParse(x).success),
  doorLocks: req(isArrayOf(64, (x) => isStr(x, 1, 64))),
  tags: req(isArrayOf(64, isTag)),
  account: req((x) => x === null || accountSchema.safeParse(x).success),
  version: req((x) => isInt(x, 0, Number.MAX_SAFE_INTEGER)),
});

function isSlotView(v: unknown): boolean {
  return isPlain(v) && isStrict(v, SLOT_VIEW);
}

/** `{ kind: "always" }`, by far the most common schedule; the others go to scheduleSchema. */
function isAlways(v: unknown): boolean {
  if (!isPlain(v) || v.kind !== "always") return false;
  for (const k in v) if (k !== "kind") return false;
  return true;
}

function isTag(v: unknown): boolean {
  if (!isPlain(v) || !TAG_KINDS.has(v.kind)) return false;
  for (const k in v) if (k !== "kind") return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// the retained state

const PANEL_TYPES: ReadonlySet<unknown> = new Set(stateSchema.shape.panelType.options);
const HEX64 = /^[0-9a-f]{64}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const isBytes = (n: number) => (x: unknown) => x instanceof Uint8Array && x.length === n;
const PROTO = shape({ v: req(isArrayOf(16, (x) => isInt(x, 1, Number.MAX_SAFE_INTEGER))), kinds: req(isArrayOf(128, (x) => isStr(x, 1, 64))) });
const DEALER = shape({ until: req(isEpochMs), hours: req((x) => x === 2 || x === 24) });
const STATE = shape({
  v: req((x) => x === PROTOCOL_VERSION),
  t: req((x) => x === "state"),
  panel: req(isPanel),
  at: req(isEpochMs),
  sealKey: req(isBytes(32)),
  lastSeq: req((x) => isInt(x, 0, Number.MAX_SAFE_INTEGER)),
  proto: req((x) => isPlain(x) && isStrict(x, PROTO) && (x.v as unknown[]).length >= 1),
  agent: req((x) => isStr(x, 1, 64)),
  panelType: req((x) => PANEL_TYPES.has(x)),
  codeLength: req((x) => isInt(x, 1, 16)),
  capacity: req((x) => isInt(x, 1, 1_000_000)),
  users: req((x) => isInt(x, 0, 1_000_000)),
  timeZone: req((x) => isStr(x, 1, 64)),
  dealerAccess: req((x) => x === null || (isPlain(x) && isStrict(x, DEALER))),
  tableVersion: req((x) => isInt(x, 0, Number.MAX_SAFE_INTEGER)),
  digest: req((x) => typeof x === "string" && HEX64.test(x)),
  epoch: opt((x) => typeof x === "string" && HEX16.test(x)),
  identityKey: opt(isBytes(32)),
});

/**
 * The same fast acceptance path for `stateSchema`: the agent checks every state it publishes and
 * the cloud every one it receives (two workers each, in a fleet), ~25 us of zod each time. True
 * only when `stateSchema.safeParse(value)` succeeds with a value equal to `value` (the schema
 * transforms nothing); false means "ask zod". Mirrors stateSchema in protocol/schema.ts.
 */
export function isState(value: unknown): value is State {
  return isPlain(value) && isStrict(value, STATE);
}
