import { z } from "zod";
import { PANEL_TYPE_IDS, ROLES, scheduleSchema } from "../../domain/index.js";

const name = z.string().trim().min(1).max(128);

export const createPanelBody = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/),
  type: z.enum(PANEL_TYPE_IDS).optional(),
  codeLength: z.int().min(1).max(16).optional(),
  partitions: z.int().min(1).max(64).optional(),
});

export const createPersonBody = z.strictObject({
  firstName: name,
  lastName: name,
  contacts: z
    .array(
      z.discriminatedUnion("kind", [
        z.strictObject({ kind: z.literal("mobile"), value: z.string().regex(/^\+?[0-9 ()-]{4,32}$/), country: z.string().regex(/^[A-Z]{2}$/).optional(), carrier: z.string().min(1).max(64).optional(), enabled: z.boolean().optional() }),
        z.strictObject({ kind: z.literal("email"), value: z.email().max(254), enabled: z.boolean().optional() }),
      ]),
    )
    .max(16)
    .optional(),
  accounts: z.array(z.strictObject({ email: z.email().max(254), status: z.enum(["Not confirmed", "Active", "Suspended"]).optional() })).max(8).optional(),
});

/** A typed code, or `{ generate: true }` (optionally with its length): the generated code is in this response only. */
export const setCodeBody = z.union([
  z.strictObject({ code: z.string().min(1).max(16) }),
  z.strictObject({ generate: z.literal(true), length: z.int().min(4).max(8).optional() }),
]);

export const setAccessBody = z.strictObject({
  enabled: z.boolean(),
  slot: z.int().min(1).max(1_000_000).optional(),
  role: z.enum(ROLES).optional(),
  partitions: z.array(z.int().min(1).max(64)).min(1).max(64).optional(),
  schedule: scheduleSchema.optional(),
  doorLocks: z.array(z.string().min(1).max(64)).max(64).optional(),
  accountId: z.string().min(1).max(128).nullable().optional(),
});

export const usersQuery = z.strictObject({
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
  perPage: z.coerce.number().pipe(z.union([z.literal(10), z.literal(15), z.literal(50), z.literal(100), z.literal(200)])).default(15),
});
