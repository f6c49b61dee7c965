import { z } from "zod";
import {
  accountSchema,
  actorSchema,
  commandSchema,
  INTERNAL_COMMANDS,
  PANEL_TYPE_IDS,
  ROLES,
  RuleError,
  scheduleSchema,
  Secret,
  snapshotUserSchema,
  type Command,
  type CommandKind,
  type SlotView,
} from "../src/domain/index.js";

/**
 * The wire schemas: every message of protocol/README.md as a strict zod schema, shared by the
 * agent (which decodes commands and encodes acks/events/state) and cloud clients (the reverse).
 * All objects are strict (unknown keys are a `schema_violation`), all strings and arrays bounded.
 */

/** The protocol's major version: the `v` of every message. An unknown major is a `schema_violation`. */
export const PROTOCOL_VERSION = 1;

export const LIMITS = {
  /** Commands in one batch envelope. */
  maxBatch: 1000,
  /** Bytes of one sealed field's ciphertext (snapshot codes of a large panel fit). */
  maxSealedBytes: 128 * 1024,
  maxIdLength: 128,
} as const;

// ---------------------------------------------------------------------------------------------
// shared pieces

/** Panel ids are single MQTT topic levels: no `/`, `+`, `#`, `$`, NUL or spaces. */
export const PANEL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const panelIdSchema = z.string().regex(PANEL_ID_PATTERN);
/** The largest time a JS Date can hold, in ms. */
export const MAX_EPOCH_MS = 8.64e15;
export const epochMsSchema = z.int().min(0).max(MAX_EPOCH_MS);
/** Per-panel command sequence numbers start at 1 (0 = nothing applied yet). */
export const seqSchema = z.int().min(1).max(Number.MAX_SAFE_INTEGER);
export const lastSeqSchema = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
export const idSchema = z.string().min(1).max(LIMITS.maxIdLength);
/** Key id: hex of the first 8 bytes of SHA-256 over the raw 32-byte public key. */
export const kidSchema = z.string().regex(/^[0-9a-f]{16}$/);

export function bytesSchema(length: number): z.ZodType<Uint8Array> {
  return z.custom<Uint8Array>((v) => v instanceof Uint8Array && v.length === length, { message: `expected ${length} bytes` });
}
export function bytesMaxSchema(max: number): z.ZodType<Uint8Array> {
  return z.custom<Uint8Array>((v) => v instanceof Uint8Array && v.length <= max, { message: `expected at most ${max} bytes` });
}

const version = z.literal(PROTOCOL_VERSION);
const tagKind = z.enum(["keypad", "doorlock"]);

// ---------------------------------------------------------------------------------------------
// the signed command envelope

/** Outer envelope: `{ v, kid, body, sig }`. `sig` is Ed25519 over exactly the bytes of `body`. */
export const envelopeSchema = z.strictObject({
  v: version,
  kid: kidSchema,
  body: bytesMaxSchema(16 * 1024 * 1024),
  sig: bytesSchema(64),
});
export type Envelope = z.infer<typeof envelopeSchema>;

/** A sealed field: X25519 ephemeral public key, AES-GCM nonce, ciphertext || 16-byte tag. */
export const sealedSchema = z.strictObject({
  epk: bytesSchema(32),
  n: bytesSchema(12),
  ct: bytesMaxSchema(LIMITS.maxSealedBytes),
});
export type Sealed = z.infer<typeof sealedSchema>;

/** The plaintext inside `sealed` (itself CBOR). Keys of `codes` are slot numbers in decimal. */
export const sealedSecretsSchema = z.strictObject({
  code: z.string().min(1).max(64).optional(),
  tags: z.array(z.string().min(1).max(128)).max(200_000).optional(),
  codes: z.record(z.string().regex(/^[1-9][0-9]{0,6}$/), z.string().min(1).max(64)).optional(),
});
export type SealedSecrets = z.infer<typeof sealedSecretsSchema>;

/** A CBOR map, not yet checked against its kind's schema (that happens per command). */
const rawCommand = z.custom<Record<string, unknown>>(
  (v) => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array),
  { message: "expected a map" },
);

/** Body of a single-command envelope (the bytes that are signed). */
export const commandBodySchema = z.strictObject({
  v: version,
  t: z.literal("cmd"),
  panel: panelIdSchema,
  cmd: rawCommand,
});
/** Body of a batch envelope: N commands, each with its own id and seq, in seq order. */
export const batchBodySchema = z.strictObject({
  v: version,
  t: z.literal("batch"),
  panel: panelIdSchema,
  id: idSchema,
  cmds: z.array(rawCommand).min(1).max(LIMITS.maxBatch),
});
export const bodySchema = z.discriminatedUnion("t", [commandBodySchema, batchBodySchema]);
export type Body = z.infer<typeof bodySchema>;

// ---------------------------------------------------------------------------------------------
// wire commands: one table entry per kind

/** Fields every wire command has besides the domain command's own. */
const wireExtras = { seq: seqSchema, exp: epochMsSchema };

type DomainOptions = (typeof commandSchema.options)[number];
type DomainOption<K extends CommandKind> = Extract<DomainOptions, { shape: { kind: z.ZodLiteral<K> } }>;

const DOMAIN_OPTIONS = new Map<string, DomainOptions>(commandSchema.options.map((o) => [o.shape.kind.value, o]));

function domainOption<K extends CommandKind>(kind: K): DomainOption<K> {
  const option = DOMAIN_OPTIONS.get(kind);
  if (!option) throw new Error(`protocol: the domain has no command kind ${kind}`);
  return option as DomainOption<K>;
}

/** Wire fields (everything but seq, exp and sealed) and the secrets to seal, split from a domain command. */
export interface SplitCommand {
  fields: Record<string, unknown>;
  secrets: SealedSecrets | null;
}

export interface WireKindSpec {
  /** Strict schema of the wire command (including seq, exp and, where the kind has secrets, sealed). */
  readonly schema: z.ZodType<Record<string, unknown>>;
  /** Cloud side: a domain command's non-secret fields and its secrets. */
  split(cmd: Command): SplitCommand;
  /**
   * Agent side: the domain-shaped command from the wire fields (seq, exp, sealed removed) and the
   * opened secrets (null when the command carried no sealed field). Errors name paths, never values.
   */
  join(fields: Record<string, unknown>, secrets: SealedSecrets | null): Record<string, unknown> | RuleError;
  /** Whether the command must, may or must not carry a sealed field is decided by `join`. */
  readonly sealed: boolean;
}

/** A kind whose wire form is its domain form plus seq and exp: nothing secret in it. */
function plain<K extends CommandKind>(kind: K): WireKindSpec {
  return {
    schema: domainOption(kind).extend(wireExtras),
    sealed: false,
    split: (cmd) => ({ fields: { ...cmd }, secrets: null }),
    join: (fields) => fields,
  };
}

const sealedField = { sealed: sealedSchema };
const sealedOptional = { sealed: sealedSchema.optional() };
const wireTag = z.strictObject({ kind: tagKind });

function violation(path: string, issue: string): RuleError {
  return new RuleError("schema_violation", { path, issue });
}

const setCode: WireKindSpec = {
  schema: domainOption("set_code").omit({ code: true }).extend({ ...wireExtras, ...sealedField }),
  sealed: true,
  split: (cmd) => {
    const { code, ...fields } = cmd as Extract<Command, { kind: "set_code" }>;
    return { fields, secrets: { code: code.reveal() } };
  },
  join: (fields, secrets) => {
    if (secrets?.code === undefined || secrets.tags !== undefined || secrets.codes !== undefined) return violation("sealed.code", "invalid_secrets");
    return { ...fields, code: new Secret(secrets.code) };
  },
};

const setProximityTags: WireKindSpec = {
  schema: domainOption("set_proximity_tags")
    .omit({ tags: true })
    .extend({ ...wireExtras, tags: z.array(wireTag).max(8), ...sealedOptional }),
  sealed: true,
  split: (cmd) => {
    const { tags, ...fields } = cmd as Extract<Command, { kind: "set_proximity_tags" }>;
    return {
      fields: { ...fields, tags: tags.map((t) => ({ kind: t.kind })) },
      secrets: tags.length > 0 ? { tags: tags.map((t) => t.tag.reveal()) } : null,
    };
  },
  join: (fields, secrets) => {
    const tags = fields.tags as { kind: string }[];
    const opened = secrets?.tags ?? [];
    if (secrets && (secrets.code !== undefined || secrets.codes !== undefined)) return violation("sealed", "invalid_secrets");
    if (opened.length !== tags.length) return violation("sealed.tags", "count_mismatch");
    return { ...fields, tags: tags.map((t, i) => ({ kind: t.kind, tag: new Secret(opened[i] as string) })) };
  },
};

const wireSnapshotUser = snapshotUserSchema
  .omit({ code: true, tags: true })
  .extend({ code: z.literal("keep").optional(), tags: z.array(wireTag).max(8).optional() });

const snapshot: WireKindSpec = {
  schema: domainOption("snapshot")
    .omit({ users: true })
    .extend({ ...wireExtras, users: z.array(wireSnapshotUser).max(200_000), ...sealedOptional }),
  sealed: true,
  split: (cmd) => {
    const { users, ...fields } = cmd as Extract<Command, { kind: "snapshot" }>;
    const codes: Record<string, string> = {};
    const tags: string[] = [];
    let anyCode = false;
    const wireUsers = users.map((u) => {
      const { code, tags: userTags, ...rest } = u;
      const out: Record<string, unknown> = { ...rest };
      if (code === "keep") out.code = "keep";
      else {
        codes[String(u.slot)] = code.reveal();
        anyCode = true;
      }
      if (userTags) {
        out.tags = userTags.map((t) => ({ kind: t.kind }));
        for (const t of userTags) tags.push(t.tag.reveal());
      }
      return out;
    });
    const secrets: SealedSecrets = {};
    if (anyCode) secrets.codes = codes;
    if (tags.length > 0) secrets.tags = tags;
    return { fields: { ...fields, users: wireUsers }, secrets: anyCode || tags.length > 0 ? secrets : null };
  },
  join: (fields, secrets) => {
    const users = fields.users as Array<Record<string, unknown> & { slot: number; code?: "keep"; tags?: { kind: string }[] }>;
    if (secrets?.code !== undefined) return violation("sealed.code", "invalid_secrets");
    const codes = secrets?.codes ?? {};
    const tags = secrets?.tags ?? [];
    let usedCodes = 0;
    let nextTag = 0;
    const out = new Array<Record<string, unknown>>(users.length);
    for (let i = 0; i < users.length; i++) {
      const u = users[i] as (typeof users)[number];
      const user: Record<string, unknown> = { ...u };
      if (u.code === "keep") {
        user.code = "keep";
      } else {
        const code = Object.hasOwn(codes, String(u.slot)) ? codes[String(u.slot)] : undefined;
        if (code === undefined) return violation(`users.${i}.code`, "missing_sealed_code");
        user.code = new Secret(code);
        usedCodes++;
      }
      if (u.tags) {
        const userTags = new Array<{ kind: string; tag: Secret }>(u.tags.length);
        for (let j = 0; j < u.tags.length; j++) {
          const tag = tags[nextTag++];
          if (tag === undefined) return violation("sealed.tags", "count_mismatch");
          userTags[j] = { kind: (u.tags[j] as { kind: string }).kind, tag: new Secret(tag) };
        }
        user.tags = userTags;
      }
      out[i] = user;
    }
    if (nextTag !== tags.length) return violation("sealed.tags", "count_mismatch");
    if (usedCodes !== Object.keys(codes).length) return violation("sealed.codes", "unused_code");
    return { ...fields, users: out };
  },
};

/**
 * The command kinds accepted from the wire, one entry each. `record_one_time_use` is agent-internal
 * and deliberately absent: sent over the wire it is `unknown_command`. To add a kind without
 * secrets that the domain already knows (e.g. `grant_dealer_access`): `grant_dealer_access: plain("grant_dealer_access"),`.
 */
export const WIRE_COMMANDS: Readonly<Record<string, WireKindSpec>> = {
  set_code: setCode,
  set_label: plain("set_label"),
  set_partitions: plain("set_partitions"),
  set_role: plain("set_role"),
  set_schedule: plain("set_schedule"),
  disable_user: plain("disable_user"),
  assign_account: plain("assign_account"),
  unassign_account: plain("unassign_account"),
  remove_account: plain("remove_account"),
  set_door_locks: plain("set_door_locks"),
  set_proximity_tags: setProximityTags,
  snapshot,
  grant_dealer_access: plain("grant_dealer_access"),
  revoke_dealer_access: plain("revoke_dealer_access"),
  list_users: plain("list_users"),
  read_action_log: plain("read_action_log"),
};

/** The kinds a cloud may send (also advertised in the retained state as `proto.kinds`). */
export const WIRE_KINDS: readonly string[] = Object.keys(WIRE_COMMANDS);

export function wireKindSpec(kind: unknown): WireKindSpec | undefined {
  return typeof kind === "string" && Object.hasOwn(WIRE_COMMANDS, kind) ? WIRE_COMMANDS[kind] : undefined;
}

/** The domain command kinds a cloud may send (excludes agent-internal kinds). */
export type WireCommandInput = Exclude<Command, { kind: (typeof INTERNAL_COMMANDS)[number] }>;

// ---------------------------------------------------------------------------------------------
// acks

export const slotViewSchema = z.strictObject({
  number: z.int().min(1).max(1_000_000),
  label: z.string().max(256),
  role: z.enum(ROLES),
  codeSet: z.boolean(),
  partitions: z.array(z.int().min(1).max(64)).max(64),
  schedule: scheduleSchema,
  doorLocks: z.array(z.string().min(1).max(64)).max(64),
  tags: z.array(wireTag).max(64),
  account: accountSchema.nullable(),
  version: z.int().min(0),
});
// The wire view must stay assignable to the domain's SlotView and back.
const _slotViewFits: [z.infer<typeof slotViewSchema>] extends [SlotView] ? ([SlotView] extends [z.infer<typeof slotViewSchema>] ? true : never) : never = true;
void _slotViewFits;

const slotList = z.array(z.int().min(1).max(1_000_000)).max(200_000);

/** A page of a read (Users grid rows or action-log rows), with the grid's range text. */
export const pageSchema = z.strictObject({
  rows: z.array(z.record(z.string(), z.unknown())).max(200),
  page: z.int().min(1),
  perPage: z.union([z.literal(10), z.literal(15), z.literal(50), z.literal(100), z.literal(200)]),
  total: z.int().min(0),
  pages: z.int().min(1),
  range: z.string().max(64),
});

/** The non-secret result of an applied command (the domain's CommandResult). */
export const commandResultSchema = z.strictObject({
  page: pageSchema.optional(),
  slots: z.array(slotViewSchema).max(200_000).optional(),
  added: slotList.optional(),
  changed: slotList.optional(),
  removed: slotList.optional(),
});
export type WireCommandResult = z.infer<typeof commandResultSchema>;

/** Error codes are open-ended on the wire (a newer agent may know more); see ERROR_SENTENCES. */
export const wireErrorSchema = z.strictObject({
  code: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/),
  detail: z.record(z.string().max(64), z.union([z.string().max(256), z.number(), z.boolean()])).optional(),
});
export type WireError = z.infer<typeof wireErrorSchema>;

/** The outcome of one command. `dup: true` = re-ack of an already-applied command (stored result). */
export const outcomeSchema = z.discriminatedUnion("ok", [
  z.strictObject({ ok: z.literal(true), id: idSchema, seq: seqSchema, result: commandResultSchema.optional(), dup: z.literal(true).optional() }),
  z.strictObject({ ok: z.literal(false), id: idSchema.optional(), seq: seqSchema.optional(), error: wireErrorSchema, dup: z.literal(true).optional() }),
]);
export type Outcome = z.infer<typeof outcomeSchema>;

export const ackSchema = z.strictObject({
  v: version,
  t: z.literal("ack"),
  panel: panelIdSchema,
  at: epochMsSchema,
  ack: outcomeSchema,
});
export type Ack = z.infer<typeof ackSchema>;

/** One ack for a whole batch envelope: `acks[i]` answers `cmds[i]`. `error` = the envelope itself failed (then `acks` is empty). */
export const batchAckSchema = z.strictObject({
  v: version,
  t: z.literal("batch_ack"),
  panel: panelIdSchema,
  at: epochMsSchema,
  id: idSchema.optional(),
  acks: z.array(outcomeSchema).max(LIMITS.maxBatch),
  error: wireErrorSchema.optional(),
});
export type BatchAck = z.infer<typeof batchAckSchema>;

export const anyAckSchema = z.discriminatedUnion("t", [ackSchema, batchAckSchema]);
export type AnyAck = z.infer<typeof anyAckSchema>;

// ---------------------------------------------------------------------------------------------
// events: one entry per type

const wireActor = actorSchema;
const slotNumber = z.int().min(1).max(1_000_000);
const pointSchema = z.strictObject({ kind: z.enum(["keypad", "doorlock"]), id: z.string().min(1).max(64) });

export const partialSlotViewSchema = slotViewSchema.partial().extend({ codeChanged: z.boolean().optional() });

/** `data` of each event type. Adding an event type is one entry here. */
export const EVENT_DATA = {
  /** The agent saw a seq beyond last+1 (or lost its place): the cloud answers with a snapshot. */
  resync_request: z.strictObject({
    lastSeq: lastSeqSchema,
    gotSeq: seqSchema.optional(),
    reason: z.enum(["sequence_gap", "startup", "restored"]),
  }),
  /** A change made on the panel side (keypad programming, housekeeping) or applied from a command. */
  local_change: z.strictObject({
    actor: wireActor,
    action: z.string().min(1).max(64),
    slot: slotNumber.nullable(),
    after: partialSlotViewSchema.nullable(),
  }),
  one_time_consumed: z.strictObject({ slot: slotNumber, localDay: z.string().regex(/^\d{4}-\d{2}-\d{2}$/) }),
  snapshot_applied: z.strictObject({ added: slotList, changed: slotList, removed: slotList }),
  /** A credential was presented. `reason` is a stable code (e.g. "ok", "unknown_credential", "outside_schedule"). */
  access: z.strictObject({
    point: pointSchema,
    credential: z.enum(["pin", "tag"]),
    granted: z.boolean(),
    reason: z.string().min(1).max(64),
    slot: slotNumber.optional(),
    duress: z.boolean().optional(),
  }),
  /** A Duress code was used: access was granted as usual; this is the silent alarm. */
  duress: z.strictObject({ slot: slotNumber, point: pointSchema }),
  /** A user's temporary access reached its end (enforcement happened at every check already). */
  temporary_access_expired: z.strictObject({ slot: slotNumber, until: epochMsSchema }),
  lockout: z.strictObject({
    point: pointSchema.nullable(),
    scope: z.enum(["keypad", "panel"]),
    failures: z.int().min(0),
    until: epochMsSchema,
  }),
  dealer_access: z.strictObject({
    change: z.enum(["granted", "revoked", "expired", "session_started"]),
    by: wireActor.optional(),
    hours: z.union([z.literal(2), z.literal(24)]).optional(),
    until: epochMsSchema.optional(),
    requestId: idSchema.optional(),
  }),
} as const;
export type EventType = keyof typeof EVENT_DATA;
export type EventData<T extends EventType> = z.infer<(typeof EVENT_DATA)[T]>;

/** A database's identity (7.2): 16 hex digits made with it, never changed while it exists. */
const databaseEpochSchema = z.string().regex(/^[0-9a-f]{16}$/);
/**
 * `epoch`: the database the number `n` counts in (n restarts at 1 with a new one), so a cloud
 * deduplicates by (panel, epoch, n) whatever order it hears a reset panel's state and events in.
 */
const eventBase = { v: version, t: z.literal("evt"), panel: panelIdSchema, epoch: databaseEpochSchema.optional(), n: z.int().min(1).max(Number.MAX_SAFE_INTEGER), at: epochMsSchema };

type EventSchemas = { [T in EventType]: z.ZodObject<typeof eventBase & { type: z.ZodLiteral<T>; data: (typeof EVENT_DATA)[T] }, z.core.$strict> };
const EVENT_SCHEMAS = Object.fromEntries(
  (Object.keys(EVENT_DATA) as EventType[]).map((type) => [type, z.strictObject({ ...eventBase, type: z.literal(type), data: EVENT_DATA[type] })]),
) as unknown as EventSchemas;

/** `{ v, t: "evt", panel, epoch?, n, at, type, data }`; `n` is the agent's outbox number (strictly increasing per panel and epoch: with the epoch, the dedup key). */
export const eventSchema = z.discriminatedUnion("type", Object.values(EVENT_SCHEMAS) as unknown as [EventSchemas[EventType], ...EventSchemas[EventType][]]);
export type WireEvent = { [T in EventType]: z.infer<EventSchemas[T]> }[EventType];

// ---------------------------------------------------------------------------------------------
// retained state and status

export const stateSchema = z.strictObject({
  v: version,
  t: z.literal("state"),
  panel: panelIdSchema,
  at: epochMsSchema,
  /** The agent's X25519 public key (raw 32 bytes): seal codes to it. */
  sealKey: bytesSchema(32),
  /** The last applied command seq: the next command must carry lastSeq + 1 (or be a snapshot). */
  lastSeq: lastSeqSchema,
  proto: z.strictObject({ v: z.array(z.int().min(1)).min(1).max(16), kinds: z.array(z.string().min(1).max(64)).max(128) }),
  agent: z.string().min(1).max(64),
  panelType: z.enum(PANEL_TYPE_IDS),
  codeLength: z.int().min(1).max(16),
  capacity: z.int().min(1).max(1_000_000),
  /** Slots with a code set. */
  users: z.int().min(0).max(1_000_000),
  timeZone: z.string().min(1).max(64),
  dealerAccess: z.strictObject({ until: epochMsSchema, hours: z.union([z.literal(2), z.literal(24)]) }).nullable(),
  /** Bumped by every transaction that changed the table. */
  tableVersion: z.int().min(0),
  /** SHA-256 (hex) over the non-secret view (without versions) of every user with a code, in slot order: compare to converge. */
  digest: z.string().regex(/^[0-9a-f]{64}$/),
  /** The database's identity (16 hex digits, made with it): a new epoch means the panel lost its table. */
  epoch: databaseEpochSchema.optional(),
  /** The panel's Ed25519 identity (raw 32 bytes): every ack, event and state it publishes is signed by it (section 4.1). */
  identityKey: bytesSchema(32).optional(),
});
export type State = z.infer<typeof stateSchema>;

export const statusSchema = z.strictObject({
  v: version,
  t: z.literal("status"),
  panel: panelIdSchema,
  status: z.enum(["online", "offline"]),
  /** online: when the agent connected; offline: when it went (absent in the broker's last will). */
  at: epochMsSchema.optional(),
  reason: z.enum(["shutdown", "connection_lost"]).optional(),
});
export type Status = z.infer<typeof statusSchema>;
