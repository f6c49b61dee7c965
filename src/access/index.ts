/**
 * The access-check hot path: a credential index kept in step with the user table, and `check()`.
 *
 * Rules decided here (the design leaves them to this module):
 * - Keypads: every partition the keypad acts on must be one of the slot's partitions (DSC keypads
 *   arm/disarm the partition(s) they are assigned to; acting on a partition the user does not
 *   hold would be a privilege escalation). A keypad with no partitions grants nobody but Master.
 *   Master (allPartitions) passes any partition.
 * - Doors: the lock must be linked to the panel (config.doorLocks) and listed in the slot's
 *   door locks; Master opens any linked lock. Only action "open" is meaningful at a door and only
 *   "arm"/"disarm" at a keypad; a mismatch is refused as role_not_permitted.
 * - Tags: keypad tags are credentials at keypads, doorlock tags at door locks (Yale L2/L3); a
 *   tag presented at the other kind of point is unknown there. A tag whose slot has no code set is
 *   refused with no_code (a slot exists on the panel only while its code is set).
 * - Order of refusals: no_code, role_not_permitted, partition_not_allowed / lock_not_assigned,
 *   not_yet_valid / expired / outside_schedule, one_time_used.
 * - Lockout: EVERY refusal of a presented credential counts as a failure, not only
 *   unknown_credential. Counting only unknown codes would let a guesser tell a real-but-refused
 *   code (expired, outside schedule, wrong partition) from a wrong one by when the lock arrives;
 *   real panels treat a code outside its schedule as an invalid code too. While locked nothing
 *   is evaluated (locked_out), and attempts during a lock are not counted.
 * - One-time User (panel types with oneTimeRule "disarm_once_per_local_day"): arms any number of
 *   times; a disarm is granted once per panel-local day. The grant carries `oneTimeUse`, which the
 *   shell must commit (record_one_time_use) BEFORE answering the keypad. The index reserves the
 *   day at once, so a second disarm racing the commit is refused; if the commit fails the shell
 *   calls `releaseOneTimeUse`. The allowance returns at local midnight (the local day changes).
 * - Duress: a grant like any other (the keypad cannot tell) plus a silent `duress` event.
 *
 * Digests are looked up in Maps, never compared byte by byte: the key is an HMAC under a key the
 * caller does not know, so lookup timing reveals nothing about stored codes. The plaintext lives
 * only inside the hasher call.
 */
import { oneTimeKey } from "../domain/apply.js";
import type { Slot } from "../domain/model.js";
import { ROLE_PERMISSIONS, type Role, type RolePermissions } from "../domain/panel-types.js";
import type { CredentialHasher, Secret } from "../domain/secret.js";
import type { ChangeSet, MetaValue, PanelTable } from "../domain/table.js";
import { Lockout, NO_EFFECTS, type LockoutEffect, type LockoutEvent, type LockoutPolicy, type LockoutSnapshot } from "./lockout.js";
import { compileSchedule, LocalClock, scheduleVerdict, type CompiledSchedule } from "./schedule.js";

export * from "./credential-hash.js";
export * from "./lockout.js";
export * from "./schedule.js";

export type AccessCredential = { kind: "pin" | "tag"; value: Secret };
export type AccessPoint = { kind: "keypad"; id: string; partitions: readonly number[] } | { kind: "door"; lockId: string };
export type AccessAction = "arm" | "disarm" | "open";

export interface AccessRequest {
  credential: AccessCredential;
  point: AccessPoint;
  action: AccessAction;
  /** The instant of the attempt, epoch ms. */
  at: number;
}

export const DENIAL_REASONS = [
  "unknown_credential",
  "no_code",
  "outside_schedule",
  "not_yet_valid",
  "expired",
  "partition_not_allowed",
  "lock_not_assigned",
  "role_not_permitted",
  "one_time_used",
  "locked_out",
] as const;
export type DenialReason = (typeof DENIAL_REASONS)[number];

export interface OneTimeUse {
  readonly slot: number;
  /** Panel-local day "YYYY-MM-DD", as record_one_time_use wants it. */
  readonly localDay: string;
}

export interface DuressEvent {
  readonly type: "duress";
  readonly at: number;
  readonly slot: number;
  readonly point: AccessPoint;
}

export type AccessEvent = DuressEvent | LockoutEvent;

export interface AccessResult {
  readonly granted: boolean;
  readonly reason: DenialReason | null;
  /** The slot the credential belongs to (absent for unknown credentials and lockouts). */
  readonly slot?: number;
  readonly label?: string;
  readonly role?: Role;
  /** True on a Duress grant; never shown at the keypad. */
  readonly duress?: boolean;
  /** A One-time User's disarm: commit record_one_time_use durably before answering. */
  readonly oneTimeUse?: OneTimeUse;
  /** Set when the point or the panel is (now) locked. */
  readonly lockedForMs?: number;
  /** Events beyond the answer itself (duress, lockout). The shell logs every check from request + result. */
  readonly events: readonly AccessEvent[];
  /** Lockout counter states to persist (see lockout.ts). */
  readonly lockoutEffects: readonly LockoutEffect[];
}

export interface AccessIndexOptions {
  hash: CredentialHasher;
  lockoutPolicy?: Partial<LockoutPolicy>;
  /** Counters as persisted before a restart. */
  lockoutState?: LockoutSnapshot;
}

const NO_EVENTS: readonly AccessEvent[] = Object.freeze([]);
const NO_LOCKS: ReadonlySet<string> = new Set<string>();
/** Partitions 1..32 map to bits 0..31; the largest panel type has 32. */
const MAX_MASK_PARTITION = 32;

function partitionMask(partitions: readonly number[]): number {
  let mask = 0;
  for (const p of partitions) if (Number.isInteger(p) && p >= 1 && p <= MAX_MASK_PARTITION) mask |= 1 << (p - 1);
  return mask >>> 0;
}

/** One indexed slot: everything a check reads, precomputed. */
class Entry {
  /** Lazily built, frozen result for a plain grant: the common answer allocates nothing. */
  grant: AccessResult | null = null;

  constructor(
    readonly slot: number,
    readonly label: string,
    readonly role: Role,
    readonly permissions: RolePermissions,
    readonly hasCode: boolean,
    readonly codeDigest: string | null,
    readonly keypadTags: readonly string[],
    readonly doorTags: readonly string[],
    readonly schedule: CompiledSchedule,
    readonly partitionMask: number,
    readonly doorLocks: ReadonlySet<string>,
    /** Meta key of the last one-time disarm; null unless the one-time rule applies. */
    readonly oneTimeKey: string | null,
  ) {}
}

export class AccessIndex {
  readonly lockout: Lockout;
  readonly clock: LocalClock;
  readonly #hash: CredentialHasher;
  readonly #oneTimeApplies: boolean;
  readonly #panelLocks: ReadonlySet<string>;
  readonly #bySlot = new Map<number, Entry>();
  readonly #byPin = new Map<string, Entry>();
  readonly #byKeypadTag = new Map<string, Entry>();
  readonly #byDoorTag = new Map<string, Entry>();
  /** Mirror of the table's meta (small: one-time days and a few panel-wide values). */
  readonly #meta = new Map<string, MetaValue>();
  /** One-time disarms granted but not yet seen committed: meta key -> local day. */
  readonly #pendingOneTime = new Map<string, string>();

  constructor(table: PanelTable, options: AccessIndexOptions) {
    this.#hash = options.hash;
    this.lockout = new Lockout(options.lockoutPolicy, options.lockoutState);
    this.clock = new LocalClock(table.config.timeZone);
    this.#oneTimeApplies = table.type.oneTimeRule === "disarm_once_per_local_day";
    this.#panelLocks = new Set(table.config.doorLocks);
    for (const slot of table.storedSlots()) this.#add(slot);
    for (const [key, value] of table.metaEntries()) this.#meta.set(key, value);
  }

  /** Indexed slots (those with a code or a tag). */
  get size(): number {
    return this.#bySlot.size;
  }

  /** Brings the index in step with a committed ChangeSet; touches only the slots it names. */
  applyChanges(changes: ChangeSet): void {
    for (const c of changes.slots) {
      this.#remove(c.after.number);
      this.#add(c.after);
    }
    for (const m of changes.meta) this.#setMeta(m.key, m.after);
  }

  /** Undoes applyChanges for a ChangeSet whose transaction failed (mirrors PanelTable.revert). */
  revertChanges(changes: ChangeSet): void {
    for (let i = changes.meta.length - 1; i >= 0; i--) {
      const m = changes.meta[i]!;
      this.#setMeta(m.key, m.before);
    }
    for (let i = changes.slots.length - 1; i >= 0; i--) {
      const c = changes.slots[i]!;
      this.#remove(c.before.number);
      this.#add(c.before);
    }
  }

  /** The shell could not commit a granted one-time disarm: give the day's allowance back. */
  releaseOneTimeUse(use: OneTimeUse): void {
    const key = oneTimeKey(use.slot);
    if (this.#pendingOneTime.get(key) === use.localDay) this.#pendingOneTime.delete(key);
  }

  check(req: AccessRequest): AccessResult {
    const { point, at } = req;
    const scope = point.kind;
    const pointId = point.kind === "keypad" ? point.id : point.lockId;

    const lockedFor = this.lockout.lockedForMs(scope, pointId, at);
    if (lockedFor > 0) return { granted: false, reason: "locked_out", lockedForMs: lockedFor, events: NO_EVENTS, lockoutEffects: NO_EFFECTS };

    const digest = this.#hash(req.credential.value);
    const entry =
      req.credential.kind === "pin" ? this.#byPin.get(digest) : point.kind === "keypad" ? this.#byKeypadTag.get(digest) : this.#byDoorTag.get(digest);
    if (entry === undefined) return this.#deny(req, scope, pointId, "unknown_credential", undefined);

    const reason = this.#refusal(entry, req);
    if (reason !== null) return this.#deny(req, scope, pointId, reason, entry);

    const isOneTimeDisarm = entry.oneTimeKey !== null && req.action === "disarm";
    let localDay = "";
    if (isOneTimeDisarm) {
      localDay = this.clock.localDay(at);
      const key = entry.oneTimeKey!;
      if (this.#meta.get(key) === localDay || this.#pendingOneTime.get(key) === localDay) {
        return this.#deny(req, scope, pointId, "one_time_used", entry);
      }
      this.#pendingOneTime.set(key, localDay);
    }

    const effects = this.lockout.recordSuccess(scope, pointId, at);
    if (!isOneTimeDisarm && !entry.permissions.duress && effects === NO_EFFECTS) {
      return (entry.grant ??= Object.freeze({
        granted: true,
        reason: null,
        slot: entry.slot,
        label: entry.label,
        role: entry.role,
        duress: false,
        events: NO_EVENTS,
        lockoutEffects: NO_EFFECTS,
      }));
    }
    const events: readonly AccessEvent[] = entry.permissions.duress ? [{ type: "duress", at, slot: entry.slot, point: copyPoint(point) }] : NO_EVENTS;
    return {
      granted: true,
      reason: null,
      slot: entry.slot,
      label: entry.label,
      role: entry.role,
      duress: entry.permissions.duress,
      ...(isOneTimeDisarm ? { oneTimeUse: { slot: entry.slot, localDay } } : {}),
      events,
      lockoutEffects: effects,
    };
  }

  /** The first rule (in the documented order) that refuses this entry, or null. */
  #refusal(entry: Entry, req: AccessRequest): DenialReason | null {
    if (!entry.hasCode) return "no_code";
    const perms = entry.permissions;
    const point = req.point;
    if (point.kind === "keypad") {
      if (req.action === "arm" ? !perms.arm : req.action === "disarm" ? !perms.disarm : true) return "role_not_permitted";
      if (!perms.allPartitions) {
        const parts = point.partitions;
        if (parts.length === 0) return "partition_not_allowed";
        const held = entry.partitionMask;
        for (let i = 0; i < parts.length; i++) {
          const p = parts[i]!;
          if (!(p >= 1 && p <= MAX_MASK_PARTITION) || ((held >>> (p - 1)) & 1) === 0) return "partition_not_allowed";
        }
      }
    } else {
      if (req.action !== "open" || !perms.openDoor) return "role_not_permitted";
      if (!this.#panelLocks.has(point.lockId)) return "lock_not_assigned";
      if (!perms.allPartitions && !entry.doorLocks.has(point.lockId)) return "lock_not_assigned";
    }
    return scheduleVerdict(entry.schedule, req.at, this.clock);
  }

  #deny(req: AccessRequest, scope: "keypad" | "door", pointId: string, reason: DenialReason, entry: Entry | undefined): AccessResult {
    const outcome = this.lockout.recordFailure(scope, pointId, req.at);
    return {
      granted: false,
      reason,
      ...(entry ? { slot: entry.slot, label: entry.label, role: entry.role } : {}),
      ...(outcome.lockedForMs > 0 ? { lockedForMs: outcome.lockedForMs } : {}),
      events: outcome.events.length === 0 ? NO_EVENTS : outcome.events,
      lockoutEffects: outcome.effects,
    };
  }

  #setMeta(key: string, value: MetaValue | undefined): void {
    if (value === undefined) this.#meta.delete(key);
    else this.#meta.set(key, value);
    this.#pendingOneTime.delete(key);
  }

  #remove(number: number): void {
    const entry = this.#bySlot.get(number);
    if (entry === undefined) return;
    // Only drop mappings that still point at this entry: within one ChangeSet a code may already
    // have moved to another slot.
    if (entry.codeDigest !== null && this.#byPin.get(entry.codeDigest) === entry) this.#byPin.delete(entry.codeDigest);
    for (const d of entry.keypadTags) if (this.#byKeypadTag.get(d) === entry) this.#byKeypadTag.delete(d);
    for (const d of entry.doorTags) if (this.#byDoorTag.get(d) === entry) this.#byDoorTag.delete(d);
    this.#bySlot.delete(number);
  }

  #add(slot: Slot): void {
    if (slot.codeDigest === null && slot.tags.length === 0) return;
    const permissions = ROLE_PERMISSIONS[slot.role];
    const keypadTags: string[] = [];
    const doorTags: string[] = [];
    for (const t of slot.tags) (t.kind === "keypad" ? keypadTags : doorTags).push(t.digest);
    const entry = new Entry(
      slot.number,
      slot.label,
      slot.role,
      permissions,
      slot.codeDigest !== null,
      slot.codeDigest,
      keypadTags,
      doorTags,
      compileSchedule(slot.schedule),
      partitionMask(slot.partitions),
      slot.doorLocks.length === 0 ? NO_LOCKS : new Set(slot.doorLocks),
      this.#oneTimeApplies && slot.role === "One-time User" ? oneTimeKey(slot.number) : null,
    );
    this.#bySlot.set(slot.number, entry);
    if (slot.codeDigest !== null) this.#byPin.set(slot.codeDigest, entry);
    for (const d of keypadTags) this.#byKeypadTag.set(d, entry);
    for (const d of doorTags) this.#byDoorTag.set(d, entry);
  }
}

function copyPoint(point: AccessPoint): AccessPoint {
  return point.kind === "keypad" ? { kind: "keypad", id: point.id, partitions: [...point.partitions] } : { kind: "door", lockId: point.lockId };
}

/** What a keypad may show for a result. `kind` is the stable code; `text` the display line. */
export interface KeypadDisplay {
  kind: "granted" | "denied" | "locked";
  text: string;
}

/**
 * The keypad display: a lock shows its remaining seconds, every other denial the same words (no
 * reason leaks to the person at the keypad), a grant the slot's label. Duress looks like any grant.
 */
export function keypadDisplay(result: AccessResult): KeypadDisplay {
  if (!result.granted && result.lockedForMs !== undefined && result.lockedForMs > 0) {
    return { kind: "locked", text: `Keypad locked ${Math.ceil(result.lockedForMs / 1000)} s` };
  }
  if (!result.granted) return { kind: "denied", text: "Access denied" };
  return { kind: "granted", text: `Access granted — ${result.label ?? ""}` };
}

/** The keypad-backend answer (src/keypad/backend.ts AccessAnswer) for a result: nothing more than a keypad may know. */
export function accessAnswer(result: AccessResult): { granted: boolean; label?: string; slot?: number; lockedForMs?: number } {
  if (result.granted) return { granted: true, label: result.label!, slot: result.slot! };
  if (result.lockedForMs !== undefined && result.lockedForMs > 0) return { granted: false, lockedForMs: result.lockedForMs };
  return { granted: false };
}

/** A log/outbox record of one check: no credential, only its kind. */
export interface AccessRecord {
  type: "access";
  at: number;
  point: AccessPoint;
  action: AccessAction;
  credentialKind: "pin" | "tag";
  granted: boolean;
  reason: DenialReason | null;
  slot: number | null;
}

export function accessRecord(req: AccessRequest, result: AccessResult): AccessRecord {
  return {
    type: "access",
    at: req.at,
    point: copyPoint(req.point),
    action: req.action,
    credentialKind: req.credential.kind,
    granted: result.granted,
    reason: result.reason,
    slot: result.slot ?? null,
  };
}
