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
 * Digests are looked up in a compact hash table (digest-table.ts) whose tag comparison has no
 * early exit; the probe position depends on an HMAC under a key the caller does not know, so
 * lookup timing reveals nothing about stored codes. The plaintext lives only inside the hasher.
 */
import { oneTimeKey } from "../domain/apply.js";
import type { Slot } from "../domain/model.js";
import { ROLE_PERMISSIONS, ROLES, type Role } from "../domain/panel-types.js";
import type { CredentialHasher, Secret } from "../domain/secret.js";
import type { ChangeSet, MetaValue, PanelTable } from "../domain/table.js";
import { Lockout, NO_EFFECTS, type LockoutEffect, type LockoutEvent, type LockoutPolicy, type LockoutSnapshot } from "./lockout.js";
import { DigestTable, readTag } from "./digest-table.js";
import { compileSchedule, LocalClock, weekMinuteInsidePool, type CompiledSchedule } from "./schedule.js";

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
const NO_TAGS: readonly string[] = Object.freeze([]);
/** Partitions 1..32 map to bits 0..31; the largest panel type has 32. */
const MAX_MASK_PARTITION = 32;

function partitionMask(partitions: readonly number[]): number {
  let mask = 0;
  for (const p of partitions) if (Number.isInteger(p) && p >= 1 && p <= MAX_MASK_PARTITION) mask |= 1 << (p - 1);
  return mask | 0;
}

/** What a check needs about an entry besides its partitions, packed into one int (kept in the digest buckets). */
const F_HAS_CODE = 1 << 0;
const F_ARM = 1 << 1;
const F_DISARM = 1 << 2;
const F_OPEN = 1 << 3;
const F_ALL_PARTITIONS = 1 << 4;
const F_DURESS = 1 << 5;
const F_ONE_TIME = 1 << 6;
const F_WEEKLY = 1 << 7;
const F_TEMPORARY = 1 << 8;
const ROLE_SHIFT = 12;

/** One indexed slot: the cold data a check reads only off the common path. */
class Entry {
  constructor(
    readonly slot: number,
    readonly codeDigest: string | null,
    readonly keypadTags: readonly string[],
    readonly doorTags: readonly string[],
    readonly schedule: CompiledSchedule,
    /** Offset of the weekly intervals in the index's pool; -1 unless weekly. Moves on compaction. */
    public weekOffset: number,
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
  readonly #pins: DigestTable;
  readonly #keypadTags = new DigestTable();
  readonly #doorTags = new DigestTable();
  /** Entries by entry number (dense, reused through #free); labels apart so a grant reads no Entry. */
  readonly #entries: (Entry | undefined)[] = [];
  readonly #labels: string[] = [];
  /** Temporary schedules' [from, to] by entry number, read without touching the Entry. */
  #temporal = new Float64Array(64);
  /** Every weekly schedule's intervals, [count, start, end, ...] per schedule (see weekMinuteInsidePool). */
  #week = new Int32Array(256);
  #weekUsed = 0;
  #weekGarbage = 0;
  readonly #free: number[] = [];
  readonly #bySlot = new Map<number, number>();
  /** Mirror of the table's meta (small: one-time days and a few panel-wide values). */
  readonly #meta = new Map<string, MetaValue>();
  /** One-time disarms granted but not yet seen committed: meta key -> local day. */
  readonly #pendingOneTime = new Map<string, string>();
  /** Confirms a full digest when two stored digests share a tag (see digest-table.ts). */
  readonly #confirm = (entry: number, digest: string): boolean => {
    const e = this.#entries[entry];
    return e !== undefined && (e.codeDigest === digest || e.keypadTags.includes(digest) || e.doorTags.includes(digest));
  };

  constructor(table: PanelTable, options: AccessIndexOptions) {
    this.#hash = options.hash;
    this.lockout = new Lockout(options.lockoutPolicy, options.lockoutState);
    this.clock = new LocalClock(table.config.timeZone);
    this.#oneTimeApplies = table.type.oneTimeRule === "disarm_once_per_local_day";
    this.#panelLocks = new Set(table.config.doorLocks);
    this.#pins = new DigestTable(table.storedCount);
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
      const n = this.#bySlot.get(c.after.number);
      // A change that leaves everything a check reads alone (a label, an account) keeps the entry.
      if (n !== undefined && sameAccess(c.before, c.after)) {
        this.#labels[n] = c.after.label;
        continue;
      }
      this.#remove(c.after.number);
      this.#add(c.after);
    }
    for (const m of changes.meta) this.#setMeta(m.key, m.after);
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
    const table = req.credential.kind === "pin" ? this.#pins : point.kind === "keypad" ? this.#keypadTags : this.#doorTags;
    const bucket = readTag(digest) ? table.find(digest, this.#confirm) : -1;
    if (bucket < 0) return this.#deny(req, scope, pointId, "unknown_credential", -1, 0, 0);

    const entry = table.entry(bucket);
    const flags = table.flags(bucket);
    const slot = table.slot(bucket);
    const reason = this.#refusal(req, entry, flags, table.partitionMask(bucket), table.aux(bucket));
    if (reason !== null) return this.#deny(req, scope, pointId, reason, entry, flags, slot);

    const isOneTimeDisarm = (flags & F_ONE_TIME) !== 0 && req.action === "disarm";
    let localDay = "";
    if (isOneTimeDisarm) {
      localDay = this.clock.localDay(at);
      const key = this.#entries[entry]!.oneTimeKey!;
      if (this.#meta.get(key) === localDay || this.#pendingOneTime.get(key) === localDay) {
        return this.#deny(req, scope, pointId, "one_time_used", entry, flags, slot);
      }
      this.#pendingOneTime.set(key, localDay);
    }

    const effects = this.lockout.recordSuccess(scope, pointId, at);
    const duress = (flags & F_DURESS) !== 0;
    const role = ROLES[flags >>> ROLE_SHIFT]!;
    const label = this.#labels[entry]!;
    if (!isOneTimeDisarm && !duress) {
      // The common answer: one small object; events and effects are shared frozen arrays when empty.
      return { granted: true, reason: null, slot, label, role, duress: false, events: NO_EVENTS, lockoutEffects: effects };
    }
    const events: readonly AccessEvent[] = duress ? [{ type: "duress", at, slot, point: copyPoint(point) }] : NO_EVENTS;
    return {
      granted: true,
      reason: null,
      slot,
      label,
      role,
      duress,
      ...(isOneTimeDisarm ? { oneTimeUse: { slot, localDay } } : {}),
      events,
      lockoutEffects: effects,
    };
  }

  /** The first rule (in the documented order) that refuses this entry, or null. */
  #refusal(req: AccessRequest, entry: number, flags: number, held: number, weekOffset: number): DenialReason | null {
    if ((flags & F_HAS_CODE) === 0) return "no_code";
    const point = req.point;
    if (point.kind === "keypad") {
      if ((flags & (req.action === "arm" ? F_ARM : req.action === "disarm" ? F_DISARM : 0)) === 0) return "role_not_permitted";
      if ((flags & F_ALL_PARTITIONS) === 0) {
        const parts = point.partitions;
        if (parts.length === 0) return "partition_not_allowed";
        for (let i = 0; i < parts.length; i++) {
          const p = parts[i]!;
          if (!(p >= 1 && p <= MAX_MASK_PARTITION) || ((held >>> (p - 1)) & 1) === 0) return "partition_not_allowed";
        }
      }
    } else {
      if (req.action !== "open" || (flags & F_OPEN) === 0) return "role_not_permitted";
      if (!this.#panelLocks.has(point.lockId)) return "lock_not_assigned";
      if ((flags & F_ALL_PARTITIONS) === 0 && !this.#entries[entry]!.doorLocks.has(point.lockId)) return "lock_not_assigned";
    }
    if ((flags & F_TEMPORARY) !== 0) {
      const at = req.at;
      if (at < this.#temporal[2 * entry]!) return "not_yet_valid";
      if (at >= this.#temporal[2 * entry + 1]!) return "expired";
      return null;
    }
    if ((flags & F_WEEKLY) !== 0) return weekMinuteInsidePool(this.#week, weekOffset, this.clock.weekMinute(req.at)) ? null : "outside_schedule";
    return null;
  }

  #deny(req: AccessRequest, scope: "keypad" | "door", pointId: string, reason: DenialReason, entry: number, flags: number, slot: number): AccessResult {
    const outcome = this.lockout.recordFailure(scope, pointId, req.at);
    const known = entry >= 0;
    // One shape for every denial (absent fields are undefined), so the hot path stays monomorphic.
    return {
      granted: false,
      reason,
      slot: known ? slot : undefined,
      label: known ? this.#labels[entry]! : undefined,
      role: known ? ROLES[flags >>> ROLE_SHIFT]! : undefined,
      lockedForMs: outcome.lockedForMs > 0 ? outcome.lockedForMs : undefined,
      events: outcome.events,
      lockoutEffects: outcome.effects,
    };
  }

  #setMeta(key: string, value: MetaValue | undefined): void {
    if (value === undefined) this.#meta.delete(key);
    else this.#meta.set(key, value);
    this.#pendingOneTime.delete(key);
  }

  #remove(slotNumber: number): void {
    const n = this.#bySlot.get(slotNumber);
    if (n === undefined) return;
    const entry = this.#entries[n]!;
    if (entry.codeDigest !== null) this.#pins.remove(entry.codeDigest, n);
    for (const d of entry.keypadTags) this.#keypadTags.remove(d, n);
    for (const d of entry.doorTags) this.#doorTags.remove(d, n);
    if (entry.weekOffset >= 0) this.#weekGarbage += this.#week[entry.weekOffset]! * 2 + 1;
    this.#entries[n] = undefined;
    this.#labels[n] = "";
    this.#free.push(n);
    this.#bySlot.delete(slotNumber);
  }

  #add(slot: Slot): void {
    if (slot.codeDigest === null && slot.tags.length === 0) return;
    const permissions = ROLE_PERMISSIONS[slot.role];
    const schedule = compileSchedule(slot.schedule);
    const oneTime = this.#oneTimeApplies && slot.role === "One-time User";
    // Most users have no tags: they share one empty list.
    const keypadTags = slot.tags.length === 0 ? NO_TAGS : slot.tags.filter((t) => t.kind === "keypad").map((t) => t.digest);
    const doorTags = slot.tags.length === 0 ? NO_TAGS : slot.tags.filter((t) => t.kind !== "keypad").map((t) => t.digest);

    const n = this.#free.pop() ?? this.#entries.length;
    const entry = new Entry(
      slot.number,
      slot.codeDigest,
      keypadTags,
      doorTags,
      schedule,
      schedule.kind === 1 ? this.#storeWeek(schedule.intervals) : -1,
      slot.doorLocks.length === 0 ? NO_LOCKS : new Set(slot.doorLocks),
      oneTime ? oneTimeKey(slot.number) : null,
    );
    this.#entries[n] = entry;
    this.#labels[n] = slot.label;
    if (2 * n + 1 >= this.#temporal.length) {
      const temporal = new Float64Array(Math.max(this.#temporal.length * 2, 2 * n + 2));
      temporal.set(this.#temporal);
      this.#temporal = temporal;
    }
    this.#temporal[2 * n] = schedule.from;
    this.#temporal[2 * n + 1] = schedule.to;

    const flags =
      (slot.codeDigest !== null ? F_HAS_CODE : 0) |
      (permissions.arm ? F_ARM : 0) |
      (permissions.disarm ? F_DISARM : 0) |
      (permissions.openDoor ? F_OPEN : 0) |
      (permissions.allPartitions ? F_ALL_PARTITIONS : 0) |
      (permissions.duress ? F_DURESS : 0) |
      (oneTime ? F_ONE_TIME : 0) |
      (schedule.kind === 1 ? F_WEEKLY : 0) |
      (schedule.kind === 2 ? F_TEMPORARY : 0) |
      (ROLES.indexOf(slot.role) << ROLE_SHIFT);
    const mask = partitionMask(slot.partitions);
    // A digest that is not base64url cannot come from the hasher; it is simply not indexed.
    const aux = entry.weekOffset;
    if (slot.codeDigest !== null) this.#pins.insert(slot.codeDigest, n, mask, flags, aux, slot.number);
    for (const d of keypadTags) this.#keypadTags.insert(d, n, mask, flags, aux, slot.number);
    for (const d of doorTags) this.#doorTags.insert(d, n, mask, flags, aux, slot.number);
    this.#bySlot.set(slot.number, n);
  }

  /** Appends intervals to the weekly pool; compacts first when half of it is garbage. */
  #storeWeek(intervals: Int32Array): number {
    const size = intervals.length + 1;
    if (this.#weekGarbage > 4096 && this.#weekGarbage * 2 > this.#weekUsed) this.#compactWeek();
    if (this.#weekUsed + size > this.#week.length) {
      const grown = new Int32Array(Math.max(this.#week.length * 2, this.#weekUsed + size));
      grown.set(this.#week.subarray(0, this.#weekUsed));
      this.#week = grown;
    }
    const offset = this.#weekUsed;
    this.#week[offset] = intervals.length >> 1;
    this.#week.set(intervals, offset + 1);
    this.#weekUsed += size;
    return offset;
  }

  /** Rewrites the pool without removed schedules and points the buckets at the new offsets. */
  #compactWeek(): void {
    const old = this.#week;
    const pool = new Int32Array(Math.max(256, (this.#weekUsed - this.#weekGarbage) * 2));
    let used = 0;
    for (let n = 0; n < this.#entries.length; n++) {
      const e = this.#entries[n];
      if (e === undefined || e.weekOffset < 0) continue;
      const size = old[e.weekOffset]! * 2 + 1;
      pool.set(old.subarray(e.weekOffset, e.weekOffset + size), used);
      e.weekOffset = used;
      if (e.codeDigest !== null) this.#pins.setAux(e.codeDigest, n, used);
      for (const d of e.keypadTags) this.#keypadTags.setAux(d, n, used);
      for (const d of e.doorTags) this.#doorTags.setAux(d, n, used);
      used += size;
    }
    this.#week = pool;
    this.#weekUsed = used;
    this.#weekGarbage = 0;
  }
}

function copyPoint(point: AccessPoint): AccessPoint {
  return point.kind === "keypad" ? { kind: "keypad", id: point.id, partitions: [...point.partitions] } : { kind: "door", lockId: point.lockId };
}

/**
 * The keypad-backend answer (src/keypad/backend.ts AccessAnswer) for a result: nothing more than a
 * keypad may know. `reason` and a denied `slot` are for the agent's own log (local, secret-free);
 * what the keypad shows is the keypad session's alone (src/keypad/session.ts): every denial the
 * same "Access denied", a lock its seconds, a grant the label.
 */
export function accessAnswer(result: AccessResult): { granted: boolean; label?: string; slot?: number; lockedForMs?: number; reason?: DenialReason } {
  if (result.granted) return { granted: true, label: result.label!, slot: result.slot! };
  const known = result.slot !== undefined ? { slot: result.slot } : {};
  if (result.lockedForMs !== undefined && result.lockedForMs > 0) return { granted: false, lockedForMs: result.lockedForMs, ...(result.reason ? { reason: result.reason } : {}), ...known };
  return { granted: false, ...(result.reason ? { reason: result.reason } : {}), ...known };
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

/** Whether two states of a slot index identically (unchanged fields keep their objects in the rules). */
function sameAccess(a: Slot, b: Slot): boolean {
  return a.number === b.number && a.codeDigest === b.codeDigest && a.role === b.role && a.tags === b.tags && a.schedule === b.schedule && a.partitions === b.partitions && a.doorLocks === b.doorLocks;
}
