import { createRequire } from "node:module";
import { pino, type Logger } from "pino";
import type { PrettyStream } from "pino-pretty";

/**
 * pino-pretty is loaded only when a person is watching (a TTY): a daemon under systemd never
 * needs it, and loading it costs start-up time and resident memory on a small board.
 */
const pretty = (options: Record<string, unknown>): PrettyStream => (createRequire(import.meta.url)("pino-pretty") as (o: Record<string, unknown>) => PrettyStream)(options);

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
