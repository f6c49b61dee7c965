import { readFileSync } from "node:fs";
import { z } from "zod";
import { PANEL_TYPE_IDS, PANEL_TYPES } from "./domain/panel-types.js";
import { PANEL_ID_PATTERN } from "../protocol/schema.js";
import { TOPIC_PREFIX_PATTERN } from "../protocol/topics.js";
import { AgentFailure } from "./failures.js";
import { FAILOVER_URL_PATTERN } from "./broker-servers.js";

/** Exit codes the daemon uses (sysexits where one fits), so supervisors and scripts can tell. */
export const EXIT = { ok: 0, failure: 1, usage: 64, config: 78, state: 73 } as const;

const isTimeZone = (tz: string) => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

/** Accepts a trusted cloud key as 64 hex chars, base64 of 32 raw bytes, or an SPKI PEM. */
export function parseTrustedKey(text: string): Uint8Array | string {
  const t = text.trim();
  if (t.startsWith("-----BEGIN")) return t;
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, "hex");
  const raw = /^[A-Za-z0-9+/]+={0,2}$/.test(t) ? Buffer.from(t, "base64") : Buffer.alloc(0);
  if (raw.length !== 32) throw new Error(TRUSTED_KEY_FORMAT);
  return raw;
}
const TRUSTED_KEY_FORMAT = "an Ed25519 public key: 64 hex digits, base64 of 32 bytes, or an SPKI PEM (panelctl keygen prints one)";

const trustedKey = z.string().min(1).refine((k) => {
  try {
    parseTrustedKey(k);
    return true;
  } catch {
    return false;
  }
}, TRUSTED_KEY_FORMAT);

export const configSchema = z
  .strictObject({
    panelId: z.string().regex(PANEL_ID_PATTERN, "a letter or digit, then letters, digits, '.', '_' or '-', at most 64 in all"),
    panelType: z.enum(PANEL_TYPE_IDS),
    codeLength: z.int(),
    timeZone: z.string().refine(isTimeZone, "not an IANA time zone"),
    /** A count, not a list: partitions 1..N are in use (defaults to all the type has). */
    partitions: z.int().min(1).optional(),
    doorLocks: z.array(z.string().min(1).max(64)).default([]),
    stateDir: z.string().min(1),
    keypadSocket: z.string().min(1),
    broker: z.strictObject({
      url: z.string().regex(/^(mqtts?|tcp|tls|wss?):\/\//, "an mqtt://, mqtts://, ws:// or wss:// URL"),
      /** Other nodes of the same broker cluster, tried in turn after the connection is lost (mqtt://, mqtts://, tcp://, tls://). */
      failoverUrls: z.array(z.string().regex(FAILOVER_URL_PATTERN, "an mqtt://, mqtts://, tcp:// or tls:// URL (a WebSocket URL cannot fail over)")).max(16).default([]),
      clientId: z.string().min(1).max(128).optional(),
      username: z.string().optional(),
      password: z.string().optional(),
      protocolVersion: z.union([z.literal(4), z.literal(5)]).default(4),
      keepaliveSeconds: z.int().min(5).max(3600).default(30),
      topicPrefix: z.string().regex(TOPIC_PREFIX_PATTERN, "topic levels of letters, digits, '.', '_' or '-', separated by '/'").default("panels"),
      tls: z
        .strictObject({
          caFile: z.string().optional(),
          certFile: z.string().optional(),
          keyFile: z.string().optional(),
          rejectUnauthorized: z.boolean().default(true),
        })
        .optional(),
    }),
    /** Ed25519 public keys of the cloud (raw 32 bytes, base64 or hex), any of which may sign commands. */
    trustedCloudKeys: z.array(trustedKey).min(1),
    lockout: z
      .strictObject({
        maxAttempts: z.int().min(1).max(100).default(10),
        lockSeconds: z.int().min(1).max(86_400).default(90),
        strict: z.boolean().default(false),
        panelMaxAttempts: z.int().min(1).max(1000).default(30),
        panelLockSeconds: z.int().min(1).max(86_400).default(90),
      })
      .prefault({}),
    retention: z
      .strictObject({
        actionLogDays: z.int().min(1).default(365),
        actionLogMaxRows: z.int().min(100).default(100_000),
        appliedDays: z.int().min(1).default(30),
      })
      .prefault({}),
    maxPayloadBytes: z.int().min(1024).max(16 * 1024 * 1024).default(256 * 1024),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
  })
  .superRefine((c, ctx) => {
    const type = PANEL_TYPES[c.panelType];
    if (!type.codeLengths.includes(c.codeLength)) {
      ctx.addIssue({ code: "custom", path: ["codeLength"], message: `${c.panelType} panels take ${type.codeLengths.join(" or ")}-digit codes` });
    }
    if (c.partitions !== undefined && c.partitions > type.partitions) {
      ctx.addIssue({ code: "custom", path: ["partitions"], message: `${c.panelType} panels have at most ${type.partitions} partitions` });
    }
  });

export type AgentConfig = z.infer<typeof configSchema>;

/** Environment variables that override one config field each (strings parsed as JSON where not a string field). */
export const ENV_OVERRIDES: Readonly<Record<string, readonly string[]>> = {
  PANEL_AGENT_PANEL_ID: ["panelId"],
  PANEL_AGENT_PANEL_TYPE: ["panelType"],
  PANEL_AGENT_CODE_LENGTH: ["codeLength"],
  PANEL_AGENT_TIME_ZONE: ["timeZone"],
  PANEL_AGENT_STATE_DIR: ["stateDir"],
  PANEL_AGENT_KEYPAD_SOCKET: ["keypadSocket"],
  PANEL_AGENT_BROKER_URL: ["broker", "url"],
  PANEL_AGENT_BROKER_USERNAME: ["broker", "username"],
  PANEL_AGENT_BROKER_PASSWORD: ["broker", "password"],
  PANEL_AGENT_BROKER_CLIENT_ID: ["broker", "clientId"],
  PANEL_AGENT_BROKER_PROTOCOL_VERSION: ["broker", "protocolVersion"],
  PANEL_AGENT_TRUSTED_CLOUD_KEYS: ["trustedCloudKeys"],
  PANEL_AGENT_LOG_LEVEL: ["logLevel"],
};

export class ConfigError extends AgentFailure {
  constructor(readonly problems: string[]) {
    super("config_invalid", `Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

function setPath(obj: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let o = obj;
  for (const key of path.slice(0, -1)) {
    if (typeof o[key] !== "object" || o[key] === null) o[key] = {};
    o = o[key] as Record<string, unknown>;
  }
  o[path[path.length - 1]!] = value;
}

function parseEnvValue(raw: string): unknown {
  if (/^-?\d+$/.test(raw)) return Number(raw);
  if (raw.startsWith("[") || raw === "true" || raw === "false") {
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }
  return raw;
}

/** Validates a config object after applying environment overrides; every problem is reported at once, with its path. */
export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = {}): AgentConfig {
  const merged = (typeof raw === "object" && raw !== null ? structuredClone(raw) : {}) as Record<string, unknown>;
  for (const [name, path] of Object.entries(ENV_OVERRIDES)) {
    const v = env[name];
    if (v === undefined || v === "") continue;
    const value = name === "PANEL_AGENT_TRUSTED_CLOUD_KEYS" && !v.startsWith("[") ? v.split(",").map((s) => s.trim()) : parseEnvValue(v);
    // String fields stay strings even when they look like numbers (e.g. a panel id "1234").
    setPath(merged, path, ["panelId", "clientId", "username", "password"].includes(path[path.length - 1]!) ? v : value);
  }
  const out = configSchema.safeParse(merged);
  if (!out.success) {
    // A problem in a field an environment variable set names that variable: the file is not at fault.
    const fromEnv = (path: readonly PropertyKey[]) =>
      Object.entries(ENV_OVERRIDES).find(([name, p]) => env[name] !== undefined && env[name] !== "" && p.every((k, i) => path[i] === k))?.[0];
    throw new ConfigError(
      out.error.issues.map((i) => {
        const variable = fromEnv(i.path);
        return `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}${variable ? ` (set by ${variable})` : ""}`;
      }),
    );
  }
  return out.data;
}

export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError([`${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`${path}: not valid JSON (${(err as Error).message})`]);
  }
  return parseConfig(raw, env);
}
