/** The panel-agent binary as a supervisor sees it: exit codes, config errors, SIGTERM. */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { decodeStatus, generateSigningKey, type Status } from "../../protocol/index.js";
import { startEmbeddedBroker, type EmbeddedBroker } from "../../src/sync/embedded-broker.js";
import { CloudPeer } from "../helpers/agent-harness.js";
import { tempDirs } from "../helpers/tmp.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
// One process (node with tsx's loader), so SIGKILL reaches the agent itself, not a wrapper.
const agentArgs = (...args: string[]) => ["--import", "tsx", "src/bin/panel-agent.ts", ...args];
const dirs = tempDirs();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  dirs.cleanup();
});

function config(dir: string, url: string, extra: Record<string, unknown> = {}): string {
  const path = join(dir, "config.json");
  mkdirSync(join(dir, "state"), { recursive: true });
  writeFileSync(path, JSON.stringify({
    panelId: "panel-1", panelType: "DSC", codeLength: 4, timeZone: "Europe/Berlin",
    stateDir: join(dir, "state"), keypadSocket: join(dir, "keypad.sock"),
    broker: { url }, trustedCloudKeys: [generateSigningKey().publicRaw.toString("hex")], ...extra,
  }));
  return path;
}

describe("panel-agent daemon", () => {
  it("names every bad field and exits 78 on a bad config", () => {
    const dir = dirs.make();
    const path = config(dir, "http://nope", { panelType: "Acme", codeLength: 5 });
    const out = spawnSync(process.execPath, agentArgs("--config", path), { cwd: root, encoding: "utf8" });
    expect(out.status).toBe(78);
    expect(out.stderr).toContain("panelType:");
    expect(out.stderr).toContain("broker.url:");
  });

  it("refuses a missing state directory and a missing socket directory, naming each path (exit 73)", () => {
    const dir = dirs.make();
    const path = config(dir, "mqtt://127.0.0.1:1", { stateDir: join(dir, "typo", "state"), keypadSocket: join(dir, "run", "keypad.sock") });
    const out = spawnSync(process.execPath, agentArgs("--config", path), { cwd: root, encoding: "utf8" });
    expect(out.status).toBe(73);
    expect(out.stderr).toContain(`state directory ${join(dir, "typo", "state")} (stateDir) does not exist (ENOENT)`);
    expect(out.stderr).toContain(`keypad socket directory ${join(dir, "run")} (keypadSocket) does not exist (ENOENT)`);
    expect(existsSync(join(dir, "typo"))).toBe(false);
  });

  it("refuses a malformed trusted key as a config error with its field path (exit 78)", () => {
    const dir = dirs.make();
    const out = spawnSync(process.execPath, agentArgs("--config", config(dir, "mqtt://127.0.0.1:1", { trustedCloudKeys: ["hello-world"] })), { cwd: root, encoding: "utf8" });
    expect(out.status).toBe(78);
    expect(out.stderr).toContain("trustedCloudKeys.0: an Ed25519 public key");
  });

  it("prints --version and --help", () => {
    const version = spawnSync(process.execPath, agentArgs("--version"), { cwd: root, encoding: "utf8" });
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(/^panel-agent \d+\.\d+\.\d+\n$/);
    const help = spawnSync(process.execPath, agentArgs("--help"), { cwd: root, encoding: "utf8" });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("--config FILE");
  });

  it("exits 64 without --config", () => {
    const out = spawnSync(process.execPath, agentArgs(), { cwd: root, encoding: "utf8", env: { ...process.env, PANEL_AGENT_CONFIG: "" } });
    expect(out.status).toBe(64);
  });

  it("runs, then on SIGTERM publishes offline, closes and exits 0", async () => {
    const { broker, peer, statuses } = await brokerAndPeer();
    const dir = dirs.make();
    const child = spawn(process.execPath, agentArgs("--config", config(dir, broker.url)), { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    child.stdout.on("data", (d: Buffer) => (log += d.toString()));
    cleanups.push(() => void child.kill("SIGKILL"));
    await peer.until(() => peer.state, 20_000);
    await peer.until(() => log.includes("agent ready"), 10_000);
    const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    expect(await exit).toBe(0);
    const last = await peer.until(() => lastStatus(statuses)?.status === "offline" && lastStatus(statuses));
    expect(last.reason).toBe("shutdown");
    expect(log).toContain("stopping");
  });

  it("is reported offline by its last will when it dies without a goodbye", async () => {
    const { broker, peer, statuses } = await brokerAndPeer();
    const child = spawn(process.execPath, agentArgs("--config", config(dirs.make(), broker.url)), { cwd: root, stdio: "ignore" });
    cleanups.push(() => void child.kill("SIGKILL"));
    await peer.until(() => lastStatus(statuses)?.status === "online", 20_000);
    child.kill("SIGKILL");
    const last = await peer.until(() => lastStatus(statuses)?.status === "offline" && lastStatus(statuses));
    expect(last.reason).toBe("connection_lost");
  });
});

/** An embedded broker and a cloud peer that records every retained status message. */
async function brokerAndPeer(): Promise<{ broker: EmbeddedBroker; peer: CloudPeer; statuses: string[] }> {
  const broker = await startEmbeddedBroker();
  cleanups.push(() => broker.close());
  const peer = await new CloudPeer(broker.url, "panel-1").connect();
  cleanups.push(() => peer.close());
  const statuses: string[] = [];
  peer.client.on("message", (topic, payload) => {
    if (topic === peer.topics.status) statuses.push(payload.toString("hex"));
  });
  return { broker, peer, statuses };
}

function lastStatus(statuses: string[]): Status | undefined {
  const s = statuses.at(-1);
  if (!s) return undefined;
  const d = decodeStatus(Buffer.from(s, "hex"));
  return d.ok ? d.value : undefined;
}
