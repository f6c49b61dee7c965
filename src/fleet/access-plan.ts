import { PANEL_TYPES, ROLE_PERMISSIONS, type Role, type Secret } from "../domain/index.js";
import { canonicalJson } from "../../protocol/index.js";
import { FleetError } from "./errors.js";
import type { PanelRow } from "./panel-row.js";
import type { AccessInput, AccessSettings, AccessView, Schedule, TagInput } from "./store.js";

/**
 * The rules of a person's access at one panel, as a pure function: what the database holds (the
 * panel, the person, their access row there and the few lookups below) and the change asked for
 * in, a refusal or the row to write and the commands that bring the panel to it out. No database,
 * no vault: the caller reads every lookup before (for many panels at once, access-many.ts) and
 * writes what the plan says after. Every rule and refusal code of the per-panel path is here once.
 */

export interface PlanPerson {
  id: string;
  firstName: string;
  lastName: string;
  /** The person has a code (code_ct is set). */
  hasCode: boolean;
  accessPeriod: Schedule | null;
}

/** The person's person_panels row at the panel, when there is one. */
export interface CurrentAccess extends AccessSettings {
  /** The tags' kinds (their ids are only in tagsCt). */
  tags: { kind: string }[];
  tagsCt: Uint8Array | null;
}

export interface PlanAccount {
  id: string;
  email: string;
  createdAt: number;
  status: "Not confirmed" | "Active" | "Suspended";
}

/** What the rules read from the panel's other rows. */
export interface PlanLookups {
  /** Another person holds `checkSlot(…)` at this panel. */
  slotTaken: boolean;
  /** Anyone holds the type's first master slot at this panel. */
  masterSlotTaken: boolean;
  /** The first free slot that is not a master slot, or null when none is (asked only when the person has no row here). */
  freeSlot: number | null;
  /** Another person switched on at this panel has the person's code. */
  codeClash: boolean;
  /** Another person switched on at this panel has one of the tags this row will carry switched on (see `tagsToCheck`). */
  tagClash: boolean;
  /** The account `accountToCheck(…)` names: null when there is none by that id, undefined when no account is asked. */
  account: PlanAccount | null | undefined;
  /** The slot of another person switched on here with that account, or null. */
  accountOwnerSlot: number | null;
  /** The person's code in clear (decrypted only when a `set_code` is written). */
  code: () => Secret;
}

/** Which secret a command carries (encrypted per command by the writer, AAD `command:<id>`). */
export type CommandSecret = { kind: "code" } | { kind: "tags"; json: string } | { kind: "stored_tags" };

export interface PlannedCommand {
  body: Record<string, unknown> & { kind: string };
  secret?: CommandSecret;
}

/** The person_panels row to upsert; `tags` new tags to encrypt (AAD `tags:<person>:<panel>`, none when empty) or "keep" the stored ciphertext. */
export interface PlannedRow extends AccessSettings {
  tagKinds: { kind: string }[];
  tags: { set: TagInput[] } | "keep";
}

export interface AccessPlan {
  row: PlannedRow;
  commands: PlannedCommand[];
  access: AccessView;
}

const ALWAYS: Schedule = { kind: "always" };
const allPartitions = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);
const sameNumbers = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** The code fits the panel: its code length, and not one the panel type refuses. */
export function checkCodeFits(panel: PanelRow, code: Secret): void {
  if (code.length !== panel.codeLength) throw new FleetError("invalid_code_length", { panelId: panel.id, codeLength: panel.codeLength });
  if (PANEL_TYPES[panel.type].refusedCodes.includes(code.reveal())) throw new FleetError("weak_code", { panelId: panel.id });
}

/** The slot whose holder the rules ask about (the one asked for, else the current one), or undefined. */
export function checkSlot(input: AccessInput, cur: CurrentAccess | undefined): number | undefined {
  return input.slot ?? cur?.slot;
}

/**
 * Whose tags the uniqueness check compares, as the agent would meet them: the new tags of a row that
 * will be switched on, or its stored tags when it is switched on again (another person may have
 * taken one meanwhile); "stored" answers with the row's stored tags. None when the row stays off.
 */
export function tagsToCheck(input: AccessInput, cur: CurrentAccess | undefined): TagInput[] | "stored" | null {
  if (!input.enabled) return null;
  if (input.tags !== undefined) return input.tags.length > 0 ? input.tags : null;
  return cur !== undefined && cur.enabled !== true && cur.tagsCt !== null ? "stored" : null;
}

/** The account the rules look up (asked for, else the current one), or null. */
export function accountToCheck(input: AccessInput, cur: CurrentAccess | undefined): string | null {
  return input.accountId !== undefined ? input.accountId : (cur?.accountId ?? null);
}

/** Whether the rules need the first free slot: no slot asked for or held, and not the Master. */
export function needsFreeSlot(panel: PanelRow, input: AccessInput, cur: CurrentAccess | undefined): boolean {
  const type = PANEL_TYPES[panel.type];
  const role: Role = input.role ?? cur?.role ?? type.defaultRole;
  return checkSlot(input, cur) === undefined && role !== "Master";
}

/**
 * The plan for one panel, or the refusal (thrown as a FleetError with the per-panel path's code and
 * detail, in the order that path checked them).
 */
export function planAccess(panel: PanelRow, person: PlanPerson, cur: CurrentAccess | undefined, input: AccessInput, look: PlanLookups): AccessPlan {
  const personId = person.id;
  const panelId = panel.id;
  const type = PANEL_TYPES[panel.type];

  const role: Role = input.role ?? cur?.role ?? type.defaultRole;
  if (!type.roles.includes(role)) throw new FleetError("invalid_role_for_panel", { role, panelType: panel.type });
  let slot = checkSlot(input, cur);
  if (slot !== undefined && (slot < 1 || slot > panel.capacity)) throw new FleetError("slot_out_of_range", { slot, capacity: panel.capacity });
  if (slot !== undefined) {
    const isMasterSlot = type.masterSlots.includes(slot);
    if (isMasterSlot !== (role === "Master")) throw new FleetError("master_role_fixed", { slot });
    if (look.slotTaken) throw new FleetError("slot_in_use", { slot });
  } else if (role === "Master") {
    slot = type.masterSlots[0]!;
    if (look.masterSlotTaken) throw new FleetError("slot_in_use", { slot });
  } else {
    if (look.freeSlot === null) throw new FleetError("panel_full", { panelId });
    slot = look.freeSlot;
  }
  const isMaster = role === "Master";
  const all = allPartitions(panel.partitions);
  // A role that holds every partition (the Master) cannot be given fewer (the agent's rule, domain ROLE_PERMISSIONS).
  const allPartitionsRole = ROLE_PERMISSIONS[role].allPartitions;
  if (allPartitionsRole && input.partitions && !sameNumbers([...new Set(input.partitions)].sort((a, b) => a - b), all)) throw new FleetError("master_all_partitions", { slot });
  const partitions = allPartitionsRole ? all : [...new Set(input.partitions ?? cur?.partitions ?? all)].sort((a, b) => a - b);
  for (const p of partitions) if (p < 1 || p > panel.partitions) throw new FleetError("partition_out_of_range", { partition: p, partitions: panel.partitions });
  if (partitions.length === 0) throw new FleetError("partition_out_of_range", { partitions: panel.partitions });
  const schedule: Schedule = input.schedule ?? cur?.schedule ?? person.accessPeriod ?? ALWAYS;
  if (schedule.kind === "temporary" && schedule.to <= schedule.from) throw new FleetError("invalid_schedule");
  const doorLocks = [...new Set(input.doorLocks ?? cur?.doorLocks ?? [])].sort();
  // The panel's door locks are known when it was enrolled with them: an unknown one is refused here already.
  if (panel.doorLocks.length > 0) for (const d of doorLocks) if (!panel.doorLocks.includes(d)) throw new FleetError("unknown_door_lock", { doorLock: d });
  const label = input.label !== undefined ? input.label : (cur?.label ?? null);
  // The agent's label rules (domain/apply.ts validLabel): printable, at most the type's length in code points.
  // eslint-disable-next-line no-control-regex
  if (label !== null && (label.trim() === "" || /[\u0000-\u001f\u007f]/.test(label))) throw new FleetError("invalid_label");
  if (label !== null && Array.from(label).length > type.labelLength) throw new FleetError("label_too_long", { max: type.labelLength });
  let tags: TagInput[] | undefined;
  if (input.tags !== undefined) {
    tags = input.tags;
    for (const t of tags) if (!type.tagKinds.includes(t.kind)) throw new FleetError("tags_not_supported", { kind: t.kind });
    if (tags.length > type.maxTagsPerUser) throw new FleetError("too_many_tags", { max: type.maxTagsPerUser });
    if (new Set(tags.map((t) => t.id)).size < tags.length) throw new FleetError("tag_in_use", { panelId });
  }
  const accountId = accountToCheck(input, cur);
  let account: PlanAccount | null = null;
  if (accountId !== null) {
    if (!look.account) throw new FleetError("account_not_found", { accountId });
    account = look.account;
    if (account.status === "Suspended" && input.enabled && accountId !== (cur?.accountId ?? null)) throw new FleetError("account_suspended", { accountId });
    if (look.accountOwnerSlot !== null) throw new FleetError("account_already_assigned", { slot: look.accountOwnerSlot });
  }
  const wasOn = cur?.enabled === true;
  const slotMoved = cur !== undefined && cur.slot !== slot;

  if (input.enabled && !wasOn) {
    if (!person.hasCode) throw new FleetError("code_required", { personId });
    if (look.codeClash) throw new FleetError("code_in_use", { panelId });
  }
  if (look.tagClash) throw new FleetError("tag_in_use", { panelId });
  if (!input.enabled && wasOn && isMaster) throw new FleetError("master_cannot_be_disabled", { slot });

  // The tags' ciphertext after the write: new tags (none when empty), else the stored one.
  const hasTags = tags !== undefined ? tags.length > 0 : (cur?.tagsCt ?? null) !== null;
  const tagKinds = tags !== undefined ? tags.map((t) => ({ kind: t.kind })) : (cur?.tags ?? []);
  const tagsSecret = (): CommandSecret => (tags !== undefined ? { kind: "tags", json: JSON.stringify(tags) } : hasTags ? { kind: "stored_tags" } : { kind: "tags", json: "[]" });

  const commands: PlannedCommand[] = [];
  const write = (body: Record<string, unknown> & { kind: string }, secret?: CommandSecret) => void commands.push({ body, ...(secret ? { secret } : {}) });
  const labelCommand = () => write(label !== null ? { kind: "set_label", slot, label } : { kind: "set_label", slot, firstName: person.firstName, lastName: person.lastName });
  // Moving a switched-on person to another slot clears the old slot first.
  if (wasOn && (slotMoved || !input.enabled)) write({ kind: "disable_user", slot: cur.slot });
  if (input.enabled && (!wasOn || slotMoved)) {
    checkCodeFits(panel, look.code());
    write({ kind: "set_code", slot }, { kind: "code" });
    labelCommand();
    if (!isMaster) {
      write({ kind: "set_role", slot, role });
      write({ kind: "set_partitions", slot, partitions });
    }
    write({ kind: "set_schedule", slot, schedule });
    if (doorLocks.length > 0) write({ kind: "set_door_locks", slot, doorLocks });
    if (hasTags) write({ kind: "set_proximity_tags", slot }, tagsSecret());
    if (account && account.status !== "Suspended") write({ kind: "assign_account", slot, account });
  } else if (input.enabled && wasOn) {
    if (label !== cur.label) labelCommand();
    if (!isMaster && role !== cur.role) write({ kind: "set_role", slot, role });
    if (!isMaster && !sameNumbers(partitions, cur.partitions)) write({ kind: "set_partitions", slot, partitions });
    // canonical: jsonb gives the stored schedule back with its keys in another order than the input
    if (canonicalJson(schedule) !== canonicalJson(cur.schedule)) write({ kind: "set_schedule", slot, schedule });
    if (JSON.stringify(doorLocks) !== JSON.stringify(cur.doorLocks)) write({ kind: "set_door_locks", slot, doorLocks });
    if (tags !== undefined) write({ kind: "set_proximity_tags", slot }, tagsSecret());
    if (accountId !== cur.accountId) {
      if (account) write({ kind: "assign_account", slot, account });
      else write({ kind: "unassign_account", slot });
    }
  }
  return {
    row: { enabled: input.enabled, slot, role, partitions, schedule, doorLocks, accountId, label, tagKinds, tags: tags !== undefined ? { set: tags } : "keep" },
    commands,
    access: { personId, panelId, enabled: input.enabled, slot, role, partitions, schedule, doorLocks, accountId, label, tags: tagKinds },
  };
}
