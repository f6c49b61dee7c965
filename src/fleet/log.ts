import { pino, type Logger } from "pino";

/** Field names that could carry a code; codes are `Secret`s that print "[redacted]" anyway: this is the second fence. */
const REDACT = ["code", "pin", "secret", "password", "key", "*.code", "*.pin", "*.secret", "*.password", "*.key", "body.code", "req.body.code"];

/** The fleet's logger: JSON lines to `destination` (stdout by default). */
export function fleetLogger(options: { level?: string; destination?: NodeJS.WritableStream | pino.DestinationStream } = {}): Logger {
  return pino({ level: options.level ?? "info", redact: { paths: REDACT, censor: "[redacted]" }, base: { name: "panel-fleet" } }, options.destination ?? pino.destination({ dest: 1, sync: false }));
}

export type { Logger };
