import { ERROR_SENTENCES, type ErrorCode } from "../src/domain/index.js";

/** Codes the wire layer itself produces (the rest come from the user-table rules and permissions). */
export const WIRE_ERROR_CODES: readonly ErrorCode[] = [
  "malformed_payload",
  "payload_too_large",
  "schema_violation",
  "unknown_command",
  "bad_signature",
  "untrusted_key",
  "wrong_panel",
  "command_expired",
  "replayed",
  "sequence_gap",
  "unseal_failed",
  "internal_error",
];

/** The error table of protocol/README.md, generated from ERROR_SENTENCES (a unit test keeps them equal). */
export function errorTableMarkdown(): string {
  const rows = (Object.entries(ERROR_SENTENCES) as [ErrorCode, string][]).map(([code, sentence]) => `| \`${code}\` | ${sentence.replace(/\|/g, "\\|")} |`);
  return ["| code | meaning |", "|---|---|", ...rows].join("\n");
}
