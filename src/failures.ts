/**
 * Every way the agent itself can fail to run (as opposed to a command it refuses: those are the
 * rule and wire codes of src/domain/errors.ts), in one table: a stable code, what it means, and the
 * exit status the daemon ends with (sysexits: 78 configuration, 73 state that cannot be opened).
 * The message of each failure says which file or setting and what to do; the code is what
 * supervisors, tests and log queries key on.
 */
export const FAILURES = {
  config_invalid: { exit: "config", meaning: "The configuration file or an environment override is missing, unreadable or invalid." },
  store_durability: { exit: "state", meaning: "SQLite cannot give WAL mode with synchronous=FULL on the state directory." },
  store_schema_newer: { exit: "state", meaning: "The database was written by a newer agent; upgrade the agent." },
  store_config_mismatch: { exit: "state", meaning: "The configured panel (id, type, code length) is not the one the stored user table belongs to." },
  state_dir_missing: { exit: "state", meaning: "The state directory or the keypad socket's directory does not exist." },
  device_key_missing: { exit: "state", meaning: "The device key is missing next to a database that holds code digests." },
  device_key_invalid: { exit: "state", meaning: "A key file is not a regular 32-byte file of mode 0600." },
  device_key_mismatch: { exit: "state", meaning: "A key file is not the one the database was written with." },
} as const satisfies Record<string, { exit: "config" | "state"; meaning: string }>;

export type FailureCode = keyof typeof FAILURES;

/** A failure of the agent to run, with its stable code; the message names the file or setting. */
export class AgentFailure extends Error {
  readonly code: FailureCode;

  constructor(code: FailureCode, message: string) {
    super(message);
    this.name = "AgentFailure";
    this.code = code;
  }

  /** The sysexits class the daemon exits with. */
  get exit(): "config" | "state" {
    return FAILURES[this.code].exit;
  }
}
