import { createHash } from "node:crypto";
import type { SlotView } from "../src/domain/index.js";

/**
 * The retained state's `digest` (protocol/README.md section 7.1): what a cloud computes from its
 * own copy of a panel's table to check that the panel holds the same users.
 *
 *   digest = lowercase hex of SHA-256( UTF-8( JCS( [ view(slot) for every slot with a code,
 *                                                     in ascending slot number ] ) ) )
 *
 * `view` is the slot's non-secret view exactly as an ack's `result.slots` carries it, without
 * `version` (versions count history; two tables with the same users must agree). JCS is the JSON
 * Canonicalization Scheme, RFC 8785: no whitespace, object keys sorted by their UTF-16 code units,
 * strings escaped as ECMAScript's JSON.stringify does, integers in plain decimal.
 */

/** A slot's content as the digest covers it: its view without `version`. */
export type SlotContent = Omit<SlotView, "version">;

/**
 * RFC 8785 canonical JSON of the values this protocol's views hold: null, booleans, integers,
 * strings, arrays and plain objects (undefined members are left out, as JSON.stringify does).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError("canonical JSON has no NaN or Infinity");
    // ECMAScript's number serialisation is RFC 8785's; -0 is written 0.
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object") {
    const obj = value as Record<string, unknown>;
    // Default sort compares UTF-16 code units: what RFC 8785 section 3.2.3 asks for.
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
  }
  throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
}

/** The canonical text of one slot in the digest (its view without `version`). */
export function slotDigestText(view: SlotContent | SlotView): string {
  const { version: _version, ...content } = view as SlotView;
  return canonicalJson(content);
}

/** The digest of a whole table, from its slots with a code (any order: sorted here by number). */
export function tableDigest(views: Iterable<SlotContent | SlotView>): string {
  const sorted = [...views].filter((v) => v.codeSet).sort((a, b) => a.number - b.number);
  return createHash("sha256").update(`[${sorted.map(slotDigestText).join(",")}]`, "utf8").digest("hex");
}
