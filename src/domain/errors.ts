/**
 * Every rejection the agent can give, in one table: a stable machine-readable code and the
 * human sentence that goes with it. Tests assert codes, never sentences. No sentence may
 * interpolate a credential; details are limited to slot numbers, field paths and limits.
 */
export const ERROR_SENTENCES = {
  // user table rules
  code_required: "The user has no code set; set a code before changing its label, partitions, role, schedule, door locks, tags or account.",
  master_cannot_be_disabled: "A Master user cannot be disabled.",
  master_all_partitions: "A Master user always has all partitions of the panel; its partitions cannot be changed.",
  master_role_fixed: "The Master slot keeps the Master role, and no other slot can take it on this panel type.",
  invalid_role_for_panel: "That role does not exist on this panel type.",
  code_in_use: "Another user on this panel already has that code.",
  invalid_code_length: "The code length does not suit this panel.",
  invalid_code: "A code must be digits only.",
  weak_code: "The panel refuses that code.",
  account_suspended: "A suspended account cannot be assigned to a panel user.",
  account_not_assigned: "No account is assigned to that user.",
  account_not_found: "No user on this panel has that account assigned.",
  account_already_assigned: "That account is already assigned to another user on this panel.",
  slot_out_of_range: "That user number does not exist on this panel type.",
  partition_out_of_range: "A partition number is outside this panel's partitions.",
  label_too_long: "The label is longer than this panel type allows.",
  invalid_label: "The label must be non-empty printable text.",
  invalid_schedule: "The schedule is not valid.",
  unknown_door_lock: "A door lock in the list is not known to this panel.",
  tags_not_supported: "This panel type does not support that kind of proximity tag.",
  tag_in_use: "Another user on this panel already has that proximity tag.",
  too_many_tags: "The user has more proximity tags than this panel type allows.",
  snapshot_invalid: "The snapshot is not valid for this panel.",
  version_conflict: "The user was changed since the version the command expected.",
  one_time_already_used: "The one-time user has already disarmed today.",
  not_one_time_user: "That user is not a One-time User.",
  // who may do what
  master_required: "Only the Master user can do that.",
  dealer_read_only: "Security Professional access is read-only unless the Master user grants access.",
  dealer_cannot_change_codes: "Security Professional access cannot change user codes.",
  dealer_access_expired: "Security Professional access has expired or was revoked; access is read-only.",
  dealer_access_not_active: "Security Professional access is not in effect.",
  permission_denied: "That user may not do that.",
  // wire, protocol and delivery
  malformed_payload: "The message could not be decoded.",
  payload_too_large: "The message is larger than the agent accepts.",
  schema_violation: "The message does not match the protocol schema.",
  unknown_command: "The command kind is not known to this agent.",
  bad_signature: "The command's signature does not verify against a trusted cloud key.",
  untrusted_key: "The command is signed by a key this agent does not trust.",
  wrong_panel: "The command is addressed to another panel.",
  command_expired: "The command expired before it reached the agent.",
  replayed: "The command's sequence number was already used by a different command.",
  sequence_gap: "Commands are missing before this one; the agent asked for a resync.",
  unseal_failed: "A sealed field could not be opened with this agent's key.",
  internal_error: "The agent could not apply the command; nothing was changed.",
} as const;

export type ErrorCode = keyof typeof ERROR_SENTENCES;

export const ERROR_CODES = Object.keys(ERROR_SENTENCES) as ErrorCode[];

/** A rejection with a stable code. `detail` carries only non-secret context (slot, field, limit). */
export class RuleError extends Error {
  readonly code: ErrorCode;
  readonly detail: Record<string, string | number | boolean> | undefined;

  constructor(code: ErrorCode, detail?: Record<string, string | number | boolean>) {
    super(ERROR_SENTENCES[code]);
    this.name = "RuleError";
    this.code = code;
    this.detail = detail;
  }

  toJSON(): { code: ErrorCode; message: string; detail?: Record<string, string | number | boolean> } {
    return this.detail ? { code: this.code, message: this.message, detail: this.detail } : { code: this.code, message: this.message };
  }
}
