import { READ_COMMANDS, type Actor, type Command, type CommandKind, type CommandOf, type SnapshotUser } from "./commands.js";
import { listUsers, type Page, type UserRow } from "./paging.js";
import { RuleError, type ErrorCode } from "./errors.js";
import { slotView, type Schedule, type Slot, type SlotView } from "./model.js";
import { ROLE_PERMISSIONS, type TagKind } from "./panel-types.js";
import type { CredentialHasher, Secret } from "./secret.js";
import { DEALER_HOURS, DEALER_KEY, dealerRefusal, dealerWindow, isMasterActor, isWindowOpen, windowElapsed, type DealerWindow } from "./dealer.js";
import { defaultLabel, defaultSlot, type ChangeSet, type MetaChange, type PanelTable, type SlotChange } from "./table.js";

/** What a rule may know besides the table and the command: the time and how credentials are hashed. */
export interface ApplyContext {
  /** Wall clock, epoch ms: for logs, temporary schedules, account dates. */
  now: number;
  hash: CredentialHasher;
  /** Steady clock, ms (monotonic, continuous across restarts): for dealer windows. Defaults to `now`. */
  steady?: number;
}

/** One row of the action log. Before/after hold only the non-secret fields that changed. */
export interface ActionLogEntry {
  at: number;
  actor: Actor;
  action: string;
  slot: number | null;
  before: Partial<SlotView> | null;
  after: Partial<SlotView> | null;
  commandId: string;
  result: "ok" | ErrorCode;
}

export type DomainEvent =
  | { type: "local_change"; at: number; actor: Actor; action: string; slot: number | null; after: Partial<SlotView> | null }
  | { type: "one_time_consumed"; at: number; slot: number; localDay: string }
  | { type: "snapshot_applied"; at: number; added: number[]; changed: number[]; removed: number[] }
  | { type: "dealer_access_granted"; at: number; hours: number; how: "direct" | "request"; requestId: string | null; expiresAt: number; by: Actor }
  | { type: "dealer_session_started"; at: number; dealer: string }
  | { type: "dealer_access_revoked"; at: number; by: Actor }
  | { type: "dealer_access_expired"; at: number; grantedAt: number };

export interface CommandResult {
  /** Slots the command touched, as they are after it (non-secret view). */
  slots?: SlotView[];
  /** A read's page (Users grid rows, or action-log rows filled in by the store). */
  page?: Page<UserRow | Record<string, unknown>>;
  added?: number[];
  changed?: number[];
  removed?: number[];
}

export interface Applied {
  ok: true;
  changes: ChangeSet;
  log: ActionLogEntry[];
  events: DomainEvent[];
  result: CommandResult;
}

export interface Rejected {
  ok: false;
  error: RuleError;
  log: ActionLogEntry[];
}

export type Outcome = Applied | Rejected;

/** Non-secret fields compared for the action log's before/after. */
const LOGGED_FIELDS = ["label", "role", "codeSet", "partitions", "schedule", "doorLocks", "tags", "account"] as const;

function diffViews(before: Slot, after: Slot): { before: Partial<SlotView>; after: Partial<SlotView> } {
  const b = slotView(before);
  const a = slotView(after);
  const outB: Record<string, unknown> = {};
  const outA: Record<string, unknown> = {};
  for (const f of LOGGED_FIELDS) {
    const x = b[f];
    const y = a[f];
    // Same value or same object: unchanged without serialising (most fields, most commands).
    if (x === y || (typeof x === "object" && typeof y === "object" && JSON.stringify(x) === JSON.stringify(y))) continue;
    outB[f] = x;
    outA[f] = y;
  }
  // A code change keeps codeSet true on both sides; say that it changed without saying what it is.
  if (before.codeDigest !== after.codeDigest && before.codeDigest !== null && after.codeDigest !== null) {
    outB.codeSet = true;
    outA.codeSet = true;
    outA.codeChanged = true;
  }
  return { before: outB, after: outA };
}

/** Who was refused what: everything the action log keeps of a refusal besides its time and code. */
export interface Refusal {
  actor: Actor;
  action: string;
  slot: number | null;
  commandId: string;
}

/** The action-log row of a refusal, whichever layer refused (envelope, sequencing, rules): one shape, one place. */
export function refusalEntry(at: number, r: Refusal, code: ErrorCode): ActionLogEntry {
  return { at, actor: r.actor, action: r.action, slot: r.slot, before: null, after: null, commandId: r.commandId, result: code };
}

function reject(cmd: Command, ctx: ApplyContext, code: ErrorCode, detail?: Record<string, string | number | boolean>): Rejected {
  const slot = "slot" in cmd ? cmd.slot : null;
  return { ok: false, error: new RuleError(code, detail), log: [refusalEntry(ctx.now, { actor: cmd.actor, action: cmd.kind, slot, commandId: cmd.id }, code)] };
}

/** Thrown inside a handler to reject the whole command; caught by applyCommand. */
class Reject extends Error {
  constructor(readonly code: ErrorCode, readonly detail?: Record<string, string | number | boolean>) {
    super(code);
  }
}

function fail(code: ErrorCode, detail?: Record<string, string | number | boolean>): never {
  throw new Reject(code, detail);
}

interface Draft {
  result?: CommandResult;
  table: PanelTable;
  ctx: ApplyContext;
  cmd: Command;
  /** Slots changed so far by this command, by number (a command may touch several). */
  slots: Map<number, SlotChange>;
  meta: MetaChange[];
  events: DomainEvent[];
}

function current(d: Draft, number: number): Slot {
  return d.slots.get(number)?.after ?? d.table.slot(number);
}

function write(d: Draft, next: Slot): void {
  const prev = d.slots.get(next.number);
  const before = prev ? prev.before : d.table.slot(next.number);
  d.slots.set(next.number, { before, after: { ...next, version: before.version + 1, updatedAt: d.ctx.now } });
}

function slotInRange(d: Draft, number: number): void {
  if (number < 1 || number > d.table.type.capacity) fail("slot_out_of_range", { slot: number, capacity: d.table.type.capacity });
}

function requireCode(slot: Slot): void {
  if (slot.codeDigest === null) fail("code_required", { slot: slot.number });
}

function cutLabel(d: Draft, text: string): string {
  return Array.from(text.trim()).slice(0, d.table.type.labelLength).join("");
}

function validLabel(d: Draft, label: string, cut: boolean): string {
  // eslint-disable-next-line no-control-regex
  if (label.trim() === "" || /[\u0000-\u001f\u007f]/.test(label)) fail("invalid_label");
  if (cut) return cutLabel(d, label);
  if (Array.from(label).length > d.table.type.labelLength) fail("label_too_long", { max: d.table.type.labelLength });
  return label;
}

function checkCode(d: Draft, code: Secret, forSlot: number, taken: (digest: string) => number | undefined): string {
  const plain = code.reveal();
  if (!/^[0-9]+$/.test(plain)) fail("invalid_code");
  if (plain.length !== d.table.config.codeLength) fail("invalid_code_length", { expected: d.table.config.codeLength });
  if (d.table.type.refusedCodes.includes(plain)) fail("weak_code");
  const digest = d.ctx.hash(code);
  const owner = taken(digest);
  if (owner !== undefined && owner !== forSlot) fail("code_in_use");
  return digest;
}

function checkPartitions(d: Draft, partitions: number[]): number[] {
  const max = d.table.partitionCount;
  for (const n of partitions) if (n < 1 || n > max) fail("partition_out_of_range", { partition: n, max });
  return [...new Set(partitions)].sort((a, b) => a - b);
}

function checkSchedule(schedule: Schedule): Schedule {
  if (schedule.kind === "temporary" && schedule.to <= schedule.from) fail("invalid_schedule", { reason: "temporary access must end after it starts" });
  if (schedule.kind === "weekly") {
    return { kind: "weekly", windows: schedule.windows.map((w) => ({ days: [...new Set(w.days)].sort((a, b) => a - b), start: w.start, end: w.end })) };
  }
  return schedule;
}

function checkDoorLocks(d: Draft, locks: string[]): string[] {
  for (const id of locks) if (!d.table.config.doorLocks.includes(id)) fail("unknown_door_lock", { doorLock: id });
  return [...new Set(locks)].sort();
}

function checkTags(d: Draft, slotNumber: number, tags: { kind: TagKind; tag: Secret }[], taken: (digest: string) => number | undefined): Slot["tags"] {
  const type = d.table.type;
  if (tags.length > type.maxTagsPerUser) fail("too_many_tags", { max: type.maxTagsPerUser });
  const out: Slot["tags"] = [];
  const seen = new Set<string>();
  for (const t of tags) {
    if (!type.tagKinds.includes(t.kind)) fail("tags_not_supported", { kind: t.kind });
    if (t.tag.length < 4 || t.tag.length > 64) fail("invalid_code", { field: "tag" });
    const digest = d.ctx.hash(t.tag);
    const owner = taken(digest);
    if ((owner !== undefined && owner !== slotNumber) || seen.has(digest)) fail("tag_in_use");
    seen.add(digest);
    out.push({ kind: t.kind, digest });
  }
  return out;
}

function checkRole(d: Draft, slotNumber: number, role: Slot["role"]): void {
  const type = d.table.type;
  if (!type.roles.includes(role)) fail("invalid_role_for_panel", { role });
  const isMasterSlot = type.masterSlots.includes(slotNumber);
  if (isMasterSlot !== (role === "Master")) fail("master_role_fixed", { slot: slotNumber });
}

/** A Master always holds every partition of the panel. */
function withRolePartitions(d: Draft, slot: Slot): Slot {
  return rolePartitionsFixed(slot, d.table.allPartitions()) ?? slot;
}

/**
 * The slot as its role requires it on a panel with `all` partitions, or null when it already is:
 * a Master (any all-partitions role) with a code holds exactly every partition. The store applies
 * it at open too, so a partition added to the config later reaches the Master's stored slot.
 */
export function rolePartitionsFixed(slot: Slot, all: readonly number[]): Slot | null {
  if (!ROLE_PERMISSIONS[slot.role].allPartitions || slot.codeDigest === null) return null;
  if (slot.partitions.length === all.length && slot.partitions.every((p, i) => p === all[i])) return null;
  return { ...slot, partitions: [...all] };
}

function steadyNow(d: Draft): number {
  return d.ctx.steady ?? d.ctx.now;
}

/**
 * Why the user in slot `programmer` may not program users at the keypad (or `target`), or null.
 * authorise() applies it to every keypad_user command; the keypad's *5 user-number check asks it
 * before any command is made.
 */
export function keypadProgrammingRefusal(table: PanelTable, programmer: number, target?: number): ErrorCode | null {
  const p = table.slot(programmer);
  if (p.codeDigest === null || !ROLE_PERMISSIONS[p.role].programUsers) return "permission_denied";
  // A Supervisor programs other users, never the Master (DSC: only the Master code changes the Master code).
  if (target !== undefined && p.role !== "Master" && table.type.masterSlots.includes(target)) return "master_required";
  return null;
}

/** Who may issue which command: dealer windows, Master-only commands, keypad programming permissions. */
function authorise(d: Draft): void {
  const { actor, kind } = d.cmd;
  if (actor.kind === "dealer") {
    const refusal = dealerRefusal(dealerWindow(d.table.meta(DEALER_KEY)), kind, steadyNow(d));
    if (refusal) fail(refusal);
    return;
  }
  if ((kind === "grant_dealer_access" || kind === "revoke_dealer_access") && !isMasterActor(actor, (s) => d.table.slot(s).role === "Master" && d.table.slot(s).codeDigest !== null)) {
    fail("master_required");
  }
  if (actor.kind === "keypad_user") {
    if (actor.slot === undefined) fail("permission_denied");
    const refusal = keypadProgrammingRefusal(d.table, actor.slot, "slot" in d.cmd ? d.cmd.slot : undefined);
    if (refusal) fail(refusal);
    if (kind === "snapshot" || kind === "assign_account" || kind === "remove_account" || kind === "unassign_account") fail("permission_denied");
  }
}

type Handler<K extends CommandKind> = (d: Draft, cmd: CommandOf<K>) => void;

const handlers: { [K in CommandKind]: Handler<K> } = {
  set_code(d, cmd) {
    slotInRange(d, cmd.slot);
    const slot = current(d, cmd.slot);
    const digest = checkCode(d, cmd.code, cmd.slot, (x) => d.table.slotByCodeDigest(x));
    const next: Slot = { ...slot, codeDigest: digest };
    // A slot coming into existence starts with all partitions unless it had some: the panel's default.
    if (slot.codeDigest === null && next.partitions.length === 0) next.partitions = d.table.allPartitions();
    write(d, withRolePartitions(d, next));
  },

  set_label(d, cmd) {
    slotInRange(d, cmd.slot);
    const slot = current(d, cmd.slot);
    requireCode(slot);
    let label: string;
    if (cmd.label !== undefined) label = validLabel(d, cmd.label, false);
    else {
      const name = [cmd.firstName ?? "", cmd.lastName ?? ""].map((s) => s.trim()).filter(Boolean).join(" ");
      label = validLabel(d, name, true);
    }
    write(d, { ...slot, label });
  },

  set_partitions(d, cmd) {
    slotInRange(d, cmd.slot);
    const slot = current(d, cmd.slot);
    requireCode(slot);
    if (ROLE_PERMISSIONS[slot.role].allPartitions) fail("master_all_partitions", { slot: cmd.slot });
    write(d, { ...slot, partitions: checkPartitions(d, cmd.partitions) });
  },

  set_role(d, cmd) {
    slotInRange(d, cmd.slot);
    const slot = current(d, cmd.slot);
    requireCode(slot);
    checkRole(d, cmd.slot, cmd.role);
    write(d, withRolePartitions(d, { ...slot, role: cmd.role }));
  },

  set_schedule(d, cmd) {
    slotInRange(d, cmd.slot);
    const slot = current(d, cmd.slot);
    requireCode(slot);
    write(d, { ...slot, schedule: checkSchedule(cmd.schedule) });
  },

  disable_user(d, cmd) {
    slotInRange(d, cmd.slot);
    const slot = current(d, cmd.slot);
    if (slot.role === "Master" || d.table.type.masterSlots.includes(cmd.slot)) fail("master_cannot_be_disabled", { slot: cmd.slot });
    requireCode(slot);
    // Disabling removes the user from the panel: the code goes, and the label with it (they are
    // linked), and with no user left nothing else can hang on the slot (account, tags, locks).
    write(d, { ...defaultSlot(d.table.type, cmd.slot), version: slot.version });
  },

  assign_account(d, cmd) {
    slotInRange(d, cmd.slot);
    const slot = current(d, cmd.slot);
    requireCode(slot);
    if (cmd.account.status === "Suspended") fail("account_suspended");
    const owner = d.table.slotByAccount(cmd.account.id);
    if (owner !== undefined && owner !== cmd.slot) fail("account_already_assigned", { slot: owner });
    write(d, { ...slot, account: { ...cmd.account } });
  },

  unassign_account(d, cmd) {
    slotInRange(d, cmd.slot);
    const slot = current(d, cmd.slot);
    if (slot.account === null) fail("account_not_assigned", { slot: cmd.slot });
    // The account itself lives on in the cloud; here the slot just shows no account (status Unknown).
    write(d, { ...slot, account: null });
  },

  remove_account(d, cmd) {
    const owner = d.table.slotByAccount(cmd.accountId);
    if (owner === undefined) fail("account_not_found");
    write(d, { ...current(d, owner), account: null });
  },

  set_door_locks(d, cmd) {
    slotInRange(d, cmd.slot);
    const slot = current(d, cmd.slot);
    requireCode(slot);
    write(d, { ...slot, doorLocks: checkDoorLocks(d, cmd.doorLocks) });
  },

  set_proximity_tags(d, cmd) {
    slotInRange(d, cmd.slot);
    const slot = current(d, cmd.slot);
    requireCode(slot);
    write(d, { ...slot, tags: checkTags(d, cmd.slot, cmd.tags, (x) => d.table.slotByTagDigest(x)) });
  },

  snapshot(d, cmd) {
    applySnapshot(d, cmd.users);
  },

  list_users(d, cmd) {
    d.result = { page: listUsers(d.table, cmd.page, cmd.perPage, cmd.onlyActive) };
  },

  // The action log lives in the store; the store fills this page in (it is the same read for every actor).
  read_action_log() {},

  grant_dealer_access(d, cmd) {
    const how = cmd.requestId !== undefined ? "request" : "direct";
    const hours = DEALER_HOURS[how];
    if (cmd.hours !== undefined && cmd.hours !== hours) fail("invalid_schedule", { reason: `${how} grants last ${hours} h` });
    const steady = steadyNow(d);
    const before = d.table.meta(DEALER_KEY);
    const window: DealerWindow = {
      state: "active", how, requestId: cmd.requestId ?? null, hours, grantedBy: cmd.actor.id,
      grantedSteady: steady, expiresSteady: steady + hours * 3600_000,
      grantedAt: d.ctx.now, expiresAt: d.ctx.now + hours * 3600_000, sessionStartedAt: null, endedAt: null,
    };
    d.meta.push({ key: DEALER_KEY, before, after: window });
    d.events.push({ type: "dealer_access_granted", at: d.ctx.now, hours, how, requestId: window.requestId, expiresAt: window.expiresAt, by: cmd.actor });
  },

  revoke_dealer_access(d, cmd) {
    const before = dealerWindow(d.table.meta(DEALER_KEY));
    if (!isWindowOpen(before, steadyNow(d))) fail("dealer_access_not_active");
    d.meta.push({ key: DEALER_KEY, before, after: { ...before, state: "revoked", endedAt: d.ctx.now } });
    d.events.push({ type: "dealer_access_revoked", at: d.ctx.now, by: cmd.actor });
  },

  expire_dealer_access(d) {
    const before = dealerWindow(d.table.meta(DEALER_KEY));
    if (!windowElapsed(before, steadyNow(d))) fail("dealer_access_not_active");
    d.meta.push({ key: DEALER_KEY, before, after: { ...before, state: "expired", endedAt: d.ctx.now } });
    d.events.push({ type: "dealer_access_expired", at: d.ctx.now, grantedAt: before.grantedAt });
  },

  record_one_time_use(d, cmd) {
    slotInRange(d, cmd.slot);
    const slot = current(d, cmd.slot);
    requireCode(slot);
    if (slot.role !== "One-time User") fail("not_one_time_user", { slot: cmd.slot });
    const key = oneTimeKey(cmd.slot);
    const before = d.table.meta(key);
    if (before === cmd.localDay) fail("one_time_already_used", { slot: cmd.slot });
    d.meta.push({ key, before, after: cmd.localDay });
    d.events.push({ type: "one_time_consumed", at: d.ctx.now, slot: cmd.slot, localDay: cmd.localDay });
  },
};

/** The dealer's first accepted command in a window starts the session (the "dealer logged in" notification). */
function markDealerSession(d: Draft): void {
  const w = dealerWindow(d.table.meta(DEALER_KEY));
  if (w === null || w.sessionStartedAt !== null) return;
  d.meta.push({ key: DEALER_KEY, before: w, after: { ...w, sessionStartedAt: d.ctx.now } });
  d.events.push({ type: "dealer_session_started", at: d.ctx.now, dealer: d.cmd.actor.id });
}

/** Meta key under which the local day of a One-time User's last disarm is kept. */
export function oneTimeKey(slot: number): string {
  return `one_time:${slot}`;
}

function applySnapshot(d: Draft, users: SnapshotUser[]): void {
  const type = d.table.type;
  const wanted = new Map<number, SnapshotUser>();
  for (const u of users) {
    slotInRange(d, u.slot);
    if (wanted.has(u.slot)) fail("snapshot_invalid", { reason: "duplicate slot", slot: u.slot });
    wanted.set(u.slot, u);
  }
  // Build every target slot first; uniqueness is checked within the new table, not against the old one.
  const codes = new Map<string, number>();
  const tags = new Map<string, number>();
  const accounts = new Map<string, number>();
  const targets = new Map<number, Slot>();
  for (const u of wanted.values()) {
    const old = d.table.slot(u.slot);
    let codeDigest: string;
    if (u.code === "keep") {
      if (old.codeDigest === null) fail("snapshot_invalid", { reason: "keep needs an existing code", slot: u.slot });
      codeDigest = old.codeDigest;
      if (codes.has(codeDigest)) fail("code_in_use", { slot: u.slot });
    } else {
      codeDigest = checkCode(d, u.code, u.slot, (x) => codes.get(x));
    }
    codes.set(codeDigest, u.slot);
    const role = u.role ?? (old.codeDigest !== null ? old.role : defaultSlot(type, u.slot).role);
    checkRole(d, u.slot, role);
    const slotTags = u.tags ? checkTags(d, u.slot, u.tags, (x) => tags.get(x)) : [];
    for (const t of slotTags) tags.set(t.digest, u.slot);
    if (u.account) {
      if (u.account.status === "Suspended") fail("account_suspended", { slot: u.slot });
      if (accounts.has(u.account.id)) fail("account_already_assigned", { slot: u.slot });
      accounts.set(u.account.id, u.slot);
    }
    let next: Slot = {
      number: u.slot,
      label: u.label !== undefined ? validLabel(d, u.label, false) : defaultLabel(u.slot),
      role,
      codeDigest,
      partitions: u.partitions ? checkPartitions(d, u.partitions) : d.table.allPartitions(),
      schedule: u.schedule ? checkSchedule(u.schedule) : { kind: "always" },
      doorLocks: u.doorLocks ? checkDoorLocks(d, u.doorLocks) : [],
      tags: slotTags,
      account: u.account ?? null,
      version: old.version,
      updatedAt: old.updatedAt,
    };
    next = withRolePartitions(d, next);
    targets.set(u.slot, next);
  }
  const added: number[] = [];
  const changed: number[] = [];
  const removed: number[] = [];
  for (const [n, next] of targets) {
    const old = d.table.slot(n);
    if (old.codeDigest === null) added.push(n);
    else if (!sameSlot(old, next)) changed.push(n);
    else continue;
    write(d, next);
  }
  for (const old of d.table.storedSlots()) {
    if (targets.has(old.number)) continue;
    removed.push(old.number);
    write(d, { ...defaultSlot(type, old.number), version: old.version });
  }
  const sort = (a: number[]) => a.sort((x, y) => x - y);
  d.events.push({ type: "snapshot_applied", at: d.ctx.now, added: sort(added), changed: sort(changed), removed: sort(removed) });
}

function sameSlot(a: Slot, b: Slot): boolean {
  return a.codeDigest === b.codeDigest && JSON.stringify(slotView({ ...a, version: 0 })) === JSON.stringify(slotView({ ...b, version: 0 })) &&
    JSON.stringify(a.tags) === JSON.stringify(b.tags);
}

/**
 * Applies one command to the table, without changing it: returns the change set, the action-log
 * entries and the events, or the rejection (with its own action-log entry). Pure: no IO, no clock.
 */
export function applyCommand(table: PanelTable, cmd: Command, ctx: ApplyContext): Outcome {
  const d: Draft = { table, ctx, cmd, slots: new Map(), meta: [], events: [] };
  try {
    authorise(d);
    if (cmd.expectedVersion !== undefined && "slot" in cmd) {
      const v = table.slot(cmd.slot).version;
      if (v !== cmd.expectedVersion) fail("version_conflict", { slot: cmd.slot, version: v });
    }
    (handlers[cmd.kind] as Handler<CommandKind>)(d, cmd);
    if (cmd.actor.kind === "dealer") markDealerSession(d);
  } catch (err) {
    if (err instanceof Reject) return reject(cmd, ctx, err.code, err.detail);
    throw err;
  }
  const slotChanges = [...d.slots.values()];
  const log: ActionLogEntry[] = [];
  if (cmd.kind === "snapshot") {
    log.push({ at: ctx.now, actor: cmd.actor, action: cmd.kind, slot: null, before: null, after: null, commandId: cmd.id, result: "ok" });
  }
  for (const c of slotChanges) {
    const diff = diffViews(c.before, c.after);
    log.push({ at: ctx.now, actor: cmd.actor, action: cmd.kind, slot: c.after.number, before: diff.before, after: diff.after, commandId: cmd.id, result: "ok" });
    if (cmd.actor.kind === "keypad_user") {
      d.events.push({ type: "local_change", at: ctx.now, actor: cmd.actor, action: cmd.kind, slot: c.after.number, after: diff.after });
    }
  }
  if (READ_COMMANDS.has(cmd.kind)) return { ok: true, changes: { slots: [], meta: d.meta }, log: [], events: d.events, result: d.result ?? {} };
  if (slotChanges.length === 0 && cmd.kind !== "snapshot") {
    log.push({ at: ctx.now, actor: cmd.actor, action: cmd.kind, slot: "slot" in cmd ? cmd.slot : null, before: null, after: null, commandId: cmd.id, result: "ok" });
  }
  const result: CommandResult = { slots: slotChanges.map((c) => slotView(c.after)) };
  const snap = d.events.find((e) => e.type === "snapshot_applied");
  if (snap && snap.type === "snapshot_applied") {
    result.added = snap.added;
    result.changed = snap.changed;
    result.removed = snap.removed;
    delete result.slots;
  }
  return { ok: true, changes: { slots: slotChanges, meta: d.meta }, log, events: d.events, result };
}
