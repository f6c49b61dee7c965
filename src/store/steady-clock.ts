import { readFileSync } from "node:fs";

/**
 * The agent's steady clock: milliseconds that only move forward and keep counting across agent
 * restarts, immune to wall-clock jumps (NTP corrections after boot, manual changes). Dealer
 * windows are measured on it.
 *
 * Within one boot it is the kernel's boot-time clock (/proc/uptime, which counts suspend too) plus
 * a persisted offset, so a restart of the agent neither extends nor shortens anything. Across a
 * reboot the kernel clock restarts: the new offset continues from the last checkpoint plus the
 * wall time that passed since it (never negative). That is the one place the wall clock enters,
 * and a backward wall jump while the device is off can at worst count as zero elapsed time.
 * Checkpoints are written on every dealer command and by housekeeping (every minute).
 */
export interface SteadyClockSources {
  /** Milliseconds since boot (monotonic within a boot). */
  uptimeMs(): number;
  /** Identifies the current boot. */
  bootId(): string;
  wallMs(): number;
}

export interface SteadyCheckpoint {
  bootId: string;
  offsetMs: number;
  steadyMs: number;
  wallMs: number;
}

export const systemSources: SteadyClockSources = {
  uptimeMs() {
    try {
      return Math.round(Number(readFileSync("/proc/uptime", "latin1").split(" ")[0]) * 1000);
    } catch {
      // No /proc (not Linux): the process's monotonic clock; restarts then count as a new boot.
      return Math.round(performance.now());
    }
  },
  bootId() {
    try {
      return readFileSync("/proc/sys/kernel/random/boot_id", "latin1").trim();
    } catch {
      return "unknown-boot";
    }
  },
  wallMs: () => Date.now(),
};

export class SteadyClock {
  readonly #sources: SteadyClockSources;
  readonly #bootId: string;
  readonly #offset: number;
  // Reading /proc/uptime costs a file open per call; within the process the monotonic clock
  // continues from one reading (a communicator does not suspend, where the two would differ).
  readonly #anchorUptime: number;
  readonly #anchorMono: number;

  constructor(previous: SteadyCheckpoint | undefined, sources: SteadyClockSources = systemSources) {
    this.#sources = sources;
    this.#bootId = sources.bootId();
    const uptime = sources.uptimeMs();
    if (previous === undefined) this.#offset = 0;
    else if (previous.bootId === this.#bootId) this.#offset = previous.offsetMs;
    else this.#offset = previous.steadyMs + Math.max(0, sources.wallMs() - previous.wallMs) - uptime;
    this.#anchorUptime = uptime;
    this.#anchorMono = performance.now();
  }

  now(): number {
    const uptime = this.#sources === systemSources ? this.#anchorUptime + Math.round(performance.now() - this.#anchorMono) : this.#sources.uptimeMs();
    return uptime + this.#offset;
  }

  checkpoint(): SteadyCheckpoint {
    return { bootId: this.#bootId, offsetMs: this.#offset, steadyMs: this.now(), wallMs: this.#sources.wallMs() };
  }
}
