import { z } from "zod";
import { Secret } from "./secret.js";
import { ACCOUNT_STATUSES } from "./model.js";
import { ROLES } from "./panel-types.js";

/**
 * The user-management commands, as the domain sees them: already verified and unsealed, so
 * credentials arrive as `Secret`s. The wire form (signed, sealed CBOR) lives in protocol/.
 */

const slotNumber = z.int().min(1).max(1_000_000);
const epochMs = z.int().min(0).max(8.64e15);
const secret = z.instanceof(Secret);

export const actorSchema = z.strictObject({
  /**
   * cloud: a cloud service or operator; master: the Master user (at the keypad or by a cloud
   * command made on the Master's behalf); keypad_user: a user programming at a keypad with their
   * code (slot); dealer: the Security Professional; system: the agent itself (housekeeping).
   */
  kind: z.enum(["cloud", "master", "keypad_user", "dealer", "system"]),
  id: z.string().min(1).max(128),
  slot: slotNumber.optional(),
});
export type Actor = z.infer<typeof actorSchema>;

export const weeklyWindowSchema = z.strictObject({
  days: z.array(z.int().min(0).max(6)).min(1).max(7),
  start: z.int().min(0).max(1439),
  end: z.int().min(1).max(1440),
});

export const scheduleSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("always") }),
  z.strictObject({ kind: z.literal("weekly"), windows: z.array(weeklyWindowSchema).min(1).max(32) }),
  z.strictObject({ kind: z.literal("temporary"), from: epochMs, to: epochMs }),
]);

export const accountSchema = z.strictObject({
  id: z.string().min(1).max(128),
  email: z.string().min(3).max(254).regex(/^[^\s@]+@[^\s@]+$/),
  createdAt: epochMs,
  status: z.enum(ACCOUNT_STATUSES),
});

const tagInput = z.strictObject({ kind: z.enum(["keypad", "doorlock"]), tag: secret });

const base = {
  id: z.string().min(1).max(128),
  actor: actorSchema,
  expectedVersion: z.int().min(0).optional(),
};

export const snapshotUserSchema = z.strictObject({
  slot: slotNumber,
  /** "keep" retains the code this slot already has (resync without re-sending every code). */
  code: z.union([secret, z.literal("keep")]),
  label: z.string().max(64).optional(),
  role: z.enum(ROLES).optional(),
  partitions: z.array(z.int().min(1).max(64)).max(64).optional(),
  schedule: scheduleSchema.optional(),
  doorLocks: z.array(z.string().min(1).max(64)).max(64).optional(),
  tags: z.array(tagInput).max(8).optional(),
  account: accountSchema.nullable().optional(),
});
export type SnapshotUser = z.infer<typeof snapshotUserSchema>;

export const commandSchema = z.discriminatedUnion("kind", [
  z.strictObject({ ...base, kind: z.literal("set_code"), slot: slotNumber, code: secret }),
  z.strictObject({
    ...base,
    kind: z.literal("set_label"),
    slot: slotNumber,
    label: z.string().max(256).optional(),
    /** The cloud app's first and last name; they become the label, cut to the panel's label length. */
    firstName: z.string().max(128).optional(),
    lastName: z.string().max(128).optional(),
  }),
  z.strictObject({ ...base, kind: z.literal("set_partitions"), slot: slotNumber, partitions: z.array(z.int().min(1).max(64)).min(1).max(64) }),
  z.strictObject({ ...base, kind: z.literal("set_role"), slot: slotNumber, role: z.enum(ROLES) }),
  z.strictObject({ ...base, kind: z.literal("set_schedule"), slot: slotNumber, schedule: scheduleSchema }),
  z.strictObject({ ...base, kind: z.literal("disable_user"), slot: slotNumber }),
  z.strictObject({ ...base, kind: z.literal("assign_account"), slot: slotNumber, account: accountSchema }),
  z.strictObject({ ...base, kind: z.literal("unassign_account"), slot: slotNumber }),
  z.strictObject({ ...base, kind: z.literal("remove_account"), accountId: z.string().min(1).max(128) }),
  z.strictObject({ ...base, kind: z.literal("set_door_locks"), slot: slotNumber, doorLocks: z.array(z.string().min(1).max(64)).max(64) }),
  z.strictObject({ ...base, kind: z.literal("set_proximity_tags"), slot: slotNumber, tags: z.array(tagInput).max(8) }),
  z.strictObject({ ...base, kind: z.literal("snapshot"), users: z.array(snapshotUserSchema).max(200_000) }),
  /** The Master grants Security Professional access: 2 h directly, 24 h answering the dealer's emailed request (requestId). */
  z.strictObject({ ...base, kind: z.literal("grant_dealer_access"), hours: z.union([z.literal(2), z.literal(24)]).optional(), requestId: z.string().min(1).max(128).optional() }),
  z.strictObject({ ...base, kind: z.literal("revoke_dealer_access") }),
  /** Reads: the Users grid and the action log, a page at a time. They change nothing and are not logged. */
  z.strictObject({ ...base, kind: z.literal("list_users"), page: z.int().min(1).max(1_000_000).default(1), perPage: z.union([z.literal(10), z.literal(15), z.literal(50), z.literal(100), z.literal(200)]).default(15), onlyActive: z.boolean().default(false) }),
  z.strictObject({ ...base, kind: z.literal("read_action_log"), page: z.int().min(1).max(1_000_000).default(1), perPage: z.union([z.literal(10), z.literal(15), z.literal(50), z.literal(100), z.literal(200)]).default(15) }),
  /** Issued by the agent's housekeeping when the window has elapsed (the event; enforcement happens at every command). */
  z.strictObject({ ...base, kind: z.literal("expire_dealer_access") }),
  /** Issued by the access path: a One-time User disarmed; `localDay` is the panel-local date (YYYY-MM-DD). */
  z.strictObject({ ...base, kind: z.literal("record_one_time_use"), slot: slotNumber, localDay: z.string().regex(/^\d{4}-\d{2}-\d{2}$/) }),
]);

export type Command = z.infer<typeof commandSchema>;

/** Kinds that only read; a dealer may always issue them. */
export const READ_COMMANDS: ReadonlySet<Command["kind"]> = new Set<Command["kind"]>(["list_users", "read_action_log"]);

/** Kinds the agent issues itself; never accepted from the wire. */
export const INTERNAL_COMMANDS = ["record_one_time_use", "expire_dealer_access"] as const satisfies readonly Command["kind"][];
export type CommandKind = Command["kind"];
export type CommandOf<K extends CommandKind> = Extract<Command, { kind: K }>;

/** A command's own fields: everything but its kind, id and actor. */
export type CommandFields<K extends CommandKind> = Omit<CommandOf<K>, "kind" | "id" | "actor">;

/** Builds a command of one kind, checked by the type (the agent's own commands need no parse). */
export function makeCommand<K extends CommandKind>(kind: K, id: string, actor: Actor, fields: CommandFields<K>): CommandOf<K> {
  return { ...fields, kind, id, actor } as CommandOf<K>;
}
