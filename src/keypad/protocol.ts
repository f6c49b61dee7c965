import { z } from "zod";
import { KEY_NAMES, type KeyName } from "./session.js";

/**
 * The keypad line protocol (spec: src/keypad/protocol.md): newline-delimited JSON over a Unix
 * domain socket. One object per line, at most MAX_LINE_BYTES bytes. Schemas are strict: an
 * unknown field is an error, so a bridge's typo is reported instead of silently ignored.
 */
export const MAX_LINE_BYTES = 4096;

const keypadId = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/);
const partition = z.number().int().min(1).max(64);
const doorLockId = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/);
const code = z.string().regex(/^[0-9]{1,8}$/);
const tag = z.string().regex(/^[A-Za-z0-9:_-]{1,64}$/);

export const ClientMessage = z.discriminatedUnion("t", [
  z.strictObject({
    t: z.literal("hello"),
    keypad: keypadId,
    partitions: z.array(partition).min(1).max(64),
  }),
  z.strictObject({ t: z.literal("key"), k: z.enum(KEY_NAMES as [KeyName, ...KeyName[]]) }),
  z.strictObject({
    t: z.literal("entry"),
    action: z.enum(["auto", "arm_stay", "arm_away", "disarm", "open"]),
    code,
    door: doorLockId.optional(),
  }),
  z.strictObject({ t: z.literal("tag"), tag, door: doorLockId.optional() }),
  z.strictObject({ t: z.literal("door"), door: doorLockId }),
  z.strictObject({ t: z.literal("partition"), partition: z.number().int().min(0).max(64) }),
  z.strictObject({ t: z.literal("refresh") }),
  z.strictObject({ t: z.literal("ping"), id: z.union([z.string().max(64), z.number()]).optional() }),
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

export const ERROR_CODES = [
  "line_too_long",
  "bad_json",
  "bad_message",
  "not_registered",
  "already_registered",
  "busy",
] as const;
export type ProtocolErrorCode = (typeof ERROR_CODES)[number];

export type ServerMessage =
  | { t: "ready"; keypad: string; partitions: number[] }
  | { t: "display"; line1: string; line2: string }
  | { t: "error"; error: ProtocolErrorCode; message: string }
  | { t: "pong"; id?: string | number };

export const ERROR_TEXT: Record<ProtocolErrorCode, string> = {
  line_too_long: `A line may hold at most ${MAX_LINE_BYTES} bytes; it was dropped.`,
  bad_json: "The line is not a JSON object.",
  bad_message: "The message does not match the keypad protocol",
  not_registered: 'Send {"t":"hello","keypad":ID,"partitions":[...]} first.',
  already_registered: "This connection has already said hello.",
  busy: "Too many messages are waiting; this one was dropped.",
};

export type Parsed = { ok: true; message: ClientMessage } | { ok: false; error: ProtocolErrorCode; message: string };

/**
 * Parses one line. Errors name field paths and issue kinds only: never a value from the line
 * (the line may hold a code) and never an unknown key's name.
 */
export function parseLine(line: string): Parsed {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { ok: false, error: "bad_json", message: ERROR_TEXT.bad_json };
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return { ok: false, error: "bad_json", message: ERROR_TEXT.bad_json };
  }
  const result = ClientMessage.safeParse(raw);
  if (result.success) return { ok: true, message: result.data };
  const where = result.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.map(String).join(".") : "(message)"}: ${issue.code}`)
    .join("; ");
  return { ok: false, error: "bad_message", message: `${ERROR_TEXT.bad_message} (${where}).` };
}

export function encode(message: ServerMessage): string {
  return `${JSON.stringify(message)}\n`;
}
