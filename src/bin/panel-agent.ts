#!/usr/bin/env node
import { statSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { Agent } from "../agent.js";
import { ConfigError, EXIT, loadConfigFile, type AgentConfig } from "../config.js";
import { createLogger } from "../log.js";
import { AgentFailure } from "../failures.js";
import { notifyReady, notifyStopping, startWatchdog } from "../systemd.js";
import { AGENT_VERSION } from "../version.js";

const HELP = `panel-agent --config FILE

Runs the agent: the durable user table, the MQTT link to the cloud and the keypad socket.
Environment variables PANEL_AGENT_* override config fields (see README.md, "Configuration").

Options:
  -c, --config FILE   the JSON config (or PANEL_AGENT_CONFIG)
  -V, --version       print the version and exit
  -h, --help          this text

Exit codes: 0 stopped cleanly, 1 failure, 64 usage, 73 state problem (state or socket directory
missing, device key, database), 78 configuration error.`;

/**
 * Directories the daemon needs and never creates: a typo in stateDir must not start a blank
 * panel, and the socket's directory belongs to the supervisor (systemd's StateDirectory and
 * RuntimeDirectory make both).
 */
function missingDirectories(config: AgentConfig): string[] {
  const problems: string[] = [];
  const need = (path: string, what: string, field: string) => {
    try {
      if (!statSync(path).isDirectory()) problems.push(`${what} ${path} (${field}) is not a directory`);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "error";
      problems.push(code === "ENOENT" ? `${what} ${path} (${field}) does not exist (ENOENT): create it, or correct ${field}` : `${what} ${path} (${field}) cannot be read (${code})`);
    }
  };
  need(config.stateDir, "state directory", "stateDir");
  need(dirname(config.keypadSocket), "keypad socket directory", "keypadSocket");
  return problems;
}

async function main(): Promise<number> {
  let values: { config?: string; help?: boolean; version?: boolean };
  try {
    ({ values } = parseArgs({ options: { config: { type: "string", short: "c" }, help: { type: "boolean", short: "h" }, version: { type: "boolean", short: "V" } } }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${HELP}\n`);
    return EXIT.usage;
  }
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT.ok;
  }
  if (values.version) {
    process.stdout.write(`panel-agent ${AGENT_VERSION}\n`);
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
  const missing = missingDirectories(config);
  if (missing.length > 0) {
    process.stderr.write(`Cannot start:\n${missing.map((p) => `  - ${p}`).join("\n")}\n`);
    return EXIT.state;
  }
  const logger = createLogger({ level: config.logLevel });
  const agent = new Agent(config, { logger });
  try {
    await agent.start();
  } catch (err) {
    const failure = err instanceof AgentFailure ? err : undefined;
    logger.fatal({ err: (err as Error).message, ...(failure ? { code: failure.code } : {}) }, "agent could not start");
    await agent.stop().catch(() => {});
    return failure ? EXIT[failure.exit] : EXIT.failure;
  }
  notifyReady();
  const stopWatchdog = startWatchdog({
    healthProblem: () => agent.healthProblem(),
    onChange: (problem) =>
      problem === undefined ? logger.info("healthy again; watchdog pings resume") : logger.error({ problem }, "unhealthy; watchdog pings withheld so systemd restarts the agent"),
  });
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
