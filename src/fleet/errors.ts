import { ERROR_SENTENCES } from "../domain/index.js";

/** Every refusal of the fleet: a stable code, a sentence for humans, and the HTTP status the API answers with. */
export const FLEET_ERRORS = {
  invalid_request: [400, "The request does not match the API's schema."],
  invalid_json: [400, "The request body is not valid JSON."],
  not_found: [404, "No such resource."],
  method_not_allowed: [405, "That method is not allowed on this resource."],
  payload_too_large: [413, "The request body is too large."],
  person_not_found: [404, "No person has that id."],
  panel_not_found: [404, "No panel has that id."],
  command_not_found: [404, "No command has that id."],
  panel_exists: [409, "A panel with that id is already enrolled."],
  panel_unreachable: [503, "The panel has not published its state; it cannot be enrolled yet."],
  panel_mismatch: [409, "The panel reports a different type or code length than the enrolment request."],
  code_required: [409, ERROR_SENTENCES.code_required],
  code_in_use: [409, ERROR_SENTENCES.code_in_use],
  invalid_code_length: [422, ERROR_SENTENCES.invalid_code_length],
  invalid_code: [422, ERROR_SENTENCES.invalid_code],
  weak_code: [422, ERROR_SENTENCES.weak_code],
  invalid_role_for_panel: [422, ERROR_SENTENCES.invalid_role_for_panel],
  master_role_fixed: [422, ERROR_SENTENCES.master_role_fixed],
  master_cannot_be_disabled: [422, ERROR_SENTENCES.master_cannot_be_disabled],
  slot_out_of_range: [422, ERROR_SENTENCES.slot_out_of_range],
  slot_in_use: [409, "Another person already has that user number on this panel."],
  panel_full: [409, "The panel has no free user number left."],
  partition_out_of_range: [422, ERROR_SENTENCES.partition_out_of_range],
  invalid_schedule: [422, ERROR_SENTENCES.invalid_schedule],
  account_not_found: [404, "No account has that id."],
  account_suspended: [409, ERROR_SENTENCES.account_suspended],
  master_all_partitions: [422, ERROR_SENTENCES.master_all_partitions],
  label_too_long: [422, ERROR_SENTENCES.label_too_long],
  invalid_label: [422, ERROR_SENTENCES.invalid_label],
  unknown_door_lock: [422, ERROR_SENTENCES.unknown_door_lock],
  tags_not_supported: [422, ERROR_SENTENCES.tags_not_supported],
  too_many_tags: [422, ERROR_SENTENCES.too_many_tags],
  tag_in_use: [409, ERROR_SENTENCES.tag_in_use],
  account_already_assigned: [409, ERROR_SENTENCES.account_already_assigned],
  account_not_assigned: [409, ERROR_SENTENCES.account_not_assigned],
  dealer_access_not_active: [409, ERROR_SENTENCES.dealer_access_not_active],
  slot_not_in_use: [404, "No person has that user number on this panel."],
  // sessions, tokens and roles
  invalid_credentials: [401, "The email or password is not correct."],
  not_signed_in: [401, "Sign in first, or send an API token."],
  session_expired: [401, "The session has expired; sign in again."],
  csrf_failed: [403, "The request lacks this session's X-CSRF-Token header."],
  permission_denied: [403, "Your role does not allow that."],
  api_user_exists: [409, "An API user with that email already exists."],
  api_user_not_found: [404, "No API user has that id."],
  api_token_not_found: [404, "No API token has that id."],
  // dealer requests and webhooks
  dealer_request_not_found: [404, "That dealer access link is not valid."],
  dealer_request_expired: [410, "That dealer access link has expired; the dealer must ask again."],
  dealer_request_used: [409, "That dealer access link has already been used."],
  webhook_not_configured: [503, "No webhook is configured for that; the fleet cannot reach the account system."],
  code_unreadable: [500, "A stored code could not be decrypted with the vault key."],
  vault_key_invalid: [500, "The code vault key file is missing, not 32 bytes, or readable by others."],
  internal_error: [500, "The fleet could not handle the request; nothing was changed."],
} as const satisfies Record<string, readonly [number, string]>;

export type FleetErrorCode = keyof typeof FLEET_ERRORS;

export type Detail = Record<string, string | number | boolean>;

/** One error class with a stable code; `detail` holds only non-secret context (field paths, ids, limits). */
export class FleetError extends Error {
  readonly code: FleetErrorCode;
  readonly detail: Detail | undefined;

  constructor(code: FleetErrorCode, detail?: Detail) {
    super(FLEET_ERRORS[code][1]);
    this.name = "FleetError";
    this.code = code;
    this.detail = detail;
  }

  get status(): number {
    return FLEET_ERRORS[this.code][0];
  }

  toJSON(): { code: FleetErrorCode; message: string; detail?: Detail } {
    return this.detail ? { code: this.code, message: this.message, detail: this.detail } : { code: this.code, message: this.message };
  }
}
