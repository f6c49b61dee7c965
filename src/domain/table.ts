import type { PanelConfig, Slot } from "./model.js";
import { PANEL_TYPES, type PanelType } from "./panel-types.js";

/** A slot change the rules decided on: the whole slot before and after (never-touched slots are defaults). */
export interface SlotChange {
  before: Slot;
  after: Slot;
}

/** Panel-wide state that is not a slot: one-time uses per local day, dealer access, etc. */
export type MetaValue = string | number | boolean | null | MetaValue[] | { [key: string]: MetaValue };

export interface MetaChange {
  key: string;
  before: MetaValue | undefined;
  after: MetaValue | undefined;
}

export interface ChangeSet {
  slots: SlotChange[];
  meta: MetaChange[];
}

export function defaultLabel(slotNumber: number): string {
  return `User ${slotNumber}`;
}

export function defaultSlot(type: PanelType, number: number): Slot {
  return {
    number,
    label: defaultLabel(number),
    role: type.masterSlots.includes(number) ? "Master" : type.defaultRole,
    codeDigest: null,
    partitions: [],
    schedule: { kind: "always" },
    doorLocks: [],
    tags: [],
    account: null,
    version: 0,
    updatedAt: 0,
  };
}

/** A slot that carries nothing but its version is not stored. */
export function isBlank(slot: Slot): boolean {
  return slot.codeDigest === null && slot.account === null && slot.tags.length === 0 && slot.doorLocks.length === 0;
}

/**
 * The in-memory user table: the slots plus the lookups every rule needs (code digest, tag digest
 * and account id -> slot). Rules read it; only `commit`/`revert` change it, from a ChangeSet.
 */
export class PanelTable {
  readonly config: PanelConfig;
  readonly type: PanelType;
  readonly #slots = new Map<number, Slot>();
  readonly #byCode = new Map<string, number>();
  readonly #byTag = new Map<string, number>();
  readonly #byAccount = new Map<string, number>();
  readonly #meta = new Map<string, MetaValue>();

  constructor(config: PanelConfig, slots: Iterable<Slot> = [], meta: Iterable<[string, MetaValue]> = []) {
    this.config = config;
    this.type = PANEL_TYPES[config.type];
    for (const slot of slots) this.#put(slot);
    for (const [k, v] of meta) this.#meta.set(k, v);
  }

  slot(number: number): Slot {
    return this.#slots.get(number) ?? defaultSlot(this.type, number);
  }

  /** Slots that carry anything (code, account, tags), by number. */
  storedSlots(): IterableIterator<Slot> {
    return this.#slots.values();
  }

  get storedCount(): number {
    return this.#slots.size;
  }

  slotByCodeDigest(digest: string): number | undefined {
    return this.#byCode.get(digest);
  }

  slotByTagDigest(digest: string): number | undefined {
    return this.#byTag.get(digest);
  }

  slotByAccount(accountId: string): number | undefined {
    return this.#byAccount.get(accountId);
  }

  meta(key: string): MetaValue | undefined {
    return this.#meta.get(key);
  }

  metaEntries(): IterableIterator<[string, MetaValue]> {
    return this.#meta.entries();
  }

  /** How many slots exist on the panel (code set). */
  activeCount(): number {
    let n = 0;
    for (const s of this.#slots.values()) if (s.codeDigest !== null) n++;
    return n;
  }

  /** Sorted numbers of slots that exist on the panel (code set). */
  activeSlotNumbers(): number[] {
    const out: number[] = [];
    for (const s of this.#slots.values()) if (s.codeDigest !== null) out.push(s.number);
    return out.sort((a, b) => a - b);
  }

  /** Partitions in use on this panel. */
  get partitionCount(): number {
    return partitionsInUse(this.config).length;
  }

  allPartitions(): number[] {
    return partitionsInUse(this.config);
  }

  commit(changes: ChangeSet): void {
    for (const c of changes.slots) this.#replace(c.before, c.after);
    for (const m of changes.meta) this.#setMeta(m.key, m.after);
  }

  /** Undoes a committed ChangeSet (a failed transaction). */
  revert(changes: ChangeSet): void {
    for (let i = changes.meta.length - 1; i >= 0; i--) {
      const m = changes.meta[i]!;
      this.#setMeta(m.key, m.before);
    }
    for (let i = changes.slots.length - 1; i >= 0; i--) {
      const c = changes.slots[i]!;
      this.#replace(c.after, c.before);
    }
  }

  #setMeta(key: string, value: MetaValue | undefined): void {
    if (value === undefined) this.#meta.delete(key);
    else this.#meta.set(key, value);
  }

  #replace(before: Slot, after: Slot): void {
    const current = this.#slots.get(before.number);
    if (current) this.#unindex(current, isBlank(after) ? null : after);
    // Overwrite in place: a delete + set per change churns the Map's hash table on bulk updates.
    if (!isBlank(after)) this.#put(after);
    else this.#slots.delete(after.number);
  }

  /** Drops the index entries of `current` that `next` (its replacement, if any) does not keep. */
  #unindex(current: Slot, next: Slot | null): void {
    const code = current.codeDigest;
    if (code !== null && code !== next?.codeDigest && this.#byCode.get(code) === current.number) this.#byCode.delete(code);
    for (const t of current.tags) if (this.#byTag.get(t.digest) === current.number) this.#byTag.delete(t.digest);
    const account = current.account?.id;
    if (account !== undefined && account !== next?.account?.id && this.#byAccount.get(account) === current.number) this.#byAccount.delete(account);
  }

  #put(slot: Slot): void {
    this.#slots.set(slot.number, slot);
    if (slot.codeDigest !== null) this.#byCode.set(slot.codeDigest, slot.number);
    for (const t of slot.tags) this.#byTag.set(t.digest, slot.number);
    if (slot.account) this.#byAccount.set(slot.account.id, slot.number);
  }
}

/** The partitions a panel uses: 1..N, N from the config (at most the type's), all the type's by default. */
export function partitionsInUse(config: PanelConfig): number[] {
  const type = PANEL_TYPES[config.type];
  return Array.from({ length: Math.min(config.partitions ?? type.partitions, type.partitions) }, (_, i) => i + 1);
}
