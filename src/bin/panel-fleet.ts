#!/usr/bin/env node
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startFleet } from "../fleet/app.js";
import { CodeVault } from "../fleet/code-vault.js";
import { fleetConfigFromEnv, FleetConfigError } from "../fleet/config.js";
import { openDb } from "../fleet/db.js";
import { fleetLogger } from "../fleet/log.js";

const HELP = `panel-fleet [--data-dir DIR] [--port N]

Runs one panel-fleet worker: the HTTP API /api/v1, the command dispatcher and the cloud client.
The database is PGlite under the data directory, or the PostgreSQL server named by DATABASE_URL.

Environment:
  DATABASE_URL             postgres://... (several workers share it); default: PGlite in FLEET_DATA_DIR
  FLEET_DATA_DIR           default .data/fleet (PGlite data in pgdata/, the code key in code.key)
  FLEET_CODE_KEY_FILE      the code vault key (32 bytes, 0600; made when missing); required with DATABASE_URL
  FLEET_SIGNING_KEY_FILE   the Ed25519 signing key the panels trust (required)
  FLEET_BROKER_URL         default mqtt://127.0.0.1:1883 (FLEET_BROKER_USERNAME, FLEET_BROKER_PASSWORD)
  FLEET_BROKER_FAILOVER_URLS  the broker cluster's other nodes, comma-separated (mqtt://, mqtts://, tcp://, tls://)
  FLEET_EVENT_SHARE_GROUP  events through $share/<group>/... (mosquitto, EMQX; not NATS 2.9); needs FLEET_WORKER_ID
  FLEET_HOST, FLEET_PORT   default 127.0.0.1:8080
  FLEET_WORKER_ID          this worker's name in publisher leases (default host-pid)
  FLEET_LOG_LEVEL          default info
  FLEET_ADMIN_EMAIL, FLEET_ADMIN_PASSWORD
                           the first API user (role admin), created once when there is none
  FLEET_PUBLIC_URL         where people reach the console (one-time links); https:// makes cookies Secure
  FLEET_SECURE_COOKIE      1: Secure session cookies (behind a TLS proxy)
  FLEET_NOTIFICATION_WEBHOOK_URL  duress, dealer access granted/revoked/session started, dealer requests
  FLEET_ACCOUNT_WEBHOOK_URL       the account system: reset password (OTP email), remove account
  FLEET_WEBHOOK_SECRET     HMAC-SHA256 key for the X-Fleet-Signature header
  FLEET_EVENT_RETENTION_DAYS      how long panel events are kept (default 90)
`;

const EXIT_CONFIG = 78;

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { "data-dir": { type: "string" }, port: { type: "string" }, help: { type: "boolean", short: "h" } } });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  let config;
  try {
    config = fleetConfigFromEnv(process.env, { ...(values["data-dir"] ? { dataDir: values["data-dir"] } : {}), ...(values.port ? { port: Number(values.port) } : {}) });
  } catch (err) {
    if (err instanceof FleetConfigError) {
      process.stderr.write(`panel-fleet: ${err.message}\n`);
      return EXIT_CONFIG;
    }
    throw err;
  }
  const logger = fleetLogger({ level: config.logLevel });
  let vault: CodeVault;
  try {
    vault = CodeVault.fromFile(config.keyFile);
  } catch (err) {
    process.stderr.write(`panel-fleet: FLEET_CODE_KEY_FILE ${config.keyFile}: ${(err as Error).message}\n`);
    return EXIT_CONFIG;
  }
  const db = await openDb(config.databaseUrl ? { databaseUrl: config.databaseUrl, applicationName: `panel-fleet ${config.workerId ?? ""}`.trim().slice(0, 63) } : { dataDir: join(config.dataDir, "pgdata") });
  const fleet = await startFleet({
    db,
    vault,
    brokerUrl: config.brokerUrl,
    brokerFailoverUrls: config.brokerFailoverUrls,
    ...(config.eventShareGroup ? { eventShareGroup: config.eventShareGroup } : {}),
    signingKey: config.signingKey,
    logger,
    port: config.port,
    host: config.host,
    ...(config.workerId ? { workerId: config.workerId } : {}),
    ...(config.brokerUsername ? { brokerUsername: config.brokerUsername } : {}),
    ...(config.brokerPassword ? { brokerPassword: config.brokerPassword } : {}),
    ...(config.admin ? { admin: config.admin } : {}),
    webhooks: config.webhooks,
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    secureCookie: config.secureCookie,
    eventRetentionMs: config.eventRetentionMs,
    leaseMs: config.leaseMs,
  });
  process.stdout.write(`panel-fleet listening on ${fleet.url}\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  await fleet.stop();
  await db.close();
  logger.flush();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`panel-fleet: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
