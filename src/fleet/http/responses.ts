import { z } from "zod";
import { ROLES, scheduleSchema } from "../../domain/index.js";

/**
 * What the API answers, as zod schemas: the OpenAPI document's response bodies, and what the
 * flows test checks every answer it received against (so the document says what the server does).
 */
const iso = z.string().describe("ISO 8601 time");
const isoOrNull = iso.nullable();
const accountStatus = z.enum(["Not confirmed", "Active", "Suspended"]);

export const pageOf = <T extends z.ZodType>(row: T) =>
  z.object({ rows: z.array(row), page: z.int().min(1), perPage: z.union([z.literal(10), z.literal(15), z.literal(50), z.literal(100), z.literal(200)]), total: z.int().min(0), pages: z.int().min(1), range: z.string().describe('"1-15 of 1000"') });

export const drift = z.enum(["never_reported", "offline", "pending_commands", "digest_mismatch"]).nullable();

export const panelSummary = z.object({ id: z.string(), type: z.string(), online: z.boolean(), usersCount: z.int(), lastReportAt: isoOrNull, converged: z.boolean(), drift });

export const panelDetail = z.object({
  id: z.string(),
  type: z.string(),
  codeLength: z.int(),
  timeZone: z.string(),
  partitions: z.int(),
  capacity: z.int(),
  features: z.object({ doorLocks: z.array(z.string()), tags: z.array(z.enum(["keypad", "doorlock"])), maxTags: z.int().describe("proximity tags a user may hold on this panel type"), roles: z.array(z.enum(ROLES)) }),
  identity: z.string().describe("the panel's X25519 sealing key, hex"),
  identityKey: z.string().nullable().describe("the panel's Ed25519 identity key pinned at enrolment, hex"),
  reported: z.object({ online: z.boolean().nullable(), lastSeq: z.int().nullable(), epoch: z.string().nullable(), digest: z.string().nullable(), stateAt: isoOrNull, lastAckAt: isoOrNull }),
  converged: z.boolean(),
  drift,
});

export const gridRow = z.object({
  slot: z.int(),
  personId: z.string().nullable(),
  label: z.string().nullable(),
  role: z.enum(ROLES),
  codeSet: z.boolean(),
  partitions: z.array(z.int()),
  account: z.object({ id: z.string(), email: z.string(), status: accountStatus }).nullable(),
  createdAt: isoOrNull,
  status: z.enum(["Not confirmed", "Active", "Suspended", "Unknown"]),
  enabled: z.boolean(),
  pending: z.boolean(),
});

/** A panel's settings and features without its drift (which reads the whole desired table): what the Users tab needs. */
export const panelBrief = panelDetail.pick({ id: true, type: true, codeLength: true, timeZone: true, partitions: true, capacity: true, features: true }).extend({
  reported: z.object({ online: z.boolean().nullable(), stateAt: isoOrNull, lastAckAt: isoOrNull }),
});

/** The Users grid's page; with `include=panel`, the panel too. */
export const usersPage = pageOf(gridRow).extend({ panel: panelBrief.optional() });

export const slotDetail = gridRow.extend({
  schedule: scheduleSchema,
  doorLocks: z.array(z.string()),
  tags: z.array(z.object({ kind: z.string() })),
  person: z.object({ id: z.string(), firstName: z.string(), lastName: z.string() }).nullable(),
  version: z.int(),
});

export const commandFate = z.object({
  id: z.string(),
  panelId: z.string(),
  kind: z.string(),
  seq: z.int(),
  status: z.enum(["pending", "applied", "rejected", "superseded"]),
  code: z.string().optional(),
  sentence: z.string().optional(),
  createdAt: iso,
  decidedAt: iso.optional(),
});

export const commandIds = z.object({ commands: z.array(z.string()) });

export const access = z.object({
  access: z.object({ personId: z.string(), panelId: z.string(), enabled: z.boolean(), slot: z.int(), role: z.enum(ROLES), partitions: z.array(z.int()), schedule: scheduleSchema, doorLocks: z.array(z.string()), accountId: z.string().nullable(), label: z.string().nullable(), tags: z.array(z.object({ kind: z.string() })) }),
  commands: z.array(z.string()),
});

const contact = z.object({ kind: z.enum(["mobile", "email"]), value: z.string(), country: z.string().nullable(), carrier: z.string().nullable(), enabled: z.boolean() });
export const account = z.object({ id: z.string(), email: z.string(), status: accountStatus, createdAt: iso });
export const person = z.object({ id: z.string(), firstName: z.string(), lastName: z.string(), codeSet: z.boolean(), contacts: z.array(contact), accounts: z.array(account), createdAt: iso });
export const personDetail = person.extend({ accessPeriod: scheduleSchema, panels: z.array(z.object({ panelId: z.string(), enabled: z.boolean(), slot: z.int() })) });
export const personSummary = z.object({ id: z.string(), firstName: z.string(), lastName: z.string(), codeSet: z.boolean(), panels: z.array(z.string()) });
export const codeSet = z.object({ personId: z.string(), codeSet: z.literal(true), code: z.string().optional().describe("a generated code, in this response only"), commands: z.array(z.string()) });

const apiUser = z.object({ id: z.string(), email: z.string(), name: z.string(), role: z.string(), permissions: z.array(z.string()) });
export const session = z.object({ user: apiUser, csrfToken: z.string().optional() });
export const apiUserFull = apiUser.extend({ createdAt: iso });

export const dealer = z.object({ open: z.boolean(), until: isoOrNull, hours: z.union([z.literal(2), z.literal(24)]).nullable(), remainingMs: z.int().nullable(), pendingRequest: z.object({ id: z.string(), requestedAt: iso }).nullable() });
export const dealerRequest = z.object({ panelId: z.string(), requestedAt: iso, hours: z.literal(24), status: z.enum(["pending", "confirmed", "expired", "used"]) });

export const actionEntry = z.object({
  at: iso,
  actor: z.object({ kind: z.string(), id: z.string(), name: z.string().optional() }),
  panelId: z.string().nullable(),
  slot: z.int().nullable(),
  personId: z.string().nullable(),
  personName: z.string().optional().describe("the person's first and last name, while the person exists"),
  action: z.string(),
  outcome: z.enum(["requested", "applied", "rejected", "refused"]),
  code: z.string().optional(),
  sentence: z.string().optional(),
  commandId: z.string().optional(),
});

export const event = z.object({ id: z.int(), panelId: z.string(), epoch: z.string().nullable().describe("the panel database's epoch the number n counts in; null from an agent that did not name it"), n: z.int(), type: z.string(), at: iso, slot: z.int().nullable(), personId: z.string().nullable(), data: z.record(z.string(), z.unknown()) });
export const driftRow = panelSummary.extend({ pending: z.int(), reportedDigest: z.string().nullable(), desiredDigest: z.string() });

export const commandsOfPanel = z.object({ commands: z.array(commandFate) });
export const commandRows = z.object({ rows: z.array(commandFate) });
export const contacts = z.array(contact);
export const accountRows = z.object({ rows: z.array(account) });
export const delivery = z.object({ delivery: z.string().describe("the webhook delivery's id") });
export const accountRemoved = z.object({ commands: z.array(z.string()), delivery: z.string() });
export const apiUserRows = z.object({ rows: z.array(apiUserFull) });
export const token = z.object({ id: z.string(), token: z.string().describe("shown in this response only"), name: z.string() });
export const created = z.object({ id: z.string() });
export const openApi = z.object({ openapi: z.literal("3.1.0"), paths: z.record(z.string(), z.unknown()) });
