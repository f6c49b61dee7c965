import type { Secret } from "../domain/secret.js";

/**
 * What the keypad socket needs from the agent. The socket server (src/keypad/server.ts) turns key
 * presses into these calls; the agent (src/agent.ts) implements them with the access index, the
 * store and the same rules as cloud commands. Every method answers; none throws for a denial.
 */
export type KeypadAction = "arm_stay" | "arm_away" | "disarm" | "open";

export interface KeypadIdentity {
  keypadId: string;
  /** Partitions this keypad is assigned to (switchable at the keypad). */
  partitions: number[];
}

export type Credential = { kind: "pin"; value: Secret } | { kind: "tag"; value: Secret };

export interface AccessAnswer {
  granted: boolean;
  /** Shown on a grant ("Access granted — User 4"); never shown for a denial. */
  label?: string;
  slot?: number;
  /** Set when the keypad (or the panel) is locked out; the only denial detail a keypad may show. */
  lockedForMs?: number;
  /** Why a denial was denied (unknown_credential, outside_schedule, ...): the agent's log only, never the display. */
  reason?: string;
}

export type ProgramOp =
  /**
   * Asked when a user number is entered (before the code, partitions or delete): authenticates
   * the programmer like any change and answers whether the user number exists on the panel
   * (`slot_out_of_range` when not) and is in use (`inUse`). Changes nothing.
   */
  | { kind: "check_user"; slot: number }
  | { kind: "set_code"; slot: number; code: Secret }
  | { kind: "disable_user"; slot: number }
  | { kind: "set_partitions"; slot: number; partitions: number[] };

export interface ProgramAnswer {
  ok: boolean;
  /** Stable error code when refused (e.g. code_in_use, master_required, permission_denied). */
  error?: string;
  message?: string;
  /** check_user: the user number has a code set (a user exists there). */
  inUse?: boolean;
}

export interface PartitionStatus {
  partition: number;
  state: "disarmed" | "armed_stay" | "armed_away";
}

export interface KeypadBackend {
  /** A credential for arming/disarming the keypad's partitions, or opening a door lock (doorLockId). */
  access(who: KeypadIdentity, credential: Credential, action: KeypadAction, doorLockId?: string): Promise<AccessAnswer>;
  /** Master/Supervisor programming (DSC *5): the programmer's own code authorises the change. */
  program(who: KeypadIdentity, programmerCode: Secret, op: ProgramOp): Promise<ProgramAnswer>;
  /** Grant (2 h, at the keypad) or end Security Professional access with the Master code. */
  dealer(who: KeypadIdentity, masterCode: Secret, op: "grant" | "revoke"): Promise<ProgramAnswer>;
  /** Arm state of the given partitions. */
  status(partitions: number[]): PartitionStatus[];
}
