import type { PanelTypeId, Role, TagKind } from "./panel-types.js";

/** Minutes since local midnight, 0..1440. */
export type MinuteOfDay = number;

/**
 * A weekly window: on each listed local weekday (0 = Sunday .. 6 = Saturday) from `start` to `end`
 * minutes after local midnight. `end <= start` means the window crosses midnight and ends on the
 * next day (the weekday names the day the window starts).
 */
export interface WeeklyWindow {
  days: number[];
  start: MinuteOfDay;
  end: MinuteOfDay;
}

export type Schedule =
  | { kind: "always" }
  | { kind: "weekly"; windows: WeeklyWindow[] }
  /** Temporary access: valid from `from` (inclusive) to `to` (exclusive), epoch milliseconds. */
  | { kind: "temporary"; from: number; to: number };

export const ACCOUNT_STATUSES = ["Not confirmed", "Active", "Suspended"] as const;
export type AccountStatus = (typeof ACCOUNT_STATUSES)[number];

export interface Account {
  id: string;
  email: string;
  /** Account creation time, epoch ms. */
  createdAt: number;
  status: AccountStatus;
}

export interface ProximityTag {
  kind: TagKind;
  /** HMAC digest of the tag id; the id itself is never kept. */
  digest: string;
}

/** One user slot. A slot "exists on the panel" only while `codeDigest` is set. */
export interface Slot {
  number: number;
  label: string;
  role: Role;
  codeDigest: string | null;
  partitions: number[];
  schedule: Schedule;
  doorLocks: string[];
  tags: ProximityTag[];
  account: Account | null;
  /** Bumped on every change; commands may carry `expectedVersion`. */
  version: number;
  /** Epoch ms of the last change, 0 for a slot never touched. */
  updatedAt: number;
}

export interface PanelConfig {
  panelId: string;
  type: PanelTypeId;
  /** The one code length this panel is configured for (one of the type's code lengths). */
  codeLength: number;
  /** IANA time zone the panel's local time is read in. */
  timeZone: string;
  /** Door locks linked to this panel, by id. */
  doorLocks: string[];
  /** Partitions in use, 1..n (at most the type's); defaults to all of the type's partitions. */
  partitions?: number;
}

/** Non-secret view of a slot for logs, acks and the action log: digests never leave the table. */
export interface SlotView {
  number: number;
  label: string;
  role: Role;
  codeSet: boolean;
  partitions: number[];
  schedule: Schedule;
  doorLocks: string[];
  tags: { kind: TagKind }[];
  account: Account | null;
  version: number;
}

export function slotView(slot: Slot): SlotView {
  return {
    number: slot.number,
    label: slot.label,
    role: slot.role,
    codeSet: slot.codeDigest !== null,
    partitions: [...slot.partitions],
    schedule: slot.schedule,
    doorLocks: [...slot.doorLocks],
    tags: slot.tags.map((t) => ({ kind: t.kind })),
    account: slot.account,
    version: slot.version,
  };
}
