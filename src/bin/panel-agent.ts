#!/usr/bin/env node
import { parseArgs } from "node:util";
import { Agent } from "../agent.js";
import { ConfigError, EXIT, loadConfigFile } from "../config.js";
import { createLogger } from "../log.js";
import { DeviceKeyError } from "../store/device-key.js";
import { StoreError } from "../store/store.js";
import { notifyReady, notifyStopping, startWatchdog } from "../systemd.js";

const HELP = `panel-agent --config FILE

Runs the agent: the durable user table, the MQTT link to the cloud and the keypad socket.
Environment variables PANEL_AGENT_* override config fields (see README.md, "Configuration").

Exit codes: 0 stopped cleanly, 1 failure, 64 usage, 73 state directory problem (key/database), 78 configuration error.`;

async function main(): Promise<number> {
  let values: { config?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ options: { config: { type: "string", short: "c" }, help: { type: "boolean", short: "h" } } }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${HELP}\n`);
    return EXIT.usage;
  }
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT.ok;
  }
  const path = values.config ?? process.env.PANEL_AGENT_CONFIG;
  if (!path) {
    process.stderr.write(`--config FILE is required\n${HELP}\n`);
    return EXIT.usage;
  }
  let config;
  try {
    config = loadConfigFile(path);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return EXIT.config;
    }
    throw err;
  }
  const logger = createLogger({ level: config.logLevel });
  const agent = new Agent(config, { logger });
  try {
    await agent.start();
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, "agent could not start");
    await agent.stop().catch(() => {});
    return err instanceof DeviceKeyError || err instanceof StoreError ? EXIT.state : EXIT.failure;
  }
  notifyReady();
  const stopWatchdog = startWatchdog(() => agent.core !== undefined);
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, "stopping");
      notifyStopping();
      stopWatchdog();
      agent.stop().then(
        () => resolve(EXIT.ok),
        (err: unknown) => {
          logger.error({ err: (err as Error).message }, "stop failed");
          resolve(EXIT.failure);
        },
      );
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  });
}

main().then(
  (code) => {
    process.exitCode = code;
    // Give pino's async destination a moment to flush.
    setTimeout(() => process.exit(code), 50).unref();
  },
  (err: unknown) => {
    process.stderr.write(`panel-agent: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(EXIT.failure);
  },
);
