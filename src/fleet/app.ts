import { hostname } from "node:os";
import { createConsoleHandler } from "../console/serve.js";
import { CloudClient } from "../cloud/index.js";
import type { SigningKey } from "../../protocol/index.js";
import { backfillTagMacs } from "./access-many.js";
import { AuthStore, DEFAULT_SESSION_POLICY, type SessionPolicy } from "./auth/auth-store.js";
import { sessionGuard } from "./auth/guard.js";
import type { CodeVault } from "./code-vault.js";
import type { Db } from "./db.js";
import { unitAware } from "./unit-of-work.js";
import { COMMAND_LIFETIME_MS, Dispatcher, journalSeqStore } from "./dispatcher.js";
import { ingestEvent, pruneEvents } from "./events.js";
import { HttpApi } from "./http/server.js";
import { registerRoutes } from "./http/routes.js";
import type { Logger } from "./log.js";
import { migrate } from "./schema.js";
import { FleetStore } from "./store.js";
import { WebhookDeliverer, type WebhookConfig } from "./webhooks.js";

export interface FleetOptions {
  db: Db;
  vault: CodeVault;
  brokerUrl: string;
  /** Other nodes of the broker cluster (see the cloud client's `failoverUrls`). */
  brokerFailoverUrls?: readonly string[];
  /**
   * Events through `$share/<group>/...` so each reaches one worker (mosquitto, EMQX; NATS 2.9 has
   * none). Needs `workerId`: the worker's client id is then fixed and its session persistent, so
   * its share of the events waits for it across a restart instead of being lost.
   */
  eventShareGroup?: string;
  signingKey: SigningKey;
  logger: Logger;
  port?: number;
  host?: string;
  workerId?: string;
  brokerUsername?: string;
  brokerPassword?: string;
  /** Subscribe to every panel's state/status at once (default true). */
  fleetSubscription?: boolean;
  /** The first admin, created once when no API user exists (FLEET_ADMIN_EMAIL / FLEET_ADMIN_PASSWORD). */
  admin?: { email: string; password: string };
  session?: Partial<SessionPolicy>;
  /** `Secure` session cookies (the API is reached over https). */
  secureCookie?: boolean;
  webhooks?: WebhookConfig;
  /** Where the console is reached, for one-time links (default: this worker's own URL). */
  publicUrl?: string;
  /** How long events are kept (default 90 days). */
  eventRetentionMs?: number;
  /** How long a worker's publisher lease on a panel lasts unrenewed (default 10 s): how soon a dead worker's panels are taken over. */
  leaseMs?: number;
}

export interface RunningFleet {
  url: string;
  store: FleetStore;
  auth: AuthStore;
  client: CloudClient;
  dispatcher: Dispatcher;
  deliverer: WebhookDeliverer;
  api: HttpApi;
  stop(): Promise<void>;
}

const PRUNE_EVERY_MS = 3600_000;

/** One panel-fleet worker: migrations, the cloud client, the dispatcher, events and webhooks, and the HTTP API. */
export async function startFleet(o: FleetOptions): Promise<RunningFleet> {
  // One API call, one transaction with its action-log entries (unit-of-work.ts); everything else as o.db.
  const db = unitAware(o.db);
  await migrate(db);
  const backfilled = await backfillTagMacs(o.vault, db);
  if (backfilled > 0) o.logger.info({ rows: backfilled }, "tag digests filled in for access rows written before migration 5");
  const store = new FleetStore(db, o.vault);
  const auth = new AuthStore(db, { ...DEFAULT_SESSION_POLICY, ...o.session });
  if (o.admin) {
    const made = await auth.ensureFirstAdmin(o.admin.email, o.admin.password);
    if (made) o.logger.info({ email: made.email }, "first API user (admin) created");
  }
  if (o.eventShareGroup && !o.workerId) throw new TypeError("eventShareGroup needs a fixed workerId (its client id and persistent session)");
  const workerId = o.workerId ?? `${hostname()}-${process.pid}`;
  const client = new CloudClient({
    url: o.brokerUrl,
    signingKey: o.signingKey,
    seqStore: journalSeqStore(store),
    actor: { kind: "cloud", id: "panel-fleet" },
    commandLifetimeMs: COMMAND_LIFETIME_MS,
    fleet: o.fleetSubscription ?? true,
    ...(o.brokerUsername ? { username: o.brokerUsername } : {}),
    ...(o.brokerPassword ? { password: o.brokerPassword } : {}),
    ...(o.brokerFailoverUrls?.length ? { failoverUrls: o.brokerFailoverUrls } : {}),
    ...(o.eventShareGroup ? { eventShareGroup: o.eventShareGroup, clientId: `panel-fleet-${workerId}`, persistentSession: true } : {}),
  });
  const hooks = o.webhooks ?? {};
  const deliverer = new WebhookDeliverer(db, hooks, o.logger);
  // Every worker hears every event unless they share them (eventShareGroup; NATS has no $share); the (panel, epoch, n) key stores each once and notifies it once either way.
  client.on("event", (panelId, event) => {
    ingestEvent(db, panelId, event, { notify: Boolean(hooks.notificationUrl) })
      .then((fresh) => fresh && deliverer.kick())
      .catch((err: unknown) => o.logger.warn({ panelId, n: event.n, err: (err as Error).message }, "event not stored"));
  });
  await client.connect();
  const dispatcher = new Dispatcher({ store, client, logger: o.logger, workerId, ...(o.leaseMs !== undefined ? { leaseMs: o.leaseMs } : {}) });
  dispatcher.start();
  deliverer.start();
  const retention = o.eventRetentionMs ?? 90 * 24 * 3600_000;
  const prune = () => {
    pruneEvents(db, retention).catch((err: unknown) => o.logger.warn({ err: (err as Error).message }, "event retention failed"));
    auth.purgeEndedSessions().catch((err: unknown) => o.logger.warn({ err: (err as Error).message }, "ended sessions not purged"));
  };
  prune();
  const pruneTimer = setInterval(prune, PRUNE_EVERY_MS);
  pruneTimer.unref();
  let url = "";
  const api = registerRoutes(new HttpApi(o.logger, sessionGuard(auth, db, o.logger), db.unitOfWork), {
    store, client, dispatcher, auth, hooks, deliverer,
    consoleUrl: () => o.publicUrl ?? url,
    secureCookie: o.secureCookie ?? false,
  });
  // The console (dist/console) on the API's origin: every GET outside /api/.
  api.fallback(createConsoleHandler());
  const stopWorkers = async () => {
    clearInterval(pruneTimer);
    await deliverer.stop();
    await dispatcher.stop();
    await client.close();
  };
  try {
    url = (await api.listen(o.port ?? 8080, o.host ?? "127.0.0.1")).url;
  } catch (err) {
    await stopWorkers();
    throw err;
  }
  o.logger.info({ url, database: db.kind, workerId }, "panel-fleet listening");
  return {
    url,
    store,
    auth,
    client,
    dispatcher,
    deliverer,
    api,
    async stop() {
      await api.close();
      await stopWorkers();
    },
  };
}
