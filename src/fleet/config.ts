import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadSigningKey, type SigningKey } from "../../protocol/index.js";
import { FAILOVER_URL_PATTERN } from "../cloud/index.js";
import { DEFAULT_LEASE_MS } from "./dispatcher.js";

export class FleetConfigError extends Error {
  override readonly name = "FleetConfigError";
}

export interface FleetConfig {
  /** The PostgreSQL server (several workers); absent: PGlite in `dataDir`. */
  databaseUrl?: string;
  dataDir: string;
  keyFile: string;
  brokerUrl: string;
  /** Other nodes of the broker cluster, tried in turn after the connection is lost (FLEET_BROKER_FAILOVER_URLS, comma-separated). */
  brokerFailoverUrls: string[];
  /** Events through `$share/<group>/...` (mosquitto, EMQX; not NATS 2.9): each event reaches one worker of the group. */
  eventShareGroup?: string;
  brokerUsername?: string;
  brokerPassword?: string;
  signingKey: SigningKey;
  port: number;
  host: string;
  workerId?: string;
  logLevel: string;
  /** The first admin, created once if no API user exists. */
  admin?: { email: string; password: string };
  webhooks: { notificationUrl?: string; accountUrl?: string; secret?: string };
  /** Where people reach the console (one-time links); https makes the session cookie Secure. */
  publicUrl?: string;
  secureCookie: boolean;
  eventRetentionMs: number;
  leaseMs: number;
}

export function readSigningKey(path: string): SigningKey {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new FleetConfigError(`FLEET_SIGNING_KEY_FILE: cannot read ${path}`);
  }
  const text = bytes.toString("utf8").trim();
  try {
    if (text.startsWith("-----BEGIN")) return loadSigningKey(text);
    if (/^[0-9a-fA-F]{64}$/.test(text)) return loadSigningKey(Buffer.from(text, "hex"));
    if (bytes.length === 32) return loadSigningKey(bytes);
  } catch {
    /* below */
  }
  throw new FleetConfigError(`FLEET_SIGNING_KEY_FILE: ${path} is not an Ed25519 key (64 hex chars, raw 32 bytes or PKCS#8 PEM)`);
}

/**
 * The worker's settings from the environment. DATABASE_URL selects the server; without it the
 * embedded PGlite keeps its data under FLEET_DATA_DIR (default .data/fleet). The code vault key
 * file must be the same file for every worker of one database, so with DATABASE_URL it must be named.
 */
export function fleetConfigFromEnv(env: NodeJS.ProcessEnv, overrides: { dataDir?: string; port?: number } = {}): FleetConfig {
  const problems: string[] = [];
  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) problems.push("DATABASE_URL: must start with postgres:// or postgresql://");
  const dataDir = resolve(overrides.dataDir ?? env.FLEET_DATA_DIR ?? ".data/fleet");
  const keyFile = env.FLEET_CODE_KEY_FILE ? resolve(env.FLEET_CODE_KEY_FILE) : databaseUrl ? undefined : join(dataDir, "code.key");
  if (!keyFile) problems.push("FLEET_CODE_KEY_FILE: required with DATABASE_URL (every worker must use the same key file)");
  const portText = overrides.port !== undefined ? String(overrides.port) : env.FLEET_PORT ?? "8080";
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push("FLEET_PORT: must be a port number");
  const keyPath = env.FLEET_SIGNING_KEY_FILE;
  let signingKey: SigningKey | undefined;
  if (!keyPath) problems.push("FLEET_SIGNING_KEY_FILE: required (the Ed25519 key the panels trust)");
  else {
    try {
      signingKey = readSigningKey(keyPath);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  const adminEmail = env.FLEET_ADMIN_EMAIL || undefined;
  const adminPassword = env.FLEET_ADMIN_PASSWORD || undefined;
  if (Boolean(adminEmail) !== Boolean(adminPassword)) problems.push("FLEET_ADMIN_EMAIL and FLEET_ADMIN_PASSWORD: give both or neither");
  if (adminPassword !== undefined && adminPassword.length < 10) problems.push("FLEET_ADMIN_PASSWORD: at least 10 characters");
  for (const name of ["FLEET_NOTIFICATION_WEBHOOK_URL", "FLEET_ACCOUNT_WEBHOOK_URL", "FLEET_PUBLIC_URL"] as const) {
    const v = env[name];
    if (v && !/^https?:\/\/\S+$/.test(v)) problems.push(`${name}: must be an http:// or https:// URL`);
  }
  // Receivers act on deliveries (an account removed, a duress); unsigned, anyone who can reach them could send one.
  if ((env.FLEET_NOTIFICATION_WEBHOOK_URL || env.FLEET_ACCOUNT_WEBHOOK_URL) && !env.FLEET_WEBHOOK_SECRET) {
    problems.push("FLEET_WEBHOOK_SECRET: needed with a webhook URL (every delivery is signed with it in X-Fleet-Signature, which the receiver checks)");
  }
  if (env.FLEET_WEBHOOK_SECRET && env.FLEET_WEBHOOK_SECRET.length < 16) problems.push("FLEET_WEBHOOK_SECRET: at least 16 characters");
  const retentionDays = Number(env.FLEET_EVENT_RETENTION_DAYS ?? "90");
  if (!Number.isFinite(retentionDays) || retentionDays <= 0) problems.push("FLEET_EVENT_RETENTION_DAYS: must be a positive number of days");
  const leaseSeconds = Number(env.FLEET_LEASE_SECONDS ?? DEFAULT_LEASE_MS / 1000);
  if (!Number.isFinite(leaseSeconds) || leaseSeconds < 3 || leaseSeconds > 600) problems.push("FLEET_LEASE_SECONDS: must be a number of seconds from 3 to 600");
  const failover = (env.FLEET_BROKER_FAILOVER_URLS ?? "").split(",").map((u) => u.trim()).filter((u) => u !== "");
  for (const u of failover) if (!FAILOVER_URL_PATTERN.test(u)) problems.push(`FLEET_BROKER_FAILOVER_URLS: ${u} is not an mqtt://, mqtts://, tcp:// or tls:// URL`);
  const shareGroup = env.FLEET_EVENT_SHARE_GROUP || undefined;
  if (shareGroup !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(shareGroup)) problems.push("FLEET_EVENT_SHARE_GROUP: letters, digits, '.', '_' or '-', at most 64");
  // A shared event in flight to a worker that died goes to no other worker on mosquitto unless the
  // worker's session outlives it: sharing needs a fixed client id (the worker id) and a persistent session.
  if (shareGroup !== undefined && !env.FLEET_WORKER_ID) problems.push("FLEET_EVENT_SHARE_GROUP: needs FLEET_WORKER_ID (a fixed id per worker: its broker session keeps its share of the events while it restarts)");
  if (problems.length > 0) throw new FleetConfigError(problems.join("\n"));
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  return {
    ...(databaseUrl ? { databaseUrl } : {}),
    dataDir,
    keyFile: keyFile!,
    brokerUrl: env.FLEET_BROKER_URL ?? "mqtt://127.0.0.1:1883",
    brokerFailoverUrls: failover,
    ...(shareGroup ? { eventShareGroup: shareGroup } : {}),
    ...(env.FLEET_BROKER_USERNAME ? { brokerUsername: env.FLEET_BROKER_USERNAME } : {}),
    ...(env.FLEET_BROKER_PASSWORD ? { brokerPassword: env.FLEET_BROKER_PASSWORD } : {}),
    signingKey: signingKey!,
    port,
    host: env.FLEET_HOST ?? "127.0.0.1",
    ...(env.FLEET_WORKER_ID ? { workerId: env.FLEET_WORKER_ID } : {}),
    logLevel: env.FLEET_LOG_LEVEL ?? "info",
    ...(adminEmail && adminPassword ? { admin: { email: adminEmail, password: adminPassword } } : {}),
    webhooks: {
      ...(env.FLEET_NOTIFICATION_WEBHOOK_URL ? { notificationUrl: env.FLEET_NOTIFICATION_WEBHOOK_URL } : {}),
      ...(env.FLEET_ACCOUNT_WEBHOOK_URL ? { accountUrl: env.FLEET_ACCOUNT_WEBHOOK_URL } : {}),
      ...(env.FLEET_WEBHOOK_SECRET ? { secret: env.FLEET_WEBHOOK_SECRET } : {}),
    },
    ...(env.FLEET_PUBLIC_URL ? { publicUrl: env.FLEET_PUBLIC_URL } : {}),
    secureCookie: env.FLEET_SECURE_COOKIE === "1" || (env.FLEET_PUBLIC_URL ?? "").startsWith("https://"),
    eventRetentionMs: retentionDays * 24 * 3600_000,
    leaseMs: leaseSeconds * 1000,
  };
}
