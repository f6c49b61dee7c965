import { ERROR_SENTENCES, type ErrorCode } from "../src/domain/index.js";

/**
 * The keys an error's `detail` may carry, per code (protocol/README.md section 9). Every key is
 * optional unless the code always has it; none is ever a credential. test/unit/protocol/readme.test.ts
 * scans the sources for every `RuleError(code, { ... })` and `fail(code, { ... })` and fails when
 * a key is not listed here, and the README's table is generated from this.
 */
export const ERROR_DETAIL_KEYS: Readonly<Record<ErrorCode, readonly string[]>> = {
  code_required: ["slot"],
  master_cannot_be_disabled: ["slot"],
  master_all_partitions: ["slot"],
  master_role_fixed: ["slot"],
  invalid_role_for_panel: ["role"],
  code_in_use: ["slot"],
  invalid_code_length: ["expected"],
  invalid_code: ["field"],
  weak_code: [],
  account_suspended: ["slot"],
  account_not_assigned: ["slot"],
  account_not_found: [],
  account_already_assigned: ["slot"],
  slot_out_of_range: ["slot", "capacity"],
  partition_out_of_range: ["partition", "max"],
  label_too_long: ["max"],
  invalid_label: [],
  invalid_schedule: ["reason"],
  unknown_door_lock: ["doorLock"],
  tags_not_supported: ["kind", "slot"],
  tag_in_use: [],
  too_many_tags: ["max"],
  snapshot_invalid: ["reason", "slot"],
  version_conflict: ["slot", "version"],
  one_time_already_used: ["slot"],
  not_one_time_user: ["slot"],
  master_required: [],
  dealer_read_only: [],
  dealer_cannot_change_codes: [],
  dealer_access_expired: [],
  dealer_access_not_active: [],
  permission_denied: [],
  malformed_payload: ["reason", "offset"],
  payload_too_large: ["limit", "size"],
  schema_violation: ["path", "issue", "field", "v"],
  unknown_command: ["kind", "path"],
  bad_signature: ["kid"],
  untrusted_key: ["kid"],
  wrong_panel: ["panel"],
  command_expired: ["expiresAt", "now"],
  replayed: ["seq"],
  sequence_gap: ["lastSeq", "seq"],
  unseal_failed: ["path"],
  internal_error: ["stage", "reason", "path", "issue", "field"],
};

function detailCell(code: ErrorCode): string {
  const keys = ERROR_DETAIL_KEYS[code];
  return keys.length === 0 ? "–" : `\`{ ${keys.join(", ")} }\``;
}

/** The error table of protocol/README.md, generated from ERROR_SENTENCES and ERROR_DETAIL_KEYS (a unit test keeps them equal). */
export function errorTableMarkdown(): string {
  const rows = (Object.entries(ERROR_SENTENCES) as [ErrorCode, string][]).map(([code, sentence]) => `| \`${code}\` | ${detailCell(code)} | ${sentence.replace(/\|/g, "\\|")} |`);
  return ["| code | detail keys | meaning |", "|---|---|---|", ...rows].join("\n");
}
