/**
 * The device install, for real: the README's install block run (under a temporary prefix) on a
 * copy of this checkout, then the built daemon started from the installed tree as the systemd
 * unit would (its ExecStart flags and Environment, NOTIFY_SOCKET and WATCHDOG_USEC set), against
 * a real mosquitto. Nothing is read from the checkout once installed: the daemon runs with the
 * prefix as its working directory.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSigningKey } from "../../protocol/index.js";
import { installDevice, installScript, readmeInstallBlock, type DeviceInstall } from "../helpers/device-install.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { NotifySocket } from "../helpers/notify-socket.js";
import { tempDirs } from "../helpers/tmp.js";

const dirs = tempDirs();
let install: DeviceInstall;
let broker: Mosquitto;
const children: ChildProcess[] = [];

beforeAll(async () => {
  install = installDevice(dirs.make("panel-agent-install-"));
  broker = await new Mosquitto().start();
}, 240_000);

afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await broker?.dispose();
  dirs.cleanup();
});

const WATCHDOG_USEC = 1_000_000; // systemd would ping-check every 1 s; the agent pings every 0.5 s

/** What an installer does to the example config: the broker, its CA, the cloud's key. */
function editConfig(): void {
  const config = JSON.parse(readFileSync(install.configPath, "utf8")) as { broker: Record<string, unknown>; trustedCloudKeys: string[] };
  config.broker.url = broker.url;
  delete config.broker.tls; // the test broker is plain TCP on loopback
  config.trustedCloudKeys = [generateSigningKey().publicRaw.toString("hex")];
  writeFileSync(install.configPath, JSON.stringify(config, null, 2)); // an existing file keeps its mode
}

async function startDaemon(notify: NotifySocket): Promise<{ child: ChildProcess; log: () => string; exit: Promise<number | null> }> {
  const [node, ...args] = install.execStart;
  const child = spawn(node!, args, {
    cwd: install.prefix,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      ...install.env,
      NOTIFY_SOCKET: notify.path,
      WATCHDOG_USEC: String(WATCHDOG_USEC),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, log: () => out, exit };
}

async function until<T>(what: () => T | undefined | false, timeoutMs: number, label: string, log?: () => string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = what();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${label}${log ? `\n${log()}` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("device install (README 'Installing on a device')", () => {
  it("runs every line of the README's block but the host-changing ones", () => {
    const lines = readmeInstallBlock();
    expect(installScript(lines)).toHaveLength(lines.length - 3); // useradd, cp unit, systemctl
  });

  it("lays out the tree with the config 0640 and only runtime packages", () => {
    expect(statSync(install.configPath).mode & 0o777).toBe(0o640);
    expect(existsSync(join(install.home, "dist", "src", "bin", "panel-agent.js"))).toBe(true);
    const modules = readdirSync(join(install.home, "node_modules"));
    for (const dev of ["tsx", "esbuild", "vitest", "typescript", "aedes", "eslint", "fast-check"]) expect(modules).not.toContain(dev);
    // panel-fleet's database drivers (optional dependencies) are not on the device
    for (const fleetOnly of ["pg", "@electric-sql/pglite"]) expect(existsSync(join(install.home, "node_modules", fleetOnly))).toBe(false);
    for (const runtime of ["better-sqlite3", "mqtt", "cbor-x", "pino", "zod", "node-cron"]) expect(modules).toContain(runtime);
    const du = spawnSync("du", ["-sk", install.home], { encoding: "utf8" });
    console.log(`installed tree: ${Number(du.stdout.split(/\s/)[0]) / 1024} MiB in ${install.home}`);
  });

  it("answers --help and --version from the installed tree", () => {
    const [node, ...args] = install.execStart;
    const daemon = args.find((a) => a.endsWith("panel-agent.js"))!;
    const version = spawnSync(node!, [daemon, "--version"], { cwd: install.prefix, encoding: "utf8" });
    expect(version.stderr).toBe("");
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(/^panel-agent \d+\.\d+\.\d+\n$/);
    const help = spawnSync(node!, [daemon, "--help"], { cwd: install.prefix, encoding: "utf8" });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("Exit codes");
  });

  it("refuses the example config until its placeholder key is replaced (exit 78, field path)", () => {
    const [node, ...args] = install.execStart;
    const run = spawnSync(node!, args, { cwd: install.prefix, env: { PATH: process.env.PATH, ...install.env }, encoding: "utf8" });
    expect(run.status).toBe(78);
    expect(run.stderr).toContain("trustedCloudKeys.0:");
  });

  it("starts once the installer has edited the config: READY=1, pings WATCHDOG=1 at half the interval, and on SIGTERM says STOPPING=1 and exits 0", async () => {
    editConfig();
    const notify = await new NotifySocket(dirs.make()).start();
    try {
      const d = await startDaemon(notify);
      const ready = await until(() => notify.with("READY")[0], 15_000, "READY=1", d.log);
      expect(ready.fields.MAINPID).toBe(String(d.child.pid));
      expect(existsSync(install.socketPath)).toBe(true);
      await until(() => notify.with("WATCHDOG").length >= 4, 10_000, "four WATCHDOG=1");
      const pings = notify.with("WATCHDOG").map((n) => n.at);
      const gaps = pings.slice(1).map((t, i) => t - pings[i]!);
      for (const gap of gaps) {
        expect(gap).toBeGreaterThan(300);
        expect(gap).toBeLessThan(1_000);
      }
      d.child.kill("SIGTERM");
      expect(await d.exit).toBe(0);
      expect(notify.with("STOPPING")).toHaveLength(1);
      expect(existsSync(install.socketPath)).toBe(false);
    } finally {
      notify.stop();
    }
  }, 60_000);

  it("withholds the watchdog ping while the keypad socket is gone or the database file was replaced, and says why", async () => {
    for (const fault of ["socket", "database"] as const) {
      const notify = await new NotifySocket(dirs.make()).start();
      try {
        const d = await startDaemon(notify);
        await until(() => notify.with("READY")[0], 15_000, "READY=1", d.log);
        await until(() => notify.with("WATCHDOG").length >= 2, 10_000, "pings");
        if (fault === "socket") unlinkSync(install.socketPath);
        else renameSync(join(install.stateDir, "panel-agent.db"), join(install.stateDir, "moved.db"));
        await until(() => d.log().includes("watchdog pings withheld"), 5_000, "the unhealthy log line");
        const before = notify.with("WATCHDOG").length;
        await new Promise((r) => setTimeout(r, 1_500)); // three ping intervals
        expect(notify.with("WATCHDOG").length).toBe(before);
        expect(d.log()).toContain(fault === "socket" ? "keypad socket" : "database file");
        d.child.kill("SIGKILL");
        await d.exit;
      } finally {
        notify.stop();
        if (fault === "database") {
          renameSync(join(install.stateDir, "moved.db"), join(install.stateDir, "panel-agent.db"));
          rmSync(install.socketPath, { force: true });
        }
      }
    }
  }, 60_000);
});
