import {
  commandSchema,
  RuleError,
  type Command,
  type CommandResult,
} from "../src/domain/index.js";
import { decodeCbor, decodeWith, encodeCbor, schemaError, DEFAULT_MAX_BYTES, type Decoded, type DecodeLimits } from "./codec.js";
import { isAck, isEpochMs, isSeq, isState } from "./ack-fast.js";
import { decodeContent } from "./signed.js";
import { rawPublicKey, seal, signBytes, unseal, verifyBytes, type DeterministicRandom, type SealingKey, type SigningKey, type TrustedKeys } from "./crypto.js";
import {
  ackSchema,
  anyAckSchema,
  batchAckSchema,
  bodySchema,
  envelopeSchema,
  epochMsSchema,
  EVENT_DATA,
  eventSchema,
  idSchema,
  PROTOCOL_VERSION,
  sealedSchema,
  sealedSecretsSchema,
  seqSchema,
  stateSchema,
  statusSchema,
  wireKindSpec,
  type AnyAck,
  type EventData,
  type EventType,
  type Outcome,
  type Sealed,
  type State,
  type Status,
  type WireCommandInput,
  type WireError,
  type WireEvent,
} from "./schema.js";
import type { z } from "zod";
import { KeyObject } from "node:crypto";

// =============================================================================================
// cloud side: build, seal and sign

/** One command to send: its per-panel seq, its expiry (epoch ms) and the domain command (secrets as `Secret`). */
export interface CommandToSend {
  seq: number;
  expiresAt: number;
  command: WireCommandInput;
}

export interface SenderKeys {
  signingKey: SigningKey;
  /** The agent's X25519 public key, raw 32 bytes (`sealKey` of its retained state). */
  agentPublicKey: Uint8Array;
}

function fail(error: RuleError): never {
  throw error;
}

/**
 * `parsed`: the command is commandSchema's output already (the cloud client parses each command
 * once, when it takes it into an envelope). Its wire form then follows from the domain schema,
 * so only what the domain schema does not cover is checked here: seq, exp and the sealed field's
 * size. Parsing it twice more cost more than the rest of encoding a batch.
 */
function wireCommand(panelId: string, item: CommandToSend, keys: SenderKeys, testing: DeterministicRandom | undefined, parsed: boolean): Record<string, unknown> {
  const spec = wireKindSpec(item.command.kind) ?? fail(new RuleError("unknown_command", { kind: String(item.command.kind) }));
  if (!parsed) {
    const checked = commandSchema.safeParse(item.command);
    if (!checked.success) fail(schemaError(checked.error, "cmd"));
  }
  const { fields, secrets } = spec.split(item.command);
  const wire: Record<string, unknown> = { seq: item.seq, exp: item.expiresAt, ...fields };
  if (secrets) {
    const plaintext = encodeCbor(secrets);
    wire.sealed = seal(plaintext, keys.agentPublicKey, panelId, item.command.id, testing);
    plaintext.fill(0);
  }
  if (parsed) {
    const problem = wireExtrasProblem(wire);
    if (problem) fail(problem);
    return wire;
  }
  const valid = spec.schema.safeParse(wire);
  if (!valid.success) fail(schemaError(valid.error, "cmd"));
  return wire;
}

/** The checks of a kind's wire schema that its domain schema does not make; errors as the wire schema reports them. */
function wireExtrasProblem(wire: Record<string, unknown>): RuleError | null {
  // seqSchema and epochMsSchema by hand (zod's machinery costs more than the check); zod names the issue.
  if (!isSeq(wire.seq)) {
    const seq = seqSchema.safeParse(wire.seq);
    if (!seq.success) return schemaError(seq.error, "cmd.seq");
  }
  if (!isEpochMs(wire.exp)) {
    const exp = epochMsSchema.safeParse(wire.exp);
    if (!exp.success) return schemaError(exp.error, "cmd.exp");
  }
  if (wire.sealed !== undefined) {
    const sealed = sealedSchema.safeParse(wire.sealed);
    if (!sealed.success) return schemaError(sealed.error, "cmd.sealed");
  }
  return null;
}

function signEnvelope(body: Record<string, unknown>, key: SigningKey): Buffer {
  const bodyBytes = encodeCbor(body);
  return encodeCbor({ v: PROTOCOL_VERSION, kid: key.kid, body: bodyBytes, sig: signBytes(bodyBytes, key) });
}

/**
 * Builds, seals and signs a single-command envelope. Throws a `RuleError` (schema_violation,
 * unknown_command) when the command is not valid: refuse bad commands at the source.
 * `testing` fixes the randomness for golden vectors; never pass it in production.
 */
export function encodeCommand(panelId: string, item: CommandToSend, keys: SenderKeys, testing?: DeterministicRandom): Buffer {
  return signEnvelope({ v: PROTOCOL_VERSION, t: "cmd", panel: panelId, cmd: wireCommand(panelId, item, keys, testing, false) }, keys.signingKey);
}

/** Builds a batch envelope: `items` in strictly increasing seq, unique ids; one signature. Throws like encodeCommand. */
export function encodeBatch(panelId: string, batchId: string, items: readonly CommandToSend[], keys: SenderKeys, testing?: DeterministicRandom): Buffer {
  return batchEnvelope(panelId, batchId, items, keys, testing, false);
}

/**
 * encodeCommand for a command that is the output of `commandSchema.parse` (not merely its input:
 * defaults applied, nothing extra). Same bytes; the domain schema is not run again. Anything else
 * passed here goes out unchecked, so only the cloud client, which parses every command it queues, uses it.
 */
export function encodeParsedCommand(panelId: string, item: CommandToSend, keys: SenderKeys, testing?: DeterministicRandom): Buffer {
  return signEnvelope({ v: PROTOCOL_VERSION, t: "cmd", panel: panelId, cmd: wireCommand(panelId, item, keys, testing, true) }, keys.signingKey);
}

/** encodeBatch for commands that are the output of `commandSchema.parse`; see encodeParsedCommand. */
export function encodeParsedBatch(panelId: string, batchId: string, items: readonly CommandToSend[], keys: SenderKeys, testing?: DeterministicRandom): Buffer {
  return batchEnvelope(panelId, batchId, items, keys, testing, true);
}

function batchEnvelope(panelId: string, batchId: string, items: readonly CommandToSend[], keys: SenderKeys, testing: DeterministicRandom | undefined, parsed: boolean): Buffer {
  const cmds = items.map((item) => wireCommand(panelId, item, keys, testing, parsed));
  const problem = batchProblem(cmds);
  if (problem) throw problem;
  return signEnvelope({ v: PROTOCOL_VERSION, t: "batch", panel: panelId, id: batchId, cmds }, keys.signingKey);
}

// =============================================================================================
// agent side: verify, open, unseal

export interface OpenOptions {
  /** This agent's panel id: commands addressed elsewhere are `wrong_panel`. */
  panelId: string;
  trustedKeys: TrustedKeys;
  /** The agent's X25519 key (from loadSealingKey), or just its private KeyObject. */
  agentPrivateKey: SealingKey | KeyObject;
  /** Epoch ms; a command whose `exp` <= now is `command_expired`. */
  now: number;
  /** Largest envelope accepted, bytes (default 256 KiB). */
  maxBytes?: number;
  maxDepth?: number;
}

/** One command of an envelope that opened: either a domain command ready to apply, or why not. */
export type OpenedCommand =
  | { ok: true; seq: number; id: string; expiresAt: number; command: Command }
  | { ok: false; seq: number; id: string; expiresAt?: number; error: RuleError };

export type OpenResult =
  | {
      ok: true;
      /** null for a single-command envelope (answer with an `ack`), the batch id for a batch (answer with one `batch_ack`). */
      batchId: string | null;
      /** The key id that signed it. */
      kid: string;
      /** In envelope order (strictly increasing seq). Per-command failures do not sink the others. */
      commands: OpenedCommand[];
    }
  | {
      ok: false;
      /** The command id (single) when it could be read; unverified when the signature failed. */
      id?: string;
      /** The batch id (batch) when it could be read; unverified when the signature failed. */
      batchId?: string;
      error: RuleError;
    };

type OpenFailure = Extract<OpenResult, { ok: false }>;

const KIND_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;
const sealingKeys = new WeakMap<KeyObject, SealingKey>();

function agentKey(key: SealingKey | KeyObject): SealingKey {
  if (!(key instanceof KeyObject)) return key;
  let cached = sealingKeys.get(key);
  if (!cached) {
    cached = { privateKey: key, publicRaw: rawPublicKey(key) };
    sealingKeys.set(key, cached);
  }
  return cached;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function versionError(value: unknown, path: string): RuleError | null {
  if (isRecord(value) && "v" in value && value.v !== PROTOCOL_VERSION) {
    return new RuleError("schema_violation", { path, issue: "unsupported_version", ...(typeof value.v === "number" ? { v: value.v } : {}) });
  }
  return null;
}

/** Unverified ids from a body, for acking an envelope that failed (never trusted for anything else). */
function peekIds(body: Uint8Array, limits: DecodeLimits): { id?: string; batchId?: string } {
  const decoded = decodeCbor(body, limits);
  if (!decoded.ok || !isRecord(decoded.value)) return {};
  const v = decoded.value;
  if (v.t === "batch") {
    if (idSchema.safeParse(v.id).success) return { batchId: v.id as string };
    // No batch id to answer to: a batch of one command is still answered under that command's id.
    const only = Array.isArray(v.cmds) && v.cmds.length === 1 && isRecord(v.cmds[0]) ? v.cmds[0].id : undefined;
    return idSchema.safeParse(only).success ? { id: only as string } : {};
  }
  if (v.t === "cmd" && isRecord(v.cmd)) return idSchema.safeParse(v.cmd.id).success ? { id: v.cmd.id as string } : {};
  return {};
}

function batchProblem(cmds: readonly Record<string, unknown>[]): RuleError | null {
  const ids = new Set<string>();
  let last = 0;
  for (let i = 0; i < cmds.length; i++) {
    const c = cmds[i] as Record<string, unknown>;
    const seq = c.seq as number;
    if (seq <= last) return new RuleError("schema_violation", { path: `cmds.${i}.seq`, issue: "seq_not_increasing" });
    last = seq;
    if (ids.has(c.id as string)) return new RuleError("schema_violation", { path: `cmds.${i}.id`, issue: "duplicate_id" });
    ids.add(c.id as string);
  }
  return null;
}

/** Checks the addressing fields (seq, id) every command must have for its result to be recorded and acked. */
function addressProblem(cmd: Record<string, unknown>, path: string): RuleError | null {
  const seq = cmd.seq;
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 1) return new RuleError("schema_violation", { path: `${path}.seq`, issue: "invalid_type" });
  if (!idSchema.safeParse(cmd.id).success) return new RuleError("schema_violation", { path: `${path}.id`, issue: "invalid_type" });
  return null;
}

function openCommand(raw: Record<string, unknown>, path: string, panelId: string, key: SealingKey, now: number, limits: DecodeLimits): OpenedCommand {
  const seq = raw.seq as number;
  const id = raw.id as string;
  const spec = wireKindSpec(raw.kind);
  if (!spec) {
    const detail: Record<string, string> = typeof raw.kind === "string" && KIND_PATTERN.test(raw.kind) ? { kind: raw.kind } : { path: `${path}.kind` };
    return { ok: false, seq, id, error: new RuleError(typeof raw.kind === "string" ? "unknown_command" : "schema_violation", detail) };
  }
  const parsed = spec.schema.safeParse(raw);
  if (!parsed.success) return { ok: false, seq, id, error: schemaError(parsed.error, path) };
  const { seq: _seq, exp, sealed, ...fields } = parsed.data as Record<string, unknown> & { exp: number; sealed?: Sealed };
  if (exp <= now) return { ok: false, seq, id, expiresAt: exp, error: new RuleError("command_expired", { expiresAt: exp, now }) };

  let secrets = null;
  if (sealed) {
    const plaintext = unseal(sealed, key, panelId, id);
    if (!plaintext) return { ok: false, seq, id, expiresAt: exp, error: new RuleError("unseal_failed", { path: `${path}.sealed` }) };
    const opened = decodeWith(sealedSecretsSchema, plaintext, limits);
    plaintext.fill(0);
    if (!opened.ok) {
      const d = opened.error.detail;
      return { ok: false, seq, id, expiresAt: exp, error: new RuleError("schema_violation", { path: `${path}.sealed${d && typeof d.path === "string" && d.path !== "(root)" ? "." + d.path : ""}`, issue: "invalid_secrets" }) };
    }
    secrets = opened.value;
  }
  const joined = spec.join(fields, secrets);
  if (joined instanceof RuleError) {
    const d = joined.detail ?? {};
    return { ok: false, seq, id, expiresAt: exp, error: new RuleError(joined.code, { ...d, ...(typeof d.path === "string" ? { path: `${path}.${d.path}` } : {}) }) };
  }
  // A kind without secrets was parsed by its domain schema (extended by the wire fields) already.
  if (!spec.sealed) return { ok: true, seq, id, expiresAt: exp, command: joined as Command };
  const command = commandSchema.safeParse(joined);
  if (!command.success) return { ok: false, seq, id, expiresAt: exp, error: schemaError(command.error, path) };
  return { ok: true, seq, id, expiresAt: exp, command: command.data };
}

/**
 * Verifies and opens a command envelope (single or batch). Never throws.
 * Envelope-level failures (undecodable, oversized, unsupported version, untrusted key, bad
 * signature, wrong panel, malformed addressing) give `{ ok: false }`: nothing in it may be applied
 * and no seq is consumed. Otherwise every command gets its own result; a failed command (unknown
 * kind, schema violation, expired, unseal failure) still consumes its seq (protocol/README.md).
 */
export function openEnvelope(bytes: Uint8Array, opts: OpenOptions): OpenResult {
  try {
    return open(bytes, opts);
  } catch {
    // Unreachable by design; a thrown error must never cross into the MQTT handler.
    return { ok: false, error: new RuleError("internal_error", { stage: "open_envelope" }) };
  }
}

function open(bytes: Uint8Array, opts: OpenOptions): OpenResult {
  const limits: DecodeLimits = { maxBytes: opts.maxBytes ?? DEFAULT_MAX_BYTES, ...(opts.maxDepth !== undefined ? { maxDepth: opts.maxDepth } : {}) };
  const outer = decodeCbor(bytes, limits);
  if (!outer.ok) return outer;
  const badVersion = versionError(outer.value, "v");
  if (badVersion) return { ok: false, error: badVersion };
  const env = envelopeSchema.safeParse(outer.value);
  if (!env.success) return { ok: false, error: schemaError(env.error) };
  const { kid, body, sig } = env.data;

  const verifyKey = opts.trustedKeys.get(kid);
  if (!verifyKey) return { ok: false, ...peekIds(body, limits), error: new RuleError("untrusted_key", { kid }) };
  if (!verifyBytes(body, sig, verifyKey)) return { ok: false, ...peekIds(body, limits), error: new RuleError("bad_signature", { kid }) };

  const decodedBody = decodeCbor(body, limits);
  if (!decodedBody.ok) return decodedBody;
  const bodyVersion = versionError(decodedBody.value, "body.v");
  if (bodyVersion) return { ok: false, error: bodyVersion };
  const parsed = bodySchema.safeParse(decodedBody.value);
  if (!parsed.success) return { ok: false, ...peekIds(body, limits), error: schemaError(parsed.error, "body") };
  const b = parsed.data;
  const ids: Omit<OpenFailure, "ok" | "error"> = b.t === "batch" ? { batchId: b.id } : idSchema.safeParse(b.cmd.id).success ? { id: b.cmd.id as string } : {};
  if (b.panel !== opts.panelId) return { ok: false, ...ids, error: new RuleError("wrong_panel", { panel: b.panel }) };

  const raws = b.t === "batch" ? b.cmds : [b.cmd];
  const prefix = b.t === "batch" ? "cmds" : "cmd";
  for (let i = 0; i < raws.length; i++) {
    const problem = addressProblem(raws[i] as Record<string, unknown>, b.t === "batch" ? `cmds.${i}` : "cmd");
    if (problem) return { ok: false, ...ids, error: problem };
  }
  if (b.t === "batch") {
    const problem = batchProblem(raws);
    if (problem) return { ok: false, ...ids, error: problem };
  }

  const key = agentKey(opts.agentPrivateKey);
  const commands = new Array<OpenedCommand>(raws.length);
  for (let i = 0; i < raws.length; i++) {
    commands[i] = openCommand(raws[i] as Record<string, unknown>, b.t === "batch" ? `${prefix}.${i}` : prefix, opts.panelId, key, opts.now, limits);
  }
  return { ok: true, batchId: b.t === "batch" ? b.id : null, kid, commands };
}

// =============================================================================================
// acks (agent encodes, cloud decodes)

function validated<S extends z.ZodType>(schema: S, value: unknown, what: string): unknown {
  const r = schema.safeParse(value);
  if (!r.success) {
    const e = schemaError(r.error, what);
    throw new RuleError("internal_error", { stage: `encode_${what}`, ...(e.detail ?? {}) });
  }
  return value;
}

/** A RuleError as it travels: code and (bounded) detail. */
export function wireError(error: RuleError): WireError {
  if (!error.detail) return { code: error.code };
  const detail: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(error.detail)) {
    // Details can echo what a hostile sender put in (a version that is NaN, a huge number):
    // anything the ack schema would refuse travels as bounded text.
    const key = k.slice(0, 64);
    if (typeof v === "string") detail[key] = v.slice(0, 256);
    else if (typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v))) detail[key] = v;
    else detail[key] = String(v).slice(0, 64);
  }
  return { code: error.code, detail };
}

/** The outcome of an applied command. `dup` marks a re-ack of a command already applied (its stored result). */
export function appliedOutcome(id: string, seq: number, result?: CommandResult, dup?: boolean): Outcome {
  const o: Outcome = { ok: true, id, seq };
  if (result !== undefined) o.result = result;
  if (dup) o.dup = true;
  return o;
}

/** The outcome of a rejected command (or envelope: then id/seq may be unknown). */
export function rejectedOutcome(error: RuleError, id?: string, seq?: number, dup?: boolean): Outcome {
  const o: Outcome = { ok: false, error: wireError(error) };
  if (id !== undefined) o.id = id;
  if (seq !== undefined) o.seq = seq;
  if (dup) o.dup = true;
  return o;
}

/**
 * Outgoing acks are checked before they leave (a bug shows as internal_error): first by the
 * hand-written check of protocol/ack-fast.ts (results included, ~1 µs per outcome); what it does
 * not accept goes to zod without each outcome's `result` (built by the rules from typed slot
 * views; checking those with zod cost ~15 µs per command in a 500-command batch ack).
 */
function shapeOnly(outcome: Outcome): Outcome {
  if (!outcome.ok || outcome.result === undefined) return outcome;
  const { result: _result, ...rest } = outcome;
  return rest;
}

/** The `ack` of a single-command envelope. Throws `internal_error` on an invalid outcome (a bug). */
export function encodeAck(panelId: string, at: number, outcome: Outcome): Buffer {
  const ack = { v: PROTOCOL_VERSION, t: "ack", panel: panelId, at, ack: outcome };
  // The hand-written check accepts what the schema accepts; zod decides (and names) the rest.
  if (!isAck(ack)) validated(ackSchema, { ...ack, ack: shapeOnly(outcome) }, "ack");
  return encodeCbor(ack);
}

/** The `batch_ack` of a batch envelope: `outcomes[i]` answers `cmds[i]`. */
export function encodeBatchAck(panelId: string, at: number, batchId: string, outcomes: readonly Outcome[]): Buffer {
  const ack = { v: PROTOCOL_VERSION, t: "batch_ack", panel: panelId, at, id: batchId, acks: outcomes };
  if (!isAck(ack)) validated(batchAckSchema, { ...ack, acks: outcomes.map(shapeOnly) }, "batch_ack");
  return encodeCbor(ack);
}

/** The answer to an envelope that failed as a whole: a `batch_ack` with `error` for a batch, else an `ack`. */
export function encodeEnvelopeFailure(panelId: string, at: number, failure: OpenFailure): Buffer {
  if (failure.batchId !== undefined) {
    return encodeCbor(
      validated(batchAckSchema, { v: PROTOCOL_VERSION, t: "batch_ack", panel: panelId, at, id: failure.batchId, acks: [], error: wireError(failure.error) }, "batch_ack"),
    );
  }
  return encodeAck(panelId, at, rejectedOutcome(failure.error, failure.id));
}

/**
 * Cloud side: an `ack` or `batch_ack`, bare or in its signed form (section 4.1). Reads the content
 * only: the signature is NOT checked here (the cloud client checks it with verifyAgentPayload
 * against the panel's pinned identity before it believes an ack). Never throws.
 */
export function decodeAck(bytes: Uint8Array, limits?: DecodeLimits): Decoded<AnyAck> {
  const raw = decodeContent(bytes, limits);
  if (!raw.ok) return raw;
  // The hand-written check accepts exactly what the schema accepts, at a fraction of the cost;
  // whatever it does not accept goes to zod, which decides and names the path.
  if (isAck(raw.value)) return { ok: true, value: raw.value };
  const parsed = anyAckSchema.safeParse(raw.value);
  if (!parsed.success) return { ok: false, error: schemaError(parsed.error) };
  return { ok: true, value: parsed.data };
}

// =============================================================================================
// events

/** Event number `n` (the outbox's strictly increasing number per panel) of the database `epoch` (omitted: an agent from before events carried it). */
export function encodeEvent<T extends EventType>(panelId: string, n: number, at: number, type: T, data: EventData<T>, epoch?: string): Buffer {
  return encodeCbor(validated(eventSchema, { v: PROTOCOL_VERSION, t: "evt", panel: panelId, ...(epoch !== undefined ? { epoch } : {}), n, at, type, data }, "evt"));
}

/** decodeWith for a payload that may be bare or in the signed form (the signature not checked). */
function contentWith<S extends z.ZodType>(schema: S, bytes: Uint8Array, limits?: DecodeLimits): Decoded<z.output<S>> {
  const raw = decodeContent(bytes, limits);
  if (!raw.ok) return raw;
  const parsed = schema.safeParse(raw.value);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: schemaError(parsed.error) };
}

/** An event, bare or signed; like decodeAck, the signature is not checked here. */
export function decodeEvent(bytes: Uint8Array, limits?: DecodeLimits): Decoded<WireEvent> {
  return contentWith(eventSchema, bytes, limits);
}

/** The event types this protocol version defines. */
export const EVENT_TYPES = Object.keys(EVENT_DATA) as EventType[];

// =============================================================================================
// retained state and status

export type StateInput = Omit<State, "v" | "t">;

export function encodeState(state: StateInput): Buffer {
  const value = { v: PROTOCOL_VERSION, t: "state", ...state };
  // The hand-written check accepts what the schema accepts; zod decides (and names) the rest.
  return encodeCbor(isState(value) ? value : validated(stateSchema, value, "state"));
}

/** The retained state, bare or signed; like decodeAck, the signature is not checked here. */
export function decodeState(bytes: Uint8Array, limits?: DecodeLimits): Decoded<State> {
  const raw = decodeContent(bytes, limits);
  if (!raw.ok) return raw;
  if (isState(raw.value)) return { ok: true, value: raw.value };
  const parsed = stateSchema.safeParse(raw.value);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: schemaError(parsed.error) };
}

export type StatusInput = Omit<Status, "v" | "t">;

/** online on connect (retained); offline on clean shutdown; the broker's last will: `{ status: "offline", reason: "connection_lost" }`. */
export function encodeStatus(status: StatusInput): Buffer {
  return encodeCbor(validated(statusSchema, { v: PROTOCOL_VERSION, t: "status", ...status }, "status"));
}

export function decodeStatus(bytes: Uint8Array, limits?: DecodeLimits): Decoded<Status> {
  return decodeWith(statusSchema, bytes, limits);
}
