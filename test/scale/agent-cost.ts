/**
 * What one command envelope costs an agent when many agents share a process: one agent-host
 * process (test/scale/agent-host.ts, real `Agent`s, own SQLite, keys, MQTT session, keypad socket)
 * on a real mosquitto, and a CloudClient in this process sending one envelope per panel. Not in
 * `npm test`; a measurement, run by hand:
 *
 *   npx tsx test/scale/agent-cost.ts [--panels 200] [--rounds 3] [--phases single,five] [--prof DIR]
 *     [--perf FILE] [--host-args "--node-option ..."] [--json]
 *
 * Phases, each `rounds` times over every panel (one envelope per panel per round, all at once):
 *   single  one set_label per envelope
 *   five    set_code (sealed), set_label, set_role, set_partitions, set_schedule in one envelope
 *   ten     ten set_label of one slot in one envelope (what a queued command adds to a batch)
 * For each: the host's CPU (user + system, /proc/PID/stat) from the first send until every ack is
 * in and the agents' deferred work (retained state, outbox deletes) is done, minus the host's idle
 * CPU over the same time (measured first, over `--idle-s` seconds), per envelope; and the wall
 * time until the last ack. Floors measured in the same run, in this process: one Ed25519 verify +
 * two Ed25519 signs (the envelope, its ack, the state) and one bare SQLite commit with
 * WAL synchronous=FULL, per envelope.
 *
 * --prof DIR starts the host with --cpu-prof (the profile is written when it exits):
 * `node /tmp/tools/prof.mjs DIR 40` summarises it.
 */
import { spawn } from "node:child_process";
import { createPublicKey, sign, verify } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import { generateSigningKey } from "../../protocol/index.js";
import { CloudClient, type CommandInput, type Outcome } from "../../src/cloud/index.js";
import { Secret } from "../../src/domain/index.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { lineOf, REPO_ROOT } from "./fleet-rig.js";

const { values: args } = parseArgs({
  options: {
    panels: { type: "string", default: "200" },
    rounds: { type: "string", default: "3" },
    "idle-s": { type: "string", default: "3" },
    prof: { type: "string" },
    perf: { type: "string" },
    "host-args": { type: "string", default: "" },
    phases: { type: "string", default: "single,five" },
    json: { type: "boolean", default: false },
  },
});
const N = Number(args.panels);
const ROUNDS = Number(args.rounds);
const IDLE_S = Number(args["idle-s"]);

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** System CPU seconds alone (fsync, writes, sockets). */
function sysOf(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[12]) / 100;
}

/** Monotonic microseconds, the clock V8's profiles use (CLOCK_MONOTONIC on Linux). */
const monoUs = () => Number(process.hrtime.bigint() / 1000n);

interface CpuProfile { nodes: unknown[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

/** Keeps only the samples inside `windows` (monotonic µs) of each profile in `dir`, written to dir/name/. */
function trimProfiles(dir: string, name: string, windows: [number, number][]): void {
  const outDir = join(dir, name);
  mkdirSync(outDir, { recursive: true });
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".cpuprofile"))) {
    const p = JSON.parse(readFileSync(join(dir, f), "utf8")) as CpuProfile;
    const samples: number[] = [];
    const deltas: number[] = [];
    let t = p.startTime;
    for (let i = 0; i < p.samples.length; i++) {
      t += p.timeDeltas[i] ?? 0;
      if (windows.some(([a, b]) => t >= a && t <= b)) {
        samples.push(p.samples[i]!);
        deltas.push(p.timeDeltas[i] ?? 0);
      }
    }
    writeFileSync(join(outDir, f), JSON.stringify({ ...p, samples, timeDeltas: deltas }));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Promise.all, or a rejection naming how many are still unresolved after `ms` (a stuck run says so instead of hanging). */
async function allWithin<T>(promises: Promise<T>[], ms: number, what: string): Promise<T[]> {
  let done = 0;
  for (const p of promises) void p.then(() => done++, () => done++);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: ${promises.length - done} of ${promises.length} sends unresolved after ${ms} ms`)), ms)));
  try {
    return await Promise.race([Promise.all(promises), late]);
  } finally {
    clearTimeout(timer);
  }
}

function mustApply(outs: Outcome[], what: string): void {
  const bad = outs.filter((o) => o.status !== "applied");
  if (bad.length) throw new Error(`${what}: ${bad.length} of ${outs.length} not applied, e.g. ${JSON.stringify(bad[0])}`);
}

/** Per envelope, in this process: 1 verify + 2 signs (Ed25519), and one bare SQLite commit (WAL, synchronous=FULL). */
function floors(dir: string): { cryptoMs: number; commitMs: number } {
  const key = generateSigningKey();
  const msg = Buffer.alloc(300, 7);
  const sig = sign(null, msg, key.privateKey);
  const publicKey = createPublicKey(key.privateKey);
  const t0 = performance.now();
  for (let i = 0; i < 500; i++) {
    verify(null, msg, publicKey, sig);
    sign(null, msg, key.privateKey);
    sign(null, msg, key.privateKey);
  }
  const cryptoMs = (performance.now() - t0) / 500;
  const db = new Database(join(dir, "floor.db"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
  const ins = db.prepare("INSERT INTO t (v) VALUES (?)");
  const c0 = performance.now();
  for (let i = 0; i < 200; i++) ins.run(msg);
  const commitMs = (performance.now() - c0) / 200;
  db.close();
  return { cryptoMs, commitMs };
}

const fiveOf = (panel: string, round: number): CommandInput[] => {
  const slot = 10 + round;
  return [
    { kind: "set_code", slot, code: new Secret(String(1000 + ((round * 7919 + panel.length * 31) % 9000))) },
    { kind: "set_label", slot, label: `five ${round}` },
    { kind: "set_role", slot, role: "User" },
    { kind: "set_partitions", slot, partitions: [1] },
    { kind: "set_schedule", slot, schedule: { kind: "weekly", windows: [{ days: [1, 2, 3, 4, 5], start: 480, end: 1080 }] } },
  ];
};

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "agent-cost-"));
  const mosq = await new Mosquitto({ maxQueuedMessages: 100_000 }).start();
  const key = generateSigningKey();
  const panels = Array.from({ length: N }, (_, i) => `cost-${String(i).padStart(4, "0")}`);
  const specFile = join(dir, "host.json");
  writeFileSync(specFile, JSON.stringify({ brokerUrl: mosq.url, trustedKeyHex: key.publicRaw.toString("hex"), dir: join(dir, "agents"), panels, concurrency: 10 }));
  const nodeArgs = [...(args.prof ? ["--cpu-prof", `--cpu-prof-dir=${args.prof}`] : []), ...(args.perf ? ["--perf-basic-prof"] : []), ...args["host-args"].split(" ").filter(Boolean)];
  const host = spawn(process.execPath, [...nodeArgs, "--import", "tsx", "test/scale/agent-host.ts", specFile], { cwd: REPO_ROOT, stdio: ["pipe", "pipe", "inherit"] });
  const client = new CloudClient({ url: mosq.url, signingKey: key, ackTimeoutMs: 120_000 });
  const out: Record<string, number> = {};
  const windowsOf = new Map<string, [number, number][]>();
  try {
    const ready = JSON.parse((await lineOf(host, /\{"ready".*\}/, 600_000, "agent host"))[0]) as { ms: number; rssMb: number };
    out.host_start_ms = ready.ms;
    const f = floors(dir);
    await client.connect();
    const pid = host.pid!;

    // Warm-up: every panel gets its counter known, its identity pinned and slot 2 a code.
    mustApply(await allWithin(panels.map((p) => client.send(p, { kind: "set_code", slot: 2, code: new Secret("2580") })), 180_000, "warm-up"), "warm-up");
    mustApply(await allWithin(panels.map((p) => client.send(p, { kind: "set_label", slot: 2, label: "warm" })), 180_000, "warm-up"), "warm-up");
    await sleep(1500);

    // The host's idle CPU: timers, keepalives.
    const i0 = cpuOf(pid);
    const mi = monoUs();
    await sleep(IDLE_S * 1000);
    windowsOf.set("idle", [[mi, monoUs()]]);
    const idlePerS = (cpuOf(pid) - i0) / IDLE_S;
    out.idle_cpu_ms_per_s = +(idlePerS * 1000).toFixed(1);

    const phase = async (name: string, make: (panel: string, round: number) => CommandInput[]) => {
      const windows: [number, number][] = [];
      windowsOf.set(name, windows);
      let sys = 0;
      let cpu = 0;
      let wall = 0;
      let span = 0;
      for (let r = 0; r < ROUNDS; r++) {
        const c0 = cpuOf(pid);
        const s0 = sysOf(pid);
        const m0 = monoUs();
        const t0 = performance.now();
        const pending: Promise<Outcome>[] = [];
        // one envelope per panel: the sends of a panel in one synchronous go (the client batches them)
        for (const p of panels) for (const input of make(p, r)) pending.push(client.send(p, input));
        mustApply(await allWithin(pending, 180_000, `${name} round ${r}`), name);
        const tAck = performance.now();
        wall += tAck - t0;
        // the agents' deferred work: the retained state (250 ms), outbox deletes (200 ms)
        await sleep(800);
        const t1 = performance.now();
        span += t1 - t0;
        cpu += cpuOf(pid) - c0 - idlePerS * ((t1 - t0) / 1000);
        sys += sysOf(pid) - s0;
        windows.push([m0, monoUs()]);
      }
      const envelopes = ROUNDS * N;
      out[`${name}_cpu_ms_per_envelope`] = +((cpu * 1000) / envelopes).toFixed(3);
      out[`${name}_sys_ms_per_envelope`] = +((sys * 1000) / envelopes).toFixed(3);
      out[`${name}_wall_ms_per_round`] = Math.round(wall / ROUNDS);
      out[`${name}_envelopes_per_s_of_cpu`] = Math.round(envelopes / Math.max(cpu, 1e-6));
      void span;
    };
    // --perf FILE: `perf record` of the host over the phases (perf report -i FILE --sort dso,sym)
    const perf = args.perf ? spawn("perf", ["record", "-F", "999", "-g", "-p", String(pid), "-o", args.perf], { stdio: "ignore" }) : undefined;
    if (perf) await sleep(1000);
    const phases = args.phases.split(",");
    if (phases.includes("single")) await phase("single", (p, r) => [{ kind: "set_label", slot: 2, label: `single ${r}` }]);
    if (phases.includes("five")) await phase("five", fiveOf);
    // ten label changes of one slot in one envelope: what a queued command adds to a batch
    if (phases.includes("ten")) await phase("ten", (p, r) => Array.from({ length: 10 }, (_, i) => ({ kind: "set_label" as const, slot: 2, label: `ten ${r}.${i}` })));
    if (perf) {
      const done = new Promise((r) => perf.once("exit", r));
      perf.kill("SIGINT");
      await done;
    }
    out.floor_crypto_ms_per_envelope = +f.cryptoMs.toFixed(3);
    out.floor_commit_ms = +f.commitMs.toFixed(3);
    out.panels = N;
    out.rounds = ROUNDS;
  } finally {
    await client.close().catch(() => {});
    const exited = new Promise((r) => host.once("exit", r));
    host.kill("SIGTERM");
    await exited;
    await mosq.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
  if (args.prof) for (const [name, windows] of windowsOf) trimProfiles(args.prof, name, windows);
  if (args.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else for (const [k, v] of Object.entries(out)) process.stdout.write(`${k.padEnd(34)} ${v}\n`);
}

await main();
