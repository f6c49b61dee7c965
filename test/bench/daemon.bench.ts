/**
 * Figures of the daemon a device runs: the README's device install (test/helpers/device-install.ts:
 * build, npm prune --omit=dev --omit=optional, the installed tree), started with the systemd unit's ExecStart
 * (its Node flags) and Environment, NOTIFY_SOCKET set, 10,000 users in its database, a real
 * mosquitto reachable.
 *   daemon_ready_10k_ms      exec until READY=1 arrives on the notify socket (median of 3 starts)   <= 500
 *   daemon_rss_10k_mb        its VmRSS right after READY=1 (median of 3)                              <= 80
 *   daemon_rss_10k_busy_mb   its VmRSS after 30 s of keypad entries (40/s) and cloud commands (20/s)  <= 80
 *   daemon_anon_10k_mb, daemon_anon_10k_busy_mb   the same process's anonymous memory (smaps_rollup):
 *                            RSS less the file-backed, shared code pages of node and the addons
 *   keypad_answer_p50_us / _p99_us   an `entry` line written to the keypad socket until the display
 *                            line with the answer comes back (a grant commits its access record
 *                            first: the answer includes one fsync'd commit), beside
 *   unix_socket_rtt_p50_us   a bare newline ping-pong over a Unix socket to another process, and
 *   keypad_commit_floor_us   one bare WAL synchronous=FULL commit, both sampled interleaved with
 *                            the keypad answers in blocks of 25 (the machine drifts within seconds).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { generateSigningKey } from "../../protocol/index.js";
import { CloudClient } from "../../src/cloud/index.js";
import { legacyEventRow } from "../../src/sync/outbox-rows.js";
import { PanelCore } from "../../src/core.js";
import { Secret, type Command, type PanelConfig } from "../../src/domain/index.js";
import { installDevice, type DeviceInstall } from "../helpers/device-install.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { NotifySocket } from "../helpers/notify-socket.js";
import { bareCommits, median, percentile, round, sortNum, unixSocketPingPong } from "./floors.js";

const USERS = 10_000;
const PANEL = "bench-daemon";
const codeOf = (i: number) => String(10_000_000 + i * 7);
const SAMPLES = 500;
const BLOCK = 25;
const BUSY_MS = 30_000;

function seed(install: DeviceInstall, config: PanelConfig): void {
  const core = new PanelCore({ stateDir: install.stateDir, config, encodeEvent: legacyEventRow });
  const now = Date.now();
  const users = Array.from({ length: USERS }, (_, i) => ({
    slot: i + 1,
    code: new Secret(codeOf(i)),
    label: `User ${i + 1}`,
    schedule: i % 3 === 0 ? { kind: "always" as const } : i % 3 === 1 ? { kind: "weekly" as const, windows: [{ days: [0, 1, 2, 3, 4, 5, 6], start: 0, end: 1440 }] } : { kind: "temporary" as const, from: now - 3_600_000, to: now + 7 * 86_400_000 },
  }));
  core.execute([{ command: { id: "seed", actor: { kind: "system", id: "bench" }, kind: "snapshot", users } as Command }]);
  core.close();
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Math.round((Number(m![1]) / 1024) * 10) / 10;
}

/** The process's own memory: anonymous pages (heap, SQLite cache), without the file-backed code pages of node and the addons that RSS also counts. */
function anonMb(pid: number): number {
  const m = /^Anonymous:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
  return Math.round((Number(m![1]) / 1024) * 10) / 10;
}

interface Started {
  child: ChildProcess;
  readyMs: number;
  stop: () => Promise<void>;
}

async function startDaemon(install: DeviceInstall, dir: string): Promise<Started> {
  const notify = await new NotifySocket(dir).start();
  const [node, ...args] = install.execStart;
  const t0 = performance.now();
  const child = spawn(node!, args, { cwd: install.prefix, env: { PATH: process.env.PATH, ...install.env, NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: "30000000" }, stdio: ["ignore", "ignore", "inherit"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  for (;;) {
    if (notify.with("READY").length > 0) break;
    if (child.exitCode !== null) throw new Error(`the daemon exited ${child.exitCode} before READY=1`);
    await new Promise((r) => setImmediate(r));
  }
  const readyMs = performance.now() - t0;
  return {
    child,
    readyMs,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
      notify.stop();
    },
  };
}

/** A keypad on the daemon's socket: `entry(code)` is one entry's answer time in µs. */
async function keypad(path: string): Promise<{ entry: (code: string) => Promise<number>; close: () => void }> {
  const socket: Socket = createConnection(path);
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  socket.setEncoding("utf8");
  let buffer = "";
  let waiter: ((line2: string) => void) | undefined;
  socket.on("data", (d: string) => {
    buffer += d;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const msg = JSON.parse(buffer.slice(0, nl)) as { t: string; line2?: string };
      buffer = buffer.slice(nl + 1);
      if (msg.t === "display" && msg.line2 && /^(Access|Keypad locked)/.test(msg.line2)) waiter?.(msg.line2);
    }
  });
  socket.write(`${JSON.stringify({ t: "hello", keypad: "bench-kp", partitions: [1] })}\n`);
  await new Promise((r) => setTimeout(r, 100));
  return {
    entry: async (code) => {
      const t0 = performance.now();
      const line2 = await new Promise<string>((resolve) => {
        waiter = resolve;
        socket.write(`${JSON.stringify({ t: "entry", action: "auto", code })}\n`);
      });
      if (!line2.startsWith("Access granted")) throw new Error(`bench entry not granted: ${line2}`);
      return (performance.now() - t0) * 1000;
    },
    close: () => socket.destroy(),
  };
}

export async function run(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), "bench-daemon-"));
  const mosq = await new Mosquitto({ maxQueuedMessages: 100_000 }).start();
  const key = generateSigningKey();
  try {
    const install = installDevice(join(dir, "device"));
    const config: PanelConfig = { panelId: PANEL, type: "site", codeLength: 8, timeZone: "Europe/Berlin", doorLocks: [] };
    writeFileSync(install.configPath, JSON.stringify({ ...config, panelType: config.type, type: undefined, stateDir: install.stateDir, keypadSocket: install.socketPath, broker: { url: mosq.url }, trustedCloudKeys: [key.publicRaw.toString("hex")], logLevel: "warn" }));
    seed(install, config);

    const ready: number[] = [];
    const rss: number[] = [];
    const anon: number[] = [];
    for (let i = 0; i < 3; i++) {
      const d = await startDaemon(install, mkdtempSync(join(dir, "n-")));
      ready.push(d.readyMs);
      rss.push(rssMb(d.child.pid!));
      anon.push(anonMb(d.child.pid!));
      await d.stop();
    }

    const d = await startDaemon(install, mkdtempSync(join(dir, "n-")));
    const kp = await keypad(install.socketPath);
    const floorSock = await unixSocketPingPong(join(dir, "echo.sock"));
    const commits = bareCommits(dir);
    const client = new CloudClient({ url: mosq.url, signingKey: key, ackTimeoutMs: 30_000 });
    try {
      await client.connect();
      for (let w = 0; w < 200; w++) await kp.entry(codeOf(w));
      const answers: number[] = [];
      const socketRtts: number[] = [];
      const floors: number[] = [];
      for (let b = 0; b < SAMPLES / BLOCK; b++) {
        for (let k = 0; k < 3; k++) {
          const which = (b + k) % 3;
          for (let j = 0; j < BLOCK; j++) {
            if (which === 0) answers.push(await kp.entry(codeOf((b * BLOCK + j) * 13 % USERS)));
            else if (which === 1) socketRtts.push(await floorSock.sample());
            else floors.push(commits.sample());
          }
        }
      }

      // 30 s of a site's day: entries at the keypad and commands from the cloud, paced.
      const until = performance.now() + BUSY_MS;
      let entries = 0;
      let commands = 0;
      const keypadLoop = (async () => {
        while (performance.now() < until) {
          await kp.entry(codeOf((entries++ * 31) % USERS));
          await new Promise((r) => setTimeout(r, 25));
        }
      })();
      const cloudLoop = (async () => {
        while (performance.now() < until) {
          const o = await client.send(PANEL, { kind: "set_label", slot: (commands++ % USERS) + 1, label: `Busy ${commands}` });
          if (o.status !== "applied") throw new Error(`bench command not applied: ${o.status}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      await Promise.all([keypadLoop, cloudLoop]);
      const busyRss = rssMb(d.child.pid!);
      const busyAnon = anonMb(d.child.pid!);
      const sorted = sortNum(answers);
      return {
        daemon_ready_10k_ms: Math.round(median(ready)),
        daemon_rss_10k_mb: median(rss),
        daemon_rss_10k_busy_mb: busyRss,
        daemon_anon_10k_mb: median(anon),
        daemon_anon_10k_busy_mb: busyAnon,
        daemon_busy_entries: entries,
        daemon_busy_commands: commands,
        keypad_answer_p50_us: round(percentile(sorted, 50)),
        keypad_answer_p99_us: round(percentile(sorted, 99)),
        unix_socket_rtt_p50_us: round(percentile(sortNum(socketRtts), 50)),
        keypad_commit_floor_us: round(percentile(sortNum(floors), 50)),
      };
    } finally {
      await client.close();
      kp.close();
      floorSock.close();
      commits.close();
      await d.stop();
    }
  } finally {
    await mosq.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}
