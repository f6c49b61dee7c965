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

/** Starts the watchdog pings at half the interval systemd asks for (WATCHDOG_USEC); returns a stop function. */
export function startWatchdog(healthy: () => boolean): () => void {
  const usec = Number(process.env.WATCHDOG_USEC ?? 0);
  if (!process.env.NOTIFY_SOCKET || !(usec > 0)) return () => {};
  const timer = setInterval(() => {
    if (healthy()) notify("WATCHDOG=1");
  }, Math.max(1000, usec / 2000));
  timer.unref();
  return () => clearInterval(timer);
}

export function notifyStopping(): void {
  notify("STOPPING=1");
}
