import { ERROR_SENTENCES, type ErrorCode } from "../domain/index.js";

/**
 * The cloud client's own codes, in one place (the agent's rule and wire codes are
 * src/domain/errors.ts; the agent's failures to run are src/failures.ts).
 *
 * FAILURES are thrown as `CloudError`: the client cannot do what was asked at all. Its message
 * names the broker or panel; the code is what callers key on.
 *
 * REFUSALS are outcomes: a command the client answered itself (`local: true`), without a panel's
 * word. Most local refusals carry the agent's own code for the same rule (`schema_violation`,
 * `unknown_command`, `command_expired`), checked here before anything is sent; these two have no
 * counterpart on the panel.
 */
export const CLOUD_FAILURES = {
  not_connected: "The cloud client is not connected to the broker.",
  connection_failed: "The broker could not be reached or refused the connection.",
  closed: "The cloud client was closed.",
  invalid_panel_id: "The panel id does not match the protocol's panel id pattern.",
} as const;

export const CLOUD_REFUSALS = {
  seq_store_failed: "The command could not be numbered: the sequence store could not be written.",
  missing_ack: "The panel's batch ack did not answer this command.",
} as const;

export type CloudErrorCode = keyof typeof CLOUD_FAILURES;
export type CloudRefusalCode = keyof typeof CLOUD_REFUSALS;
/** Every code a rejected outcome can carry that the client knows: the panel's, and the client's own. */
export type OutcomeCode = ErrorCode | CloudRefusalCode;

/**
 * The sentence for a rejected outcome's code, for people: the agent's table, then the client's own.
 * A code neither knows (an agent newer than this client) still gets a sentence, never a crash.
 */
export function outcomeSentence(code: string): string {
  return (ERROR_SENTENCES as Record<string, string>)[code] ?? (CLOUD_REFUSALS as Record<string, string>)[code] ?? "The panel refused the command (a code this client does not know).";
}

export class CloudError extends Error {
  readonly code: CloudErrorCode;
  constructor(code: CloudErrorCode, message: string) {
    super(message);
    this.name = "CloudError";
    this.code = code;
  }
}
