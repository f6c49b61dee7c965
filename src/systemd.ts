import { spawn } from "node:child_process";

/**
 * sd_notify without a native module: Node cannot send on a Unix datagram socket, so the agent runs
 * `systemd-notify` (the unit sets NotifyAccess=all). Outside systemd (no NOTIFY_SOCKET) nothing happens.
 */
function notify(...args: string[]): void {
  if (!process.env.NOTIFY_SOCKET) return;
  const child = spawn("systemd-notify", args, { stdio: "ignore" });
  child.on("error", () => {});
}

export function notifyReady(): void {
  notify("--ready", `--pid=${process.pid}`);
}

export interface WatchdogOptions {
  /** The first problem that should make systemd restart the agent, or undefined when healthy. */
  healthProblem: () => string | undefined;
  /** Told once when pings stop and once when they resume. */
  onChange?: (problem: string | undefined) => void;
  env?: NodeJS.ProcessEnv;
}

/**
 * Pings the watchdog at half the interval systemd asks for (WATCHDOG_USEC) while the agent is
 * healthy, and withholds the ping while it is not, so systemd restarts it (Restart=on-failure).
 * Returns a stop function.
 */
export function startWatchdog(options: WatchdogOptions): () => void {
  const env = options.env ?? process.env;
  const usec = Number(env.WATCHDOG_USEC ?? 0);
  if (!env.NOTIFY_SOCKET || !(usec > 0)) return () => {};
  let last: string | undefined;
  const tick = () => {
    const problem = options.healthProblem();
    if (problem !== last) options.onChange?.(problem);
    last = problem;
    if (problem === undefined) notify("WATCHDOG=1");
  };
  const timer = setInterval(tick, Math.max(500, usec / 2000));
  timer.unref();
  return () => clearInterval(timer);
}

export function notifyStopping(): void {
  notify("STOPPING=1");
}
