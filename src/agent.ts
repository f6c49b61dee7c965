import { join } from "node:path";
import type { Logger } from "pino";
import { loadSealingKey, TrustedKeys, type SealingKey } from "../protocol/index.js";
import { parseTrustedKey, type AgentConfig } from "./config.js";
import { PanelCore } from "./core.js";
import { Housekeeping } from "./housekeeping.js";
import { KeypadServer } from "./keypad/server.js";
import { loadKeyFile, SEAL_KEY_FILE } from "./store/device-key.js";
import { loadIdentityKey } from "./store/identity-key.js";
import { DEFAULT_RETENTION, type RetentionPolicy } from "./store/store.js";
import { OutboxRows } from "./sync/outbox-rows.js";
import { SyncLink } from "./sync/link.js";
import { AGENT_VERSION } from "./version.js";

export function retentionOf(config: AgentConfig): RetentionPolicy {
  const day = 24 * 3600_000;
  return {
    ...DEFAULT_RETENTION,
    actionLogMaxAgeMs: config.retention.actionLogDays * day,
    actionLogMaxRows: config.retention.actionLogMaxRows,
    appliedMaxAgeMs: config.retention.appliedDays * day,
  };
}


export interface AgentOptions {
  logger: Logger;
  now?: () => number;
  /** Jitter for reconnect delays (default Math.random). */
  random?: () => number;
  /**
   * false: publish acks, events and state unsigned. Only for a benchmark's baseline (the cost of
   * signing); never in production, and not in the config: a verifying cloud drops every message.
   */
  signMessages?: boolean;
}

/**
 * Wiring: config -> store + index (PanelCore) -> MQTT link + keypad socket + housekeeping. The
 * constructor only wires; `start()` opens and listens; `stop()` finishes what is in flight,
 * publishes offline, closes the socket and the database.
 */
export class Agent {
  readonly config: AgentConfig;
  readonly #opts: AgentOptions;
  core: PanelCore | undefined;
  link: SyncLink | undefined;
  keypad: KeypadServer | undefined;
  #housekeeping: Housekeeping | undefined;
  sealingKey: SealingKey | undefined;

  constructor(config: AgentConfig, options: AgentOptions) {
    this.config = config;
    this.#opts = options;
  }

  async start(): Promise<void> {
    const { config } = this;
    const { logger } = this.#opts;
    const partitions = config.partitions;
    // Acks and events are stored in their final signed form; the link gives the rows their signer.
    // Events name the database's epoch (their numbers restart with a new one): known once the core has opened it.
    const rows = new OutboxRows(config.panelId, (type, err) => logger.error({ type, err: err.message }, "event cannot be encoded; dropped"), () => this.core?.epoch);
    const core = new PanelCore({
      stateDir: config.stateDir,
      config: { panelId: config.panelId, type: config.panelType, codeLength: config.codeLength, timeZone: config.timeZone, doorLocks: config.doorLocks, ...(partitions ? { partitions } : {}) },
      lockout: {
        maxAttempts: config.lockout.maxAttempts,
        lockMs: config.lockout.lockSeconds * 1000,
        strict: config.lockout.strict,
        strictStepMs: config.lockout.lockSeconds * 1000,
        panelMaxAttempts: config.lockout.panelMaxAttempts,
        panelLockMs: config.lockout.panelLockSeconds * 1000,
      },
      encodeEvent: (e) => rows.agentEvent(e),
      now: this.#opts.now,
    });
    this.core = core;
    this.sealingKey = loadSealingKey(loadKeyFile(join(config.stateDir, SEAL_KEY_FILE), "sealing key").key);
    let identity: ReturnType<typeof loadIdentityKey>;
    try {
      identity = loadIdentityKey(config.stateDir, core);
    } catch (err) {
      // Refused (missing or replaced key over its database): nothing else was started.
      core.close();
      this.core = undefined;
      throw err;
    }
    if (identity.created) logger.info({ kid: identity.key.kid, publicKey: identity.key.publicRaw.toString("hex") }, "panel identity key created (the cloud pins it on first use or at enrolment)");
    const trustedKeys = new TrustedKeys(config.trustedCloudKeys.map(parseTrustedKey));
    this.link = new SyncLink({
      panelId: config.panelId,
      broker: config.broker,
      core,
      trustedKeys,
      sealingKey: this.sealingKey,
      identityKey: identity.key,
      rows,
      signMessages: this.#opts.signMessages ?? true,
      maxPayloadBytes: config.maxPayloadBytes,
      agentVersion: AGENT_VERSION,
      logger: logger.child({ part: "mqtt" }),
      ...(this.#opts.random ? { random: this.#opts.random } : {}),
    });
    this.keypad = new KeypadServer({ path: config.keypadSocket, backend: core, codeLength: config.codeLength, logger: logger.child({ part: "keypad" }), now: this.#opts.now });
    await this.keypad.start();
    this.#housekeeping = new Housekeeping(core, rows, retentionOf(config), logger.child({ part: "housekeeping" }));
    this.#housekeeping.start();
    await this.link.start();
    logger.info({ panel: config.panelId, type: config.panelType, users: core.table.activeSlotNumbers().length, socket: config.keypadSocket }, "agent ready");
  }

  /**
   * What the watchdog reports on: the database answers and is the file it opened, and the keypad
   * socket listens on its path. Undefined when healthy; otherwise the first problem.
   */
  healthProblem(): string | undefined {
    if (!this.core || !this.keypad) return "not started";
    return this.core.healthProblem() ?? this.keypad.healthProblem();
  }

  async stop(): Promise<void> {
    this.#housekeeping?.stop();
    await this.keypad?.stop();
    await this.link?.stop();
    this.core?.close();
  }
}
