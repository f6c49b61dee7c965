import { createHash } from "node:crypto";
import { Secret } from "../../src/domain/index.js";
import { decodeCbor } from "../codec.js";
import { loadSealingKey, loadSigningKey, type DeterministicRandom } from "../crypto.js";
import { appliedOutcome, encodeAck, encodeBatch, encodeBatchAck, encodeCommand, encodeEvent, encodeState, rejectedOutcome } from "../envelope.js";
import { RuleError } from "../../src/domain/index.js";
import { WIRE_KINDS } from "../schema.js";
import { signAgentMessage } from "../signed.js";
import { canonicalJson, tableDigest, type SlotContent } from "../digest.js";

/**
 * Golden vectors: fixed keys, fixed time, fixed "randomness" (ephemeral keys and nonces), so every
 * byte is reproducible. `npx tsx protocol/vectors/generate.ts` writes them; the unit tests check
 * the files still match byte for byte and that they decode and re-encode to the same bytes.
 * THE KEYS HERE ARE PUBLIC TEST KEYS. Never use them for anything else.
 */

export const VECTOR_PANEL_ID = "panel-0001";
export const VECTOR_NOW = 1_700_000_000_000;
/** Ed25519 seed of the test cloud signing key: bytes 0x01..0x20. */
export const VECTOR_SIGNING_SEED = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 1));
/** X25519 private key of the test agent: bytes 0x41..0x60. */
export const VECTOR_AGENT_PRIVATE = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 0x41));

/** Ed25519 seed of the test panel's identity key (it signs acks, events and state): bytes 0x81..0xa0. */
export const VECTOR_IDENTITY_SEED = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 0x81));

export const vectorSigningKey = loadSigningKey(VECTOR_SIGNING_SEED);
export const vectorIdentityKey = loadSigningKey(VECTOR_IDENTITY_SEED);
export const vectorAgentKey = loadSealingKey(VECTOR_AGENT_PRIVATE);

/** Deterministic stream: SHA-256("panel-agent vectors" || counter), concatenated. Tests only. */
export function vectorRandom(): DeterministicRandom {
  let counter = 0;
  return {
    unsafeRandom(size: number): Buffer {
      const out: Buffer[] = [];
      let have = 0;
      while (have < size) {
        const block = createHash("sha256").update(`panel-agent vectors ${counter++}`).digest();
        out.push(block);
        have += block.length;
      }
      return Buffer.concat(out).subarray(0, size);
    },
  };
}

export interface Vector {
  name: string;
  description: string;
  bytes: Buffer;
  /** Plaintext of the sealed fields, for implementers checking their unsealing. */
  sealedPlaintext?: Record<string, unknown>;
  /** Who signed it: the cloud (commands) or the panel's identity (acks, events, state in their signed form). */
  signer?: "cloud" | "panel";
}

const actor = { kind: "cloud" as const, id: "svc-users" };
const keys = { signingKey: vectorSigningKey, agentPublicKey: vectorAgentKey.publicRaw };
const exp = VECTOR_NOW + 5 * 60_000;

export function buildVectors(): Vector[] {
  const rng = vectorRandom();
  const v: Vector[] = [];
  v.push({
    name: "command-set-label",
    description: "A signed single-command envelope: set_label on slot 5, seq 41.",
    bytes: encodeCommand(VECTOR_PANEL_ID, { seq: 41, expiresAt: exp, command: { kind: "set_label", id: "cmd-0041", actor, slot: 5, firstName: "Ada", lastName: "Lovelace" } }, keys, rng),
  });
  v.push({
    name: "command-set-code",
    description: "A signed set_code whose code (\"4711\") is sealed to the agent's X25519 key; AAD = the command id.",
    bytes: encodeCommand(
      VECTOR_PANEL_ID,
      { seq: 42, expiresAt: exp, command: { kind: "set_code", id: "cmd-0042", actor, slot: 5, code: new Secret("4711"), expectedVersion: 3 } },
      keys,
      rng,
    ),
    sealedPlaintext: { "cmd.sealed": { code: "4711" } },
  });
  v.push({
    name: "batch-3",
    description: "A batch envelope of 3 commands (seq 43..45), one signature: set_partitions, set_schedule (weekly, crossing midnight), set_proximity_tags with a sealed tag.",
    bytes: encodeBatch(
      VECTOR_PANEL_ID,
      "batch-0007",
      [
        { seq: 43, expiresAt: exp, command: { kind: "set_partitions", id: "cmd-0043", actor, slot: 5, partitions: [1, 2] } },
        { seq: 44, expiresAt: exp, command: { kind: "set_schedule", id: "cmd-0044", actor, slot: 5, schedule: { kind: "weekly", windows: [{ days: [1, 2, 3, 4, 5], start: 1320, end: 360 }] } } },
        { seq: 45, expiresAt: exp, command: { kind: "set_proximity_tags", id: "cmd-0045", actor, slot: 5, tags: [{ kind: "keypad", tag: new Secret("04A1B2C3D4") }] } },
      ],
      keys,
      rng,
    ),
    sealedPlaintext: { "cmds.2.sealed": { tags: ["04A1B2C3D4"] } },
  });
  const slot5 = {
    number: 5,
    label: "Ada Lovelace",
    role: "User" as const,
    codeSet: true,
    partitions: [1, 2],
    schedule: { kind: "always" as const },
    doorLocks: [],
    tags: [],
    account: null,
    version: 4,
  };
  v.push({
    name: "ack",
    description: "The ack of cmd-0042 (applied; the slot's non-secret view after it).",
    bytes: encodeAck(VECTOR_PANEL_ID, VECTOR_NOW + 120, appliedOutcome("cmd-0042", 42, { slots: [slot5] })),
  });
  v.push({
    name: "batch-ack",
    description: "The batch_ack of batch-0007: results in command order; the third command was rejected.",
    bytes: encodeBatchAck(VECTOR_PANEL_ID, VECTOR_NOW + 250, "batch-0007", [
      appliedOutcome("cmd-0043", 43, { slots: [{ ...slot5, version: 5 }] }),
      appliedOutcome("cmd-0044", 44, { slots: [{ ...slot5, version: 6, schedule: { kind: "weekly", windows: [{ days: [1, 2, 3, 4, 5], start: 1320, end: 360 }] } }] }),
      rejectedOutcome(new RuleError("tags_not_supported", { slot: 5 }), "cmd-0045", 45),
    ]),
  });
  v.push({
    name: "event-resync",
    description: "Event number 17: the agent saw seq 50 after 45 and asks for a resync (the cloud answers with a snapshot).",
    bytes: encodeEvent(VECTOR_PANEL_ID, 17, VECTOR_NOW + 300, "resync_request", { lastSeq: 45, gotSeq: 50, reason: "sequence_gap" }),
  });
  v.push({
    name: "state",
    description: "The retained state: the agent's sealing key, last applied seq and what it accepts.",
    bytes: encodeState({
      panel: VECTOR_PANEL_ID,
      at: VECTOR_NOW + 400,
      sealKey: vectorAgentKey.publicRaw,
      lastSeq: 45,
      proto: { v: [1], kinds: [...WIRE_KINDS] },
      agent: "panel-agent/0.1.0",
      panelType: "DSC",
      codeLength: 4,
      capacity: 1000,
      users: 12,
      timeZone: "Europe/Oslo",
      dealerAccess: null,
      tableVersion: 31,
      digest: "9f2c4a1be07d35c8a6e41f02d9b7c3e58a1d6f4b20c9e7a35d8b1f6c4e2a9d07",
    }),
  });
  // The signed forms (section 4.1): the same messages as published, { v, kid, body, sig } by the panel's identity.
  const bare = new Map(v.map((x) => [x.name, x.bytes]));
  for (const name of ["ack", "batch-ack", "event-resync"]) {
    v.push({ name: `${name}-signed`, description: `The ${name} vector as the agent publishes it: signed by the panel's identity key (seed 81..a0).`, bytes: signAgentMessage(bare.get(name)!, vectorIdentityKey), signer: "panel" });
  }
  v.push({
    name: "state-signed",
    description: "The retained state as the agent publishes it: with its database epoch and identity key, signed by that identity; the digest is the one of protocol/vectors/digest.json.",
    bytes: signAgentMessage(
      encodeState({
        panel: VECTOR_PANEL_ID,
        at: VECTOR_NOW + 400,
        sealKey: vectorAgentKey.publicRaw,
        lastSeq: 45,
        proto: { v: [1], kinds: [...WIRE_KINDS] },
        agent: "panel-agent/0.1.0",
        panelType: "DSC",
        codeLength: 4,
        capacity: 1000,
        users: DIGEST_VIEWS.length,
        timeZone: "Europe/Oslo",
        dealerAccess: null,
        tableVersion: 31,
        digest: tableDigest(DIGEST_VIEWS),
        epoch: "5e1f0c2a9b7d4e31",
        identityKey: vectorIdentityKey.publicRaw,
      }),
      vectorIdentityKey,
    ),
    signer: "panel",
  });
  return v;
}

/** The table of the digest vector: two users with a code, as their acks' slot views show them (versions left out). */
export const DIGEST_VIEWS: SlotContent[] = [
  { number: 1, label: "Owner", role: "Master", codeSet: true, partitions: [1, 2], schedule: { kind: "always" }, doorLocks: [], tags: [], account: null },
  {
    number: 5,
    label: "Ada \"Å\" Lovelace",
    role: "User",
    codeSet: true,
    partitions: [2],
    schedule: { kind: "weekly", windows: [{ days: [1, 2, 3, 4, 5], start: 1320, end: 360 }] },
    doorLocks: ["front"],
    tags: [{ kind: "keypad" }],
    account: { id: "acc-5", email: "ada@example.com", createdAt: 1_699_000_000_000, status: "Active" },
  },
];

/** protocol/vectors/digest.json: the views, their canonical text and its SHA-256 (section 7.1). */
export function digestVector(): Record<string, unknown> {
  return {
    name: "digest",
    description: "The state's digest: SHA-256 over the RFC 8785 canonical JSON array of the views (without version) of the users with a code, in slot order.",
    views: DIGEST_VIEWS,
    canonical: canonicalJson([...DIGEST_VIEWS].sort((a, b) => a.number - b.number)),
    digest: tableDigest(DIGEST_VIEWS),
  };
}

/** JSON view of a decoded CBOR value: byte strings become { "$bytes": hex }; a signed `body` is shown decoded too. */
export function meaning(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString("hex") };
  if (Array.isArray(value)) return value.map(meaning);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = meaning(v);
    return out;
  }
  return value;
}

export function vectorJson(vector: Vector): Record<string, unknown> {
  const decoded = decodeCbor(vector.bytes);
  if (!decoded.ok) throw decoded.error;
  const value = decoded.value as Record<string, unknown>;
  const out: Record<string, unknown> = {
    name: vector.name,
    description: vector.description,
    panelId: VECTOR_PANEL_ID,
    now: VECTOR_NOW,
    message: meaning(value),
  };
  if (value.body instanceof Uint8Array) {
    const body = decodeCbor(value.body);
    if (!body.ok) throw body.error;
    out.body = meaning(body.value);
    out.keys = vector.signer === "panel" ? {
      identitySeed: VECTOR_IDENTITY_SEED.toString("hex"),
      identityPublic: vectorIdentityKey.publicRaw.toString("hex"),
      kid: vectorIdentityKey.kid,
    } : {
      signingSeed: VECTOR_SIGNING_SEED.toString("hex"),
      signingPublic: vectorSigningKey.publicRaw.toString("hex"),
      kid: vectorSigningKey.kid,
      agentPrivate: VECTOR_AGENT_PRIVATE.toString("hex"),
      agentPublic: vectorAgentKey.publicRaw.toString("hex"),
    };
  }
  if (vector.sealedPlaintext) out.sealedPlaintext = vector.sealedPlaintext;
  return out;
}
