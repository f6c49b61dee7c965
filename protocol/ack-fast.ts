import { accountSchema, scheduleSchema } from "../src/domain/index.js";
import { LIMITS, PANEL_ID_PATTERN, PROTOCOL_VERSION, pageSchema, slotViewSchema, type AnyAck } from "./schema.js";

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

const MAX_EPOCH_MS = 8.64e15;
const isId = (v: unknown) => isStr(v, 1, LIMITS.maxIdLength);
const isSeq = (v: unknown) => isInt(v, 1, Number.MAX_SAFE_INTEGER);
const isEpochMs = (v: unknown) => isInt(v, 0, MAX_EPOCH_MS);
const isPanel = (v: unknown) => typeof v === "string" && PANEL_ID_PATTERN.test(v);
const ERROR_CODE = /^[a-z][a-z0-9_]{0,63}$/;

function isSingleAck(o: Obj): boolean {
  let required = 0;
  for (const k in o) {
    switch (k) {
      case "v":
        if (o.v !== PROTOCOL_VERSION) return false;
        break;
      case "t":
        break; // checked by the caller
      case "panel":
        if (!isPanel(o.panel)) return false;
        break;
      case "at":
        if (!isEpochMs(o.at)) return false;
        break;
      case "ack":
        if (!isOutcome(o.ack)) return false;
        break;
      default:
        return false;
    }
    required++;
  }
  return required === 5;
}

function isBatchAck(o: Obj): boolean {
  let required = 0;
  for (const k in o) {
    switch (k) {
      case "v":
        if (o.v !== PROTOCOL_VERSION) return false;
        required++;
        break;
      case "t":
        required++;
        break;
      case "panel":
        if (!isPanel(o.panel)) return false;
        required++;
        break;
      case "at":
        if (!isEpochMs(o.at)) return false;
        required++;
        break;
      case "acks": {
        const acks = o.acks;
        if (!Array.isArray(acks) || acks.length > LIMITS.maxBatch) return false;
        for (let i = 0; i < acks.length; i++) if (!isOutcome(acks[i])) return false;
        required++;
        break;
      }
      case "id":
        if (o.id !== undefined && !isId(o.id)) return false;
        break;
      case "error":
        if (o.error !== undefined && !isWireError(o.error)) return false;
        break;
      default:
        return false;
    }
  }
  return required === 5;
}

function isOutcome(v: unknown): boolean {
  if (!isPlain(v)) return false;
  if (v.ok === true) {
    let required = 0;
    for (const k in v) {
      switch (k) {
        case "ok":
          required++;
          break;
        case "id":
          if (!isId(v.id)) return false;
          required++;
          break;
        case "seq":
          if (!isSeq(v.seq)) return false;
          required++;
          break;
        case "result":
          if (v.result !== undefined && !isResult(v.result)) return false;
          break;
        case "dup":
          if (v.dup !== undefined && v.dup !== true) return false;
          break;
        default:
          return false;
      }
    }
    return required === 3;
  }
  if (v.ok === false) {
    let required = 0;
    for (const k in v) {
      switch (k) {
        case "ok":
          required++;
          break;
        case "error":
          if (!isWireError(v.error)) return false;
          required++;
          break;
        case "id":
          if (v.id !== undefined && !isId(v.id)) return false;
          break;
        case "seq":
          if (v.seq !== undefined && !isSeq(v.seq)) return false;
          break;
        case "dup":
          if (v.dup !== undefined && v.dup !== true) return false;
          break;
        default:
          return false;
      }
    }
    return required === 2;
  }
  return false;
}

function isWireError(v: unknown): boolean {
  if (!isPlain(v)) return false;
  let required = 0;
  for (const k in v) {
    switch (k) {
      case "code":
        if (typeof v.code !== "string" || !ERROR_CODE.test(v.code)) return false;
        required++;
        break;
      case "detail":
        if (v.detail !== undefined && !isDetail(v.detail)) return false;
        break;
      default:
        return false;
    }
  }
  return required === 1;
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

function isSlotList(v: unknown): boolean {
  if (!Array.isArray(v) || v.length > MAX_LIST) return false;
  for (let i = 0; i < v.length; i++) if (!isInt(v[i], 1, MAX_SLOT)) return false;
  return true;
}

function isResult(v: unknown): boolean {
  if (!isPlain(v)) return false;
  for (const k in v) {
    const x = v[k];
    if (x === undefined) {
      if (k !== "page" && k !== "slots" && k !== "added" && k !== "changed" && k !== "removed") return false;
      continue;
    }
    switch (k) {
      case "slots": {
        if (!Array.isArray(x) || x.length > MAX_LIST) return false;
        for (let i = 0; i < x.length; i++) if (!isSlotView(x[i])) return false;
        break;
      }
      case "added":
      case "changed":
      case "removed":
        if (!isSlotList(x)) return false;
        break;
      case "page":
        // Reads only, at most one per ack.
        if (!pageSchema.safeParse(x).success) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

const ROLES: ReadonlySet<unknown> = new Set(slotViewSchema.shape.role.options);
const TAG_KINDS: ReadonlySet<unknown> = new Set(slotViewSchema.shape.tags.element.shape.kind.options);

function isSlotView(v: unknown): boolean {
  if (!isPlain(v)) return false;
  let required = 0;
  for (const k in v) {
    const x = v[k];
    switch (k) {
      case "number":
        if (!isInt(x, 1, MAX_SLOT)) return false;
        break;
      case "label":
        if (!isStr(x, 0, 256)) return false;
        break;
      case "role":
        if (!ROLES.has(x)) return false;
        break;
      case "codeSet":
        if (typeof x !== "boolean") return false;
        break;
      case "partitions": {
        if (!Array.isArray(x) || x.length > 64) return false;
        for (let i = 0; i < x.length; i++) if (!isInt(x[i], 1, 64)) return false;
        break;
      }
      case "schedule":
        if (!isAlways(x) && !scheduleSchema.safeParse(x).success) return false;
        break;
      case "doorLocks": {
        if (!Array.isArray(x) || x.length > 64) return false;
        for (let i = 0; i < x.length; i++) if (!isStr(x[i], 1, 64)) return false;
        break;
      }
      case "tags": {
        if (!Array.isArray(x) || x.length > 64) return false;
        for (let i = 0; i < x.length; i++) if (!isTag(x[i])) return false;
        break;
      }
      case "account":
        if (x !== null && !accountSchema.safeParse(x).success) return false;
        break;
      case "version":
        if (!isInt(x, 0, Number.MAX_SAFE_INTEGER)) return false;
        break;
      default:
        return false;
    }
    required++;
  }
  return required === 10;
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
