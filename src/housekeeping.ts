import { createHash } from "node:crypto";
import { schedule, type Logger as CronLogger, type ScheduledTask } from "node-cron";
import type { Logger } from "pino";
import type { PanelCore } from "./core.js";
import { DEALER_KEY, dealerWindow, makeCommand, windowElapsed } from "./domain/index.js";
import type { RetentionPolicy } from "./store/store.js";
import type { OutboxRows } from "./sync/outbox-rows.js";

const EXPIRY_REPORTED = "temporary_expiry_reported";

/**
 * The minute job's schedule: every minute, at a second of its own taken from the panel id. Agents
 * that share a host (a fleet's scale rig runs 250 to a process) or a clock would otherwise all
 * commit their checkpoint (an fsync each) in the same tick at :00, a stall of the host's event
 * loop and a burst on the disk every minute; spread, it is one agent in 60 per second.
 */
export function minuteSchedule(panelId: string): string {
  return `${createHash("sha256").update(panelId).digest().readUInt16BE(0) % 60} * * * * *`;
}

/**
 * node-cron's own messages into the agent's log (JSON, with the agent's fields) instead of its
 * coloured lines on stderr. Its warnings ("missed execution": a tick that came late because the
 * event loop was busy; "blocked by overlap") go in at info: neither is a fault here, as the minute
 * job is idempotent and the next tick does its work, and the daily one runs the next night.
 */
export function cronLogger(logger: Logger): CronLogger {
  const log = logger.child({ component: "cron" });
  const text = (m: string | Error) => (typeof m === "string" ? m : m.message);
  return {
    info: (m) => log.info(m),
    warn: (m) => log.info(m),
    error: (m, err) => log.error({ err: err?.message ?? (m instanceof Error ? m.message : undefined) }, typeof m === "string" ? m : "housekeeping job failed"),
    debug: (m) => log.debug(text(m)),
  };
}

/**
 * Time passing, as events: dealer windows and temporary access that ended become events; the steady
 * clock is checkpointed; the action log and dedup records are pruned by retention. Enforcement
 * never depends on this (every check and command looks at the time itself); only the events do.
 */
export class Housekeeping {
  readonly #core: PanelCore;
  readonly #retention: RetentionPolicy;
  readonly #logger: Logger;
  readonly #tasks: ScheduledTask[] = [];
  readonly #rows: OutboxRows;

  constructor(core: PanelCore, rows: OutboxRows, retention: RetentionPolicy, logger: Logger) {
    this.#core = core;
    this.#rows = rows;
    this.#retention = retention;
    this.#logger = logger;
  }

  start(): void {
    const logger = cronLogger(this.#logger);
    this.#tasks.push(schedule(minuteSchedule(this.#core.table.config.panelId), () => this.everyMinute(), { name: "panel-agent-minute", logger }));
    // Retention runs in the small hours of the panel's own day, wherever the communicator's clock is set.
    this.#tasks.push(schedule("17 3 * * *", () => this.daily(), { name: "panel-agent-daily", timezone: this.#core.table.config.timeZone, logger }));
    this.everyMinute();
  }

  stop(): void {
    for (const t of this.#tasks.splice(0)) void t.destroy();
  }

  everyMinute(): void {
    try {
      this.#core.checkpointSteadyClock();
      this.expireDealerWindow();
      this.reportExpiredTemporaryAccess();
    } catch (err) {
      this.#logger.error({ err: (err as Error).message }, "housekeeping failed");
    }
  }

  daily(): void {
    try {
      const removed = this.#core.prune(this.#retention);
      this.#logger.info(removed, "pruned by retention");
    } catch (err) {
      this.#logger.error({ err: (err as Error).message }, "pruning failed");
    }
  }

  expireDealerWindow(): void {
    const w = dealerWindow(this.#core.table.meta(DEALER_KEY));
    if (!windowElapsed(w, this.#core.steady.now())) return;
    this.#core.execute([{ command: makeCommand("expire_dealer_access", `expire-dealer:${w.grantedAt}`, { kind: "system", id: "housekeeping" }, {}) }]);
  }

  /** Temporary access whose end has passed: one event per slot and end time. */
  reportExpiredTemporaryAccess(): void {
    const now = this.#core.now;
    const reported = JSON.parse(this.#core.state(EXPIRY_REPORTED) ?? "{}") as Record<string, number>;
    const rows = [];
    for (const slot of this.#core.table.storedSlots()) {
      const s = slot.schedule;
      if (s.kind !== "temporary" || slot.codeDigest === null || s.to > now || reported[slot.number] === s.to) continue;
      reported[slot.number] = s.to;
      rows.push(this.#rows.event("temporary_access_expired", now, { slot: slot.number, until: s.to }));
    }
    if (rows.length === 0) return;
    this.#core.enqueue(rows, { [EXPIRY_REPORTED]: JSON.stringify(reported) }, now);
  }
}
