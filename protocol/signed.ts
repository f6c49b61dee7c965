import type { KeyObject } from "node:crypto";
import { RuleError } from "../src/domain/index.js";
import { decodeCbor, encodeCbor, type Decoded, type DecodeLimits } from "./codec.js";
import { keyId, loadVerifyKey, signBytes, verifyBytes, type SigningKey } from "./crypto.js";
import { envelopeSchema, PROTOCOL_VERSION } from "./schema.js";

/**
 * The signed form of every message an agent publishes on `ack`, `evt` and `state`
 * (protocol/README.md section 4.1): `{ v: 1, kid, body, sig }`, the same outer form as a command
 * envelope, where `body` is the CBOR of the message (an ack, batch_ack, event or state) and `sig`
 * Ed25519 over exactly those bytes with the panel's identity key; `kid` names that key. A batch ack
 * carries one signature for all its outcomes.
 *
 * The retained `state` carries the identity's public key (`identityKey`), so a cloud can pin it
 * on first use; a provisioned cloud is given it at enrolment instead.
 */

/** Signs the bytes of an agent message with the panel's identity key. */
export function signAgentMessage(body: Uint8Array, identity: SigningKey): Buffer {
  return encodeCbor({ v: PROTOCOL_VERSION, kid: identity.kid, body, sig: signBytes(body, identity) });
}

/** The outer form of a payload: signed (`kid`, `body`, `sig`) or a bare message (an agent that signs nothing, or an outbox row). */
export type AgentPayload =
  | { signed: true; kid: string; body: Uint8Array; sig: Uint8Array }
  | { signed: false; body: Uint8Array };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/**
 * Splits a payload into its outer form. A map with `kid`, `body` or `sig` must be a whole signed
 * form (`schema_violation` otherwise); any other map is a bare message. Never throws.
 */
export function agentPayload(bytes: Uint8Array, limits?: DecodeLimits): Decoded<AgentPayload> {
  const outer = decodeCbor(bytes, limits);
  if (!outer.ok) return outer;
  const v = outer.value;
  if (!isRecord(v) || !("kid" in v || "body" in v || "sig" in v)) return { ok: true, value: { signed: false, body: bytes } };
  const env = envelopeSchema.safeParse(v);
  if (!env.success) return { ok: false, error: new RuleError("schema_violation", { path: "(root)", issue: "invalid_signed_form" }) };
  return { ok: true, value: { signed: true, kid: env.data.kid, body: env.data.body, sig: env.data.sig } };
}

/**
 * The decoded message of a payload, bare or signed, WITHOUT checking the signature (decoded once:
 * a bare message is not decoded twice to learn that it is bare). For the decoders below; the
 * cloud client verifies first (verifyAgentPayload) and hands them the verified body.
 */
export function decodeContent(bytes: Uint8Array, limits?: DecodeLimits): Decoded<unknown> {
  const outer = decodeCbor(bytes, limits);
  if (!outer.ok) return outer;
  const v = outer.value;
  if (!isRecord(v) || !("kid" in v || "body" in v || "sig" in v)) return outer;
  const env = envelopeSchema.safeParse(v);
  if (!env.success) return { ok: false, error: new RuleError("schema_violation", { path: "(root)", issue: "invalid_signed_form" }) };
  return decodeCbor(env.data.body, limits);
}

/**
 * The message bytes inside a payload WITHOUT checking the signature: for reading what an agent
 * sent (tests, tools, the decoders below), never for deciding anything. The cloud client
 * authenticates with `verifyAgentPayload` before it believes a message.
 */
export function unverifiedBody(bytes: Uint8Array, limits?: DecodeLimits): Decoded<Uint8Array> {
  const p = agentPayload(bytes, limits);
  return p.ok ? { ok: true, value: p.value.body } : p;
}

/** Why a payload was not believed. */
export type Unauthentic =
  /** No signature at all (an agent that signs nothing, or a forger without the key). */
  | "unsigned"
  /** Signed by a key other than the panel's pinned identity. */
  | "unknown_key"
  /** Signed under the identity's kid, but the signature does not verify. */
  | "bad_signature"
  /** Not decodable, or a signed form with missing or wrong fields. */
  | "malformed";

/** A panel identity as a cloud pins it: the Ed25519 public key and its key id. */
export interface PanelIdentity {
  readonly key: KeyObject;
  readonly publicRaw: Buffer;
  readonly kid: string;
}

/** A pinned identity from its raw 32-byte public key (or lowercase hex of it). */
export function panelIdentity(publicKey: Uint8Array | string): PanelIdentity {
  const raw = typeof publicKey === "string" ? Buffer.from(publicKey, "hex") : Buffer.from(publicKey);
  if (raw.length !== 32) throw new TypeError("a panel identity is a raw 32-byte Ed25519 public key");
  return { key: loadVerifyKey(raw), publicRaw: raw, kid: keyId(raw) };
}

/**
 * Checks that a payload is the signed form, signed by `identity`. Returns the verified body
 * bytes, or why not. Never throws.
 */
export function verifyAgentPayload(bytes: Uint8Array, identity: PanelIdentity, limits?: DecodeLimits): { ok: true; body: Uint8Array } | { ok: false; reason: Unauthentic; kid?: string } {
  const p = agentPayload(bytes, limits);
  if (!p.ok) return { ok: false, reason: "malformed" };
  if (!p.value.signed) return { ok: false, reason: "unsigned" };
  const { kid, body, sig } = p.value;
  if (kid !== identity.kid) return { ok: false, reason: "unknown_key", kid };
  if (!verifyBytes(body, sig, identity.key)) return { ok: false, reason: "bad_signature", kid };
  return { ok: true, body };
}
