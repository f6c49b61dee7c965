import { pino, type Logger } from "pino";
import pretty from "pino-pretty";

/**
 * Field names that could carry a credential or a key. Secrets are `Secret` objects that print as
 * "[redacted]" anyway; this is the second fence, compiled once at start.
 */
const REDACT = [
  "code", "pin", "tag", "password", "sealed", "secret", "key", "privateKey",
  "*.code", "*.pin", "*.tag", "*.password", "*.sealed", "*.secret", "*.key", "*.privateKey",
  "*.*.code", "*.*.tags", "broker.password",
];

export function createLogger(options: { level?: string; pretty?: boolean; destination?: NodeJS.WritableStream } = {}): Logger {
  const base = { level: options.level ?? "info", redact: { paths: REDACT, censor: "[redacted]" }, base: { name: "panel-agent" } };
  const usePretty = options.pretty ?? (process.stdout.isTTY === true && options.destination === undefined);
  if (usePretty) return pino(base, pretty({ colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname,name", destination: options.destination ?? 1 }));
  return pino(base, options.destination ?? pino.destination({ dest: 1, sync: false }));
}

export type { Logger };
