/**
 * The fleet's multi-process rig, shared by the fault suite (test/reliability/fleet.ts) and the scale
 * bench (test/bench/fleet.bench.ts): real agents in agent-host processes, real `panel-fleet` worker
 * processes (the binary as users run it, node itself so a SIGKILL reaches the worker), mosquitto,
 * and a PostgreSQL 15 server, all on loopback.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { SigningKey } from "../../protocol/index.js";
import { ApiClient } from "../fleet/http-client.js";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const FLEET_ADMIN = { email: "faults@fleet.test", password: "fleet fault suite password" };

export interface Worker {
  id: string;
  child: ChildProcess;
  url: string;
  api: ApiClient;
  alive: boolean;
  stderr: string;
  warnings: string[];
}

export interface AgentHost {
  child: ChildProcess;
  specFile: string;
  panels: string[];
}

/** What the rig's processes share: where they keep their files, the broker, the keys. */
export interface FleetRigContext {
  dir: string;
  brokerUrl: string;
  signing: SigningKey;
  signingKeyFile: string;
  codeKeyFile: string;
  databaseUrl: string;
  /** Worker lines that are not SIGKILL exits. */
  progress: (line: string) => void;
  /**
   * Run the workers from the build (`dist/src/bin/panel-fleet.js`, what users run; see buildDist)
   * rather than from the sources through tsx (the fault tests in `npm test`, which do not build).
   */
  built?: boolean;
  /** FLEET_EVENT_SHARE_GROUP for the workers: each event reaches (and is verified by) one of them, as on mosquitto in production. */
  eventShareGroup?: string;
}

/** `npm run build` once, so the workers run from dist/ as users run them. */
export function buildDist(progress: (line: string) => void): void {
  const t0 = Date.now();
  execFileSync("npm", ["run", "build"], { cwd: REPO_ROOT, stdio: ["ignore", "ignore", "inherit"] });
  progress(`built dist/ in ${Date.now() - t0} ms`);
}

/** Resolves with the first stdout match of `pattern`; rejects on exit or after `timeoutMs`. */
export function lineOf(child: ChildProcess, pattern: RegExp, timeoutMs: number, what: string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`${what}: no ${pattern} within ${timeoutMs} ms; output: ${buf.slice(-2000)}`)), timeoutMs);
    const onData = (d: Buffer) => {
      buf += d.toString();
      const m = pattern.exec(buf);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off("data", onData);
        resolve(m);
      }
    };
    child.stdout!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited ${code} before ${pattern}; output: ${buf.slice(-2000)}`));
    });
  });
}

export async function startHost(ctx: FleetRigContext, name: string, panels: string[], concurrency = 10): Promise<AgentHost> {
  const specFile = join(ctx.dir, `${name}.json`);
  writeFileSync(specFile, JSON.stringify({ brokerUrl: ctx.brokerUrl, trustedKeyHex: ctx.signing.publicRaw.toString("hex"), dir: join(ctx.dir, "agents"), panels, concurrency }));
  // FLEET_RIG_HOST_NODE_ARGS: node options for the agent hosts (e.g. --cpu-prof --cpu-prof-dir=DIR)
  const hostArgs = (process.env.FLEET_RIG_HOST_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const child = spawn(process.execPath, [...hostArgs, "--import", "tsx", "test/scale/agent-host.ts", specFile], { cwd: REPO_ROOT, stdio: ["pipe", "pipe", "inherit"] });
  await lineOf(child, /"ready":\d+/, 300_000, `agent host ${name}`);
  return { child, specFile, panels };
}

export async function stopHost(h: AgentHost): Promise<void> {
  if (h.child.exitCode !== null) return;
  const exited = new Promise((r) => h.child.once("exit", r));
  h.child.kill("SIGTERM");
  await exited;
}

export async function startWorker(ctx: FleetRigContext, id: string): Promise<Worker> {
  const env = {
    PATH: process.env.PATH ?? "", DATABASE_URL: ctx.databaseUrl, FLEET_CODE_KEY_FILE: ctx.codeKeyFile, FLEET_SIGNING_KEY_FILE: ctx.signingKeyFile,
    FLEET_BROKER_URL: ctx.brokerUrl, FLEET_WORKER_ID: id, FLEET_LOG_LEVEL: "warn", FLEET_ADMIN_EMAIL: FLEET_ADMIN.email, FLEET_ADMIN_PASSWORD: FLEET_ADMIN.password,
    ...(ctx.eventShareGroup ? { FLEET_EVENT_SHARE_GROUP: ctx.eventShareGroup } : {}),
  };
  // node itself (not the tsx wrapper script): SIGKILL must reach the worker, not a parent that leaves it running
  // FLEET_RIG_WORKER_NODE_ARGS: node options for the workers (e.g. --cpu-prof --cpu-prof-dir=DIR to profile them)
  const nodeArgs = (process.env.FLEET_RIG_WORKER_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const entry = ctx.built ? ["dist/src/bin/panel-fleet.js"] : ["--import", "tsx", "src/bin/panel-fleet.ts"];
  const child = spawn(process.execPath, [...nodeArgs, ...entry, "--port", "0"], { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  const w: Worker = { id, child, url: "", api: undefined as unknown as ApiClient, alive: true, stderr: "", warnings: [] };
  child.stderr.on("data", (d: Buffer) => (w.stderr = (w.stderr + d.toString()).slice(-20_000)));
  // the worker's log (pino JSON on stdout): its warnings and errors go into the details
  child.stdout.on("data", (d: Buffer) => {
    for (const line of d.toString().split("\n")) if (/"level":(40|50|60)/.test(line)) w.warnings.push(line.slice(0, 400));
  });
  child.once("exit", (code, signal) => {
    w.alive = false;
    if (signal !== "SIGKILL") ctx.progress(`worker ${id} exited ${code ?? signal}: ${w.stderr.trim().slice(-1500)}`);
  });
  w.url = (await lineOf(child, /listening on (http:\/\/\S+)/, 60_000, `worker ${id}`))[1]!;
  w.api = new ApiClient(w.url);
  // a worker that stops answering shows as a TimeoutError in the rig's figures, not as a test that never ends
  w.api.timeoutMs = 30_000;
  const r = await w.api.signIn(FLEET_ADMIN.email, FLEET_ADMIN.password);
  if (r.status !== 200) throw new Error(`worker ${id}: sign-in ${r.status}`);
  return w;
}

export async function stopWorker(w: Worker): Promise<void> {
  if (!w.alive) return;
  const exited = new Promise((r) => w.child.once("exit", r));
  w.child.kill("SIGTERM");
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (w.alive) w.child.kill("SIGKILL");
}

/**
 * Resets agents of a host at once: each is stopped, its database deleted (its keys stay: a new
 * epoch, lastSeq 0, an empty table) and started again. Resolves with the host's time for it.
 */
export async function resetAgents(h: AgentHost, panels: string[], timeoutMs = 300_000): Promise<number> {
  const done = lineOf(h.child, /\{"reset":\d+,"ms":(\d+)\}|\{"error":"([^"]*)"\}/, timeoutMs, "agent host reset");
  h.child.stdin!.write(`${JSON.stringify({ reset: panels })}\n`);
  const m = await done;
  if (m[2] !== undefined) throw new Error(`agent host reset: ${m[2]}`);
  return Number(m[1]);
}
