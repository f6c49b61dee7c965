import { hostname } from "node:os";
import { createConsoleHandler } from "../console/serve.js";
import { CloudClient } from "../cloud/index.js";
import type { SigningKey } from "../../protocol/index.js";
import type { CodeVault } from "./code-vault.js";
import type { Db } from "./db.js";
import { COMMAND_LIFETIME_MS, Dispatcher, journalSeqStore } from "./dispatcher.js";
import { HttpApi } from "./http/server.js";
import { registerRoutes } from "./http/routes.js";
import type { Logger } from "./log.js";
import { migrate } from "./schema.js";
import { FleetStore } from "./store.js";

export interface FleetOptions {
  db: Db;
  vault: CodeVault;
  brokerUrl: string;
  signingKey: SigningKey;
  logger: Logger;
  port?: number;
  host?: string;
  workerId?: string;
  brokerUsername?: string;
  brokerPassword?: string;
  /** Subscribe to every panel's state/status at once (default true). */
  fleetSubscription?: boolean;
}

export interface RunningFleet {
  url: string;
  store: FleetStore;
  client: CloudClient;
  dispatcher: Dispatcher;
  stop(): Promise<void>;
}

/** One panel-fleet worker: migrations, the cloud client, the dispatcher and the HTTP API. */
export async function startFleet(o: FleetOptions): Promise<RunningFleet> {
  await migrate(o.db);
  const store = new FleetStore(o.db, o.vault);
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
  });
  await client.connect();
  const dispatcher = new Dispatcher({ store, client, logger: o.logger, workerId });
  dispatcher.start();
  const api = registerRoutes(new HttpApi(o.logger), { store, client, dispatcher });
  // The console (dist/console) on the API's origin: every GET outside /api/.
  api.fallback(createConsoleHandler());
  let listening: { url: string };
  try {
    listening = await api.listen(o.port ?? 8080, o.host ?? "127.0.0.1");
  } catch (err) {
    await dispatcher.stop();
    await client.close();
    throw err;
  }
  o.logger.info({ url: listening.url, database: o.db.kind, workerId }, "panel-fleet listening");
  return {
    url: listening.url,
    store,
    client,
    dispatcher,
    async stop() {
      await api.close();
      await dispatcher.stop();
      await client.close();
    },
  };
}
