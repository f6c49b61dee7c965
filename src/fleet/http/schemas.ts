import { z } from "zod";
import { PANEL_TYPE_IDS, ROLES, scheduleSchema } from "../../domain/index.js";
import { API_ROLE_NAMES } from "../auth/permissions.js";

const name = z.string().trim().min(1).max(128);
const email = z.email().max(254);
const id = z.string().min(1).max(128);

export const pageQuery = {
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
  perPage: z.coerce.number().pipe(z.union([z.literal(10), z.literal(15), z.literal(50), z.literal(100), z.literal(200)])).default(15),
};

export const createPanelBody = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/),
  type: z.enum(PANEL_TYPE_IDS).optional(),
  codeLength: z.int().min(1).max(16).optional(),
  partitions: z.int().min(1).max(64).optional(),
  /** The panel's door locks (the agent's config names them); an unknown one is then refused at once. */
  doorLocks: z.array(z.string().min(1).max(64)).max(64).optional(),
});

export const contactSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("mobile"), value: z.string().regex(/^\+?[0-9 ()-]{4,32}$/), country: z.string().regex(/^[A-Z]{2}$/).optional(), carrier: z.string().min(1).max(64).optional(), enabled: z.boolean().optional() }),
  z.strictObject({ kind: z.literal("email"), value: email, enabled: z.boolean().optional() }),
]);
export const contactsBody = z.array(contactSchema).max(16);

export const createPersonBody = z.strictObject({
  firstName: name,
  lastName: name,
  contacts: contactsBody.optional(),
  accounts: z.array(z.strictObject({ email, status: z.enum(["Not confirmed", "Active", "Suspended"]).optional() })).max(8).optional(),
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
  label: z.string().max(64).nullable().optional(),
  /** Tag ids are secrets like codes. */
  tags: z.array(z.strictObject({ kind: z.enum(["keypad", "doorlock"]), id: z.string().min(4).max(64) })).max(8).optional(),
  accountId: id.nullable().optional(),
});

/** The list a raw (not yet parsed) body holds under `key`, or undefined. */
const listIn = (body: unknown, key: string): unknown[] | undefined => {
  const v = typeof body === "object" && body !== null ? (body as Record<string, unknown>)[key] : undefined;
  return Array.isArray(v) ? v : undefined;
};

/** Whether a raw body of setAccessBody's shape names an account (to assign, or null to unassign). */
const namesAccount = (body: unknown): boolean => typeof body === "object" && body !== null && "accountId" in body;

/** Seed doc 001: assigning or unassigning an account needs "manage accounts", whichever route carries it. */
export const SETS_ACCOUNT = { permission: "manage_accounts", when: namesAccount, what: "the body names accountId (assign, or null to unassign)" } as const;
/** The same for a bulk body: any of its panels naming an account. */
export const SETS_ACCOUNT_ANYWHERE = {
  permission: "manage_accounts",
  when: (body: unknown) => listIn(body, "panels")?.some(namesAccount) === true,
  what: "a panel of the body names accountId (assign, or null to unassign)",
} as const;

/** A new person's accounts registered with them (createPersonBody.accounts) are account management too. */
export const REGISTERS_ACCOUNTS = {
  permission: "manage_accounts",
  when: (body: unknown) => (listIn(body, "accounts")?.length ?? 0) > 0,
  what: "the body registers accounts with the person",
} as const;

export const usersQuery = z.strictObject(pageQuery);
/** The Users grid's page; `include=panel` adds the panel's settings and features (the console's first paint in one request). */
export const usersGridQuery = z.strictObject({ ...pageQuery, include: z.literal("panel").optional() });
export const panelsQuery = z.strictObject({ q: z.string().max(64).optional(), ...pageQuery });
export const peopleQuery = z.strictObject({ q: z.string().max(128).optional(), ...pageQuery });
export const accountsQuery = z.strictObject({ q: z.string().max(254).default("") });
export const actionLogQuery = z.strictObject({ panelId: id.optional(), personId: id.optional(), ...pageQuery });
export const eventsQuery = z.strictObject({ panelId: id.optional(), personId: id.optional(), type: z.string().min(1).max(64).optional(), ...pageQuery });
export const commandsQuery = z.strictObject({ ids: z.string().min(1).max(100 * 40) });

/** One proximity tag added to a panel user: its id is a secret like a code. */
export const addTagBody = z.strictObject({ kind: z.enum(["keypad", "doorlock"]), id: z.string().min(4).max(64) });

export const accessPeriodBody = scheduleSchema;
export const assignAccountBody = z.strictObject({ accountId: id });
export const createAccountBody = z.strictObject({ id: id.optional(), email, status: z.enum(["Not confirmed", "Active", "Suspended"]).optional(), personId: id.optional() });
export const accountStatusBody = z.strictObject({ status: z.enum(["Not confirmed", "Active", "Suspended"]) });
export const dealerGrantBody = z.strictObject({ hours: z.literal(2) });

export const signInBody = z.strictObject({ email: z.string().min(1).max(254), password: z.string().min(1).max(1024) });
export const createApiUserBody = z.strictObject({ email, name, role: z.enum(API_ROLE_NAMES as [string, ...string[]]), password: z.string().min(10).max(1024) });
export const createTokenBody = z.strictObject({ name });
