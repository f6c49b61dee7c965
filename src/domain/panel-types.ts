/**
 * The panel types the agent knows, in one table: roles, capacity, code lengths, partitions,
 * label length and credential support. Everything type-specific is read from here; no rule
 * branches on a panel type name.
 *
 * Vendor figures (cited; where a figure is our interpretation it says so):
 * - DSC PowerSeries Neo (HS2128/HS2064/HS2032/HS2016) reference manual: up to 1000 access codes on
 *   HS2128 (95 on HS2064, 72 on HS2032, 48 on HS2016), 4- or 6-digit codes chosen for the whole
 *   panel (section [041]), up to 8 partitions, 14-character user labels on LCD keypads. Code 1 is
 *   the Master code. One-time-use access code attribute (Neo user manual, "Access code
 *   attributes"; paraphrased, the manual itself could not be consulted from here): the code arms
 *   at any time but disarms only once per day, the allowance returning at midnight. We model the
 *   HS2128.
 *   8-digit codes exist only on PowerSeries Pro, not Neo, so they are refused here.
 * - NeoR: the Neo family as listed by the seed Users tab (same roles); same figures as DSC Neo.
 * - Qolsys IQ Panel 4: 242 user codes, 4- or 6-digit codes, 4 partitions. The 16-character label
 *   limit is our interpretation (the IQ4 UI truncates longer names).
 * - Dual Path: a communicator path with the Master role only (seed Users tab); one slot, the
 *   Master code (our interpretation of "Master only").
 * - Visonic PowerMaster-30: 48 user codes, 4 digits, "0000" is not accepted, 3 partitions.
 *   The 10-character label limit is our interpretation.
 * - "site": not a vendor panel. A type for large access-control sites and the benchmarks, so the
 *   100k-user figures run through the same code path as real panels.
 */

export const ROLES = [
  "Master",
  "Supervisor",
  "User",
  "One-time User",
  "Duress",
  "DwellerMaster",
  "Guest",
  "Installer",
  "Dealer",
] as const;
export type Role = (typeof ROLES)[number];

export const PANEL_TYPE_IDS = ["DSC", "NeoR", "Qolsys IQ", "Dual Path", "Visonic", "site"] as const;
export type PanelTypeId = (typeof PANEL_TYPE_IDS)[number];

export type TagKind = "keypad" | "doorlock";

export interface PanelType {
  readonly id: PanelTypeId;
  readonly roles: readonly Role[];
  /** The role a slot gets when its code is first set. */
  readonly defaultRole: Role;
  /** Slot numbers 1..capacity. */
  readonly capacity: number;
  /** Slots that are the Master user and keep that role. */
  readonly masterSlots: readonly number[];
  /** Code lengths the panel can be configured for; one length applies to the whole panel. */
  readonly codeLengths: readonly number[];
  /** Codes the panel refuses outright. */
  readonly refusedCodes: readonly string[];
  readonly partitions: number;
  readonly labelLength: number;
  readonly tagKinds: readonly TagKind[];
  readonly maxTagsPerUser: number;
  /** How a One-time User may disarm; null where the type has no such role. */
  readonly oneTimeRule: "disarm_once_per_local_day" | null;
}

const dscNeo = {
  roles: ["Master", "Supervisor", "User", "One-time User", "Duress"],
  defaultRole: "User",
  capacity: 1000,
  masterSlots: [1],
  codeLengths: [4, 6],
  refusedCodes: [],
  partitions: 8,
  labelLength: 14,
  tagKinds: ["keypad", "doorlock"],
  maxTagsPerUser: 2,
  oneTimeRule: "disarm_once_per_local_day",
} as const satisfies Omit<PanelType, "id">;

export const PANEL_TYPES: Readonly<Record<PanelTypeId, PanelType>> = {
  DSC: { id: "DSC", ...dscNeo },
  NeoR: { id: "NeoR", ...dscNeo },
  "Qolsys IQ": {
    id: "Qolsys IQ",
    roles: ["Master", "DwellerMaster", "User", "Guest", "Installer", "Duress", "Dealer"],
    defaultRole: "User",
    capacity: 242,
    masterSlots: [1],
    codeLengths: [4, 6],
    refusedCodes: [],
    partitions: 4,
    labelLength: 16,
    tagKinds: ["doorlock"],
    maxTagsPerUser: 1,
    oneTimeRule: null,
  },
  "Dual Path": {
    id: "Dual Path",
    roles: ["Master"],
    defaultRole: "Master",
    capacity: 1,
    masterSlots: [1],
    codeLengths: [4, 6],
    refusedCodes: [],
    partitions: 1,
    labelLength: 16,
    tagKinds: [],
    maxTagsPerUser: 0,
    oneTimeRule: null,
  },
  Visonic: {
    id: "Visonic",
    roles: ["Master", "User"],
    defaultRole: "User",
    capacity: 48,
    masterSlots: [1],
    codeLengths: [4],
    refusedCodes: ["0000"],
    partitions: 3,
    labelLength: 10,
    tagKinds: ["keypad"],
    maxTagsPerUser: 1,
    oneTimeRule: null,
  },
  site: {
    id: "site",
    roles: ["Master", "Supervisor", "User", "One-time User", "Duress"],
    defaultRole: "User",
    capacity: 200_000,
    masterSlots: [1],
    codeLengths: [4, 5, 6, 7, 8],
    refusedCodes: [],
    partitions: 32,
    labelLength: 32,
    tagKinds: ["keypad", "doorlock"],
    maxTagsPerUser: 4,
    oneTimeRule: "disarm_once_per_local_day",
  },
};

/** What each role may do. Master may do everything; `allPartitions` means partitions are not checked. */
export interface RolePermissions {
  readonly arm: boolean;
  readonly disarm: boolean;
  readonly openDoor: boolean;
  readonly programUsers: boolean;
  readonly grantDealer: boolean;
  readonly allPartitions: boolean;
  /** Access plus a silent duress event. */
  readonly duress: boolean;
}

const p = (arm: boolean, disarm: boolean, openDoor: boolean, programUsers = false, grantDealer = false, allPartitions = false, duress = false): RolePermissions =>
  ({ arm, disarm, openDoor, programUsers, grantDealer, allPartitions, duress });

export const ROLE_PERMISSIONS: Readonly<Record<Role, RolePermissions>> = {
  Master: p(true, true, true, true, true, true),
  Supervisor: p(true, true, true, true),
  User: p(true, true, true),
  // DSC: arms at any time, disarms once per local day (the once-per-day rule lives in the access check).
  "One-time User": p(true, true, false),
  Duress: p(true, true, true, false, false, false, true),
  DwellerMaster: p(true, true, true, true),
  Guest: p(true, true, true),
  // Qolsys installer/dealer codes reach installer programming, not user codes or the alarm system.
  Installer: p(false, false, false),
  Dealer: p(false, false, false),
};

export function panelType(id: PanelTypeId): PanelType {
  return PANEL_TYPES[id];
}
