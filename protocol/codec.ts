import { Decoder, Encoder } from "cbor-x";
import type { z } from "zod";
import { RuleError } from "../src/domain/index.js";
import { Secret } from "../src/domain/index.js";

/**
 * Safe CBOR for untrusted input.
 *
 * Order of defences (see protocol/README.md, "CBOR profile"):
 *   1. cap the payload's byte length before touching it (`payload_too_large`);
 *   2. scan the bytes without materialising anything: well-formed, definite lengths only, every
 *      declared length fits in the bytes that remain (a header claiming a 4 GB string is refused
 *      before any allocation), nesting depth bounded (iteratively: no recursion, no stack
 *      overflow), no tags, only false/true/null/floats as simple values, map keys are text,
 *      never `__proto__`/`constructor`/`prototype`, no duplicate keys, no trailing bytes
 *      (`malformed_payload`);
 *   3. only then decode with cbor-x (`useRecords: false, mapsAsObjects: true`);
 *   4. validate with a strict zod schema (`schema_violation`) before anything is logged.
 * Nothing here throws to callers: every failure is a `RuleError` in a result.
 */

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: RuleError };

export interface DecodeLimits {
  /** Largest payload accepted, in bytes. Default 256 KiB. */
  maxBytes?: number;
  /** Deepest nesting of arrays/maps accepted (the top-level map is depth 1). Default 16. */
  maxDepth?: number;
}

export const DEFAULT_MAX_BYTES = 256 * 1024;
export const DEFAULT_MAX_DEPTH = 16;

/** Keys that could reach an object's prototype chain. `__proto_` is how cbor-x renders `__proto__`. */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["__proto__", "__proto_", "constructor", "prototype"]);

const decoder = new Decoder({
  useRecords: false,
  mapsAsObjects: true,
  // cbor-x option missing from its typings: 64-bit integers decode as numbers (zod's z.int() then
  // refuses anything beyond Number.MAX_SAFE_INTEGER) instead of bigints.
  int64AsNumber: true,
} as ConstructorParameters<typeof Decoder>[0]);

const encoder = new Encoder({
  useRecords: false,
  mapsAsObjects: true,
  variableMapSize: true,
  tagUint8Array: false,
});

function malformed(reason: string, at?: number): { ok: false; error: RuleError } {
  return { ok: false, error: new RuleError("malformed_payload", at === undefined ? { reason } : { reason, offset: at }) };
}

/** A map key as a string: short ASCII keys without a call into the native UTF-8 decoder. */
function keyText(buf: Uint8Array, text: Buffer, p: number, len: number): string {
  if (len > 32) return text.toString("utf8", p, p + len);
  let s = "";
  for (let i = p; i < p + len; i++) {
    const c = buf[i] as number;
    if (c >= 0x80) return text.toString("utf8", p, p + len);
    s += String.fromCharCode(c);
  }
  return s;
}

/**
 * Checks that `buf` holds exactly one well-formed CBOR item of the profile this protocol uses.
 * Iterative, allocation-light (one small frame per open container), O(bytes).
 */
export function scanCbor(buf: Uint8Array, maxDepth: number = DEFAULT_MAX_DEPTH): { ok: true } | { ok: false; error: RuleError } {
  const n = buf.length;
  const text = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  // Open containers: items still expected, whether it is a map, and its keys seen so far.
  const remaining: number[] = [1];
  const isMap: boolean[] = [false];
  // Small maps keep their keys in an array (cheaper than a Set); large ones switch to a Set.
  const keys: (string[] | Set<string> | null)[] = [null];
  let top = 0;
  let p = 0;
  for (;;) {
    while (remaining[top] === 0) {
      if (top === 0) {
        return p === n ? { ok: true } : malformed("trailing_bytes", p);
      }
      remaining.pop();
      isMap.pop();
      keys.pop();
      top--;
    }
    if (p >= n) return malformed("truncated", p);
    const start = p;
    const ib = buf[p++] as number;
    const major = ib >> 5;
    const ai = ib & 31;
    const left = remaining[top] as number;
    const isKey = isMap[top] === true && left % 2 === 0;
    remaining[top] = left - 1;

    let val: number;
    if (ai < 24) {
      val = ai;
    } else if (ai === 24) {
      if (p + 1 > n) return malformed("truncated", start);
      val = buf[p] as number;
      p += 1;
    } else if (ai === 25) {
      if (p + 2 > n) return malformed("truncated", start);
      val = ((buf[p] as number) << 8) | (buf[p + 1] as number);
      p += 2;
    } else if (ai === 26) {
      if (p + 4 > n) return malformed("truncated", start);
      val = text.readUInt32BE(p);
      p += 4;
    } else if (ai === 27) {
      if (p + 8 > n) return malformed("truncated", start);
      const hi = text.readUInt32BE(p);
      // A length or count this large can never fit in a bounded payload; integers of any size are fine.
      val = hi > 0 && major >= 2 && major <= 5 ? Number.MAX_SAFE_INTEGER : hi * 0x1_0000_0000 + text.readUInt32BE(p + 4);
      p += 8;
    } else {
      // 28..30 reserved; 31 = indefinite length or "break": this profile uses definite lengths only.
      return malformed(ai === 31 ? "indefinite_length" : "reserved_additional_info", start);
    }

    if (isKey && major !== 3) return malformed("non_text_map_key", start);

    switch (major) {
      case 0:
      case 1:
        break;
      case 2:
        if (val > n - p) return malformed("length_exceeds_payload", start);
        p += val;
        break;
      case 3:
        if (val > n - p) return malformed("length_exceeds_payload", start);
        if (isKey) {
          const key = keyText(buf, text, p, val);
          if (FORBIDDEN_KEYS.has(key)) return malformed("forbidden_key", start);
          const seen = keys[top] as string[] | Set<string>;
          if (Array.isArray(seen)) {
            if (seen.includes(key)) return malformed("duplicate_key", start);
            seen.push(key);
            if (seen.length > 16) keys[top] = new Set(seen);
          } else {
            if (seen.has(key)) return malformed("duplicate_key", start);
            seen.add(key);
          }
        }
        p += val;
        break;
      case 4:
      case 5: {
        const items = major === 5 ? val * 2 : val;
        // Every item takes at least one byte: a count beyond the bytes left is a lie.
        if (items > n - p) return malformed("length_exceeds_payload", start);
        if (top + 1 > maxDepth) return malformed("too_deep", start);
        remaining.push(items);
        isMap.push(major === 5);
        keys.push(major === 5 ? [] : null);
        top++;
        break;
      }
      case 6:
        return malformed("tag_not_allowed", start);
      default:
        // major 7: false, true, null and floats (half/single/double) only.
        if (!(ai === 20 || ai === 21 || ai === 22 || ai === 25 || ai === 26 || ai === 27)) {
          return malformed("simple_value_not_allowed", start);
        }
    }
  }
}

/** Size-capped, scanned, decoded CBOR (not yet schema-validated). Never throws. */
export function decodeCbor(bytes: Uint8Array, limits: DecodeLimits = {}): Decoded<unknown> {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_BYTES;
  if (!(bytes instanceof Uint8Array)) return malformed("not_bytes");
  if (bytes.length > maxBytes) {
    return { ok: false, error: new RuleError("payload_too_large", { limit: maxBytes, size: bytes.length }) };
  }
  if (bytes.length === 0) return malformed("empty");
  const scanned = scanCbor(bytes, limits.maxDepth ?? DEFAULT_MAX_DEPTH);
  if (!scanned.ok) return scanned;
  try {
    return { ok: true, value: decoder.decode(bytes) as unknown };
  } catch {
    // The scan should make this unreachable; never let a decoder error escape.
    return malformed("decoder_error");
  }
}

/** Maps the first zod issue to `schema_violation`: field path and issue code only, never a value. */
export function schemaError(error: z.ZodError, prefix?: string): RuleError {
  const issue = error.issues[0];
  const parts = issue ? issue.path.map((s) => String(s)) : [];
  if (prefix) parts.unshift(prefix);
  const detail: Record<string, string> = { path: parts.join(".") || "(root)", issue: issue?.code ?? "invalid" };
  if (issue?.code === "unrecognized_keys") {
    const key = issue.keys[0];
    if (typeof key === "string") detail.field = key.slice(0, 64);
  }
  return new RuleError("schema_violation", detail);
}

/** Decode and validate in one step. Never throws. */
export function decodeWith<S extends z.ZodType>(schema: S, bytes: Uint8Array, limits?: DecodeLimits): Decoded<z.output<S>> {
  const raw = decodeCbor(bytes, limits);
  if (!raw.ok) return raw;
  const parsed = schema.safeParse(raw.value);
  if (!parsed.success) return { ok: false, error: schemaError(parsed.error) };
  return { ok: true, value: parsed.data };
}

/**
 * Prepares a value for encoding in this protocol's CBOR profile: drops keys whose value is
 * `undefined`, turns integers beyond 32 bits into bigints so cbor-x writes them as CBOR integers
 * (it would otherwise write float64), keeps byte strings as they are. Never mutates: a container
 * is copied only when something inside it changes (a 500-outcome batch ack has a timestamp at the
 * top and nothing to change below it), so most of a message is encoded as it is.
 * A `Secret` here is a programming error (it must be sealed, never encoded in the clear).
 */
function toWire(value: unknown): unknown {
  if (typeof value === "number") {
    if (Number.isInteger(value) && (value > 0xffff_ffff || value < -0x1_0000_0000) && Number.isSafeInteger(value)) return BigInt(value);
    return value;
  }
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Uint8Array) return value;
  if (value instanceof Secret) throw new RuleError("internal_error", { reason: "secret_in_clear" });
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      const w = toWire(v);
      if (w !== v) (out ??= value.slice())[i] = w;
    }
    return out ?? value;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) throw new RuleError("internal_error", { reason: "unsupported_value" });
  const obj = value as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  for (const k in obj) {
    const v = obj[k];
    const w = v === undefined ? undefined : toWire(v);
    if (out) {
      if (w !== undefined) out[k] = w;
      continue;
    }
    if (w === v && v !== undefined) continue;
    // First change: the keys before it were kept as they are (key order is preserved).
    out = {};
    for (const j in obj) {
      if (j === k) break;
      out[j] = obj[j];
    }
    if (w !== undefined) out[k] = w;
  }
  return out ?? obj;
}

/** Encodes a value in this protocol's CBOR profile (definite lengths, text keys, integers as integers). */
export function encodeCbor(value: unknown): Buffer {
  return encoder.encode(toWire(value));
}
