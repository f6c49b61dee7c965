/**
 * Reliability harness: runs panel-agent as a child process (the way systemd does), kills it with
 * SIGKILL, restarts it, taps the MQTT connection to see which PUBLISHes the agent PUBACKed, and
 * inspects the state directory afterwards. Used by the suites in this folder (vitest short runs
 * and `npm run reliability`).
 *
 * Everything here is loopback-only and bounded: every wait has a deadline, every child process is
 * registered and killed on exit.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, type WriteStream } from "node:fs";
import { connect, createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import mqtt, { type MqttClient } from "mqtt";
import { decodeCbor, envelopeSchema, idSchema, type AnyAck, type Outcome, type WireEvent } from "../../protocol/index.js";
import type { CloudPeer } from "../helpers/agent-harness.js";
import { seededRandom, type Random } from "../helpers/random.js";
import { waitOrGiveUp } from "../helpers/wait.js";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const PANEL_ID = "panel-1";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value, or gives undefined at the deadline (the suites count what did not happen). */
export const waitFor = waitOrGiveUp;

/** The seeded random source, so a failing run can be repeated with its seed. */
export const rng = seededRandom;
export type Rng = Random;

// ------------------------------------------------------------------------------------------
// temp dirs and child processes, cleaned up on exit whatever happens

const liveChildren = new Set<ChildProcess>();
const madeDirs = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const c of liveChildren) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  });
}

export function tempDir(prefix = "rel-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  madeDirs.add(d);
  return d;
}

export function removeTempDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
  madeDirs.delete(d);
}

/** Kills every agent child still running (SIGKILL) — for afterAll/finally. */
export async function killStrays(): Promise<void> {
  await Promise.all([...liveChildren].map((c) => killChild(c)));
}

function killChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    c.once("exit", () => resolve());
    c.kill("SIGKILL");
  });
}

// ------------------------------------------------------------------------------------------
// the agent as a child process

export interface AgentFiles {
  dir: string;
  stateDir: string;
  socket: string;
  configPath: string;
  logPath: string;
}

/** Writes an agent config (the JSON `src/config.ts` reads) into `dir`. */
export function writeAgentConfig(dir: string, brokerUrl: string, trustedKeyHex: string, extra: Record<string, unknown> = {}): AgentFiles {
  mkdirSync(dir, { recursive: true });
  const files: AgentFiles = {
    dir,
    stateDir: join(dir, "state"),
    socket: join(dir, "kp.sock"),
    configPath: join(dir, "agent.json"),
    logPath: join(dir, "agent.log"),
  };
  // The daemon refuses a missing state directory (systemd's StateDirectory makes it on a device).
  mkdirSync(files.stateDir, { recursive: true, mode: 0o750 });
  const config = {
    panelId: PANEL_ID,
    panelType: "DSC",
    codeLength: 4,
    timeZone: "Europe/Berlin",
    doorLocks: ["front"],
    stateDir: files.stateDir,
    keypadSocket: files.socket,
    broker: { url: brokerUrl, protocolVersion: 4, keepaliveSeconds: 10 },
    trustedCloudKeys: [trustedKeyHex],
    logLevel: "info",
    ...extra,
  };
  writeFileSync(files.configPath, JSON.stringify(config, null, 2));
  return files;
}

export interface ExitRecord {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** true when the harness asked for it (kill/stop). */
  expected: boolean;
}

/**
 * panel-agent as a child: `node --import tsx src/bin/panel-agent.ts --config FILE` (node itself,
 * not the tsx CLI, so that SIGKILL hits the agent and not a wrapper). stdout/stderr are appended
 * to `logPath` (every run of the same files appends: the secrets scan reads it all).
 */
export class AgentProcess {
  #child: ChildProcess | undefined;
  #log: WriteStream;
  #out = "";
  #expectExit = false;
  readonly exits: ExitRecord[] = [];
  starts = 0;

  constructor(readonly files: AgentFiles, readonly opts: { nodeOptions?: string; readyTimeoutMs?: number } = {}) {
    installExitHook();
    this.#log = createWriteStream(files.logPath, { flags: "a" });
  }

  get alive(): boolean {
    const c = this.#child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Unexpected exits so far (a crash: the agent died without being asked). */
  get crashes(): ExitRecord[] {
    return this.exits.filter((e) => !e.expected);
  }

  /** Spawns the agent; resolves once it logged "agent ready" (or, with `waitReady: false`, at once). */
  async start(waitReady = true): Promise<void> {
    if (this.alive) throw new Error("agent already running");
    this.#out = "";
    this.#expectExit = false;
    this.starts++;
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: [process.env.NODE_OPTIONS ?? "", this.opts.nodeOptions ?? ""].join(" ").trim() };
    delete env.PANEL_AGENT_CONFIG;
    const child = spawn(process.execPath, ["--import", "tsx", "src/bin/panel-agent.ts", "--config", this.files.configPath], {
      cwd: REPO_ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#child = child;
    liveChildren.add(child);
    const onData = (d: Buffer) => {
      this.#log.write(d);
      if (this.#out.length < 1 << 16) this.#out += d.toString("utf8");
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code, signal) => {
      liveChildren.delete(child);
      this.exits.push({ code, signal, expected: this.#expectExit });
    });
    if (!waitReady) return;
    const ok = await waitFor(() => this.#out.includes('"agent ready"') || child.exitCode !== null || child.signalCode !== null, this.opts.readyTimeoutMs ?? 30_000, 10);
    if (!ok || !this.#out.includes('"agent ready"')) {
      const tail = this.#out.slice(-2000);
      await killChild(child);
      throw new Error(`agent did not become ready (exit ${child.exitCode ?? child.signalCode}):\n${tail}`);
    }
  }

  /** SIGKILL, waits for the exit. */
  async kill(): Promise<void> {
    const c = this.#child;
    if (!c || !this.alive) return;
    this.#expectExit = true;
    await killChild(c);
  }

  /** SIGTERM (clean stop), SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 5000): Promise<void> {
    const c = this.#child;
    if (!c || !this.alive) return;
    this.#expectExit = true;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => c.kill("SIGKILL"), timeoutMs);
      c.once("exit", () => {
        clearTimeout(t);
        resolve();
      });
      c.kill("SIGTERM");
    });
  }

  /** Resident set size of the child in MB (Linux /proc), or undefined. */
  rssMb(): number | undefined {
    const pid = this.pid;
    if (!pid || !this.alive) return undefined;
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      return m ? Number(m[1]) / 1024 : undefined;
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    await this.kill();
    await new Promise<void>((r) => this.#log.end(() => r()));
  }
}

// ------------------------------------------------------------------------------------------
// MQTT tap: a TCP proxy between the agent and the broker that reads the MQTT 3.1.1 frames and
// records which commands the agent PUBACKed (the broker's view of "delivered").

/** Command ids (and batch ids) inside a command envelope, read without verifying anything. */
export function peekCommandIds(payload: Uint8Array): { ids: string[]; batchId?: string } {
  const env = decodeCbor(payload);
  if (!env.ok) return { ids: [] };
  const e = envelopeSchema.safeParse(env.value);
  if (!e.success) return { ids: [] };
  const body = decodeCbor(e.data.body);
  if (!body.ok || typeof body.value !== "object" || body.value === null) return { ids: [] };
  const b = body.value as { v?: unknown; t?: unknown; id?: unknown; cmd?: { id?: unknown }; cmds?: { id?: unknown }[] };
  // a body of another protocol major may lay out its ids differently: nothing is "readable" there
  if (b.v !== 1) return { ids: [] };
  if (b.t === "batch") {
    const ids = Array.isArray(b.cmds) ? b.cmds.map((c) => c?.id).filter((x): x is string => typeof x === "string") : [];
    return idSchema.safeParse(b.id).success ? { ids, batchId: b.id as string } : { ids };
  }
  if (b.t === "cmd" && b.cmd && idSchema.safeParse(b.cmd.id).success) return { ids: [b.cmd.id as string] };
  return { ids: [] };
}

function readVarint(buf: Buffer, at: number): { value: number; len: number } | undefined {
  let value = 0;
  let mult = 1;
  for (let i = 0; i < 4; i++) {
    if (at + i >= buf.length) return undefined;
    const b = buf[at + i]!;
    value += (b & 0x7f) * mult;
    if ((b & 0x80) === 0) return { value, len: i + 1 };
    mult *= 128;
  }
  return undefined;
}

/** Splits complete MQTT frames off the front of `buf`; returns the frames and the remainder. */
function frames(buf: Buffer): { frames: Buffer[]; rest: Buffer } {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    if (buf.length - at < 2) break;
    const len = readVarint(buf, at + 1);
    if (!len) break;
    const total = 1 + len.len + len.value;
    if (buf.length - at < total) break;
    out.push(buf.subarray(at, at + total));
    at += total;
  }
  return { frames: out, rest: buf.subarray(at) };
}

export class PubackTap {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  port = 0;
  /** Command ids whose PUBLISH the agent PUBACKed to the broker. */
  readonly pubacked = new Set<string>();
  pubacks = 0;

  constructor(readonly upstreamPort: number) {
    this.#server = createServer((down) => this.#onConnection(down));
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.#server.listen(0, "127.0.0.1", () => r()));
    const a = this.#server.address();
    this.port = typeof a === "object" && a ? a.port : 0;
    return this;
  }

  #onConnection(down: Socket): void {
    const up = connect(this.upstreamPort, "127.0.0.1");
    down.setNoDelay(true);
    up.setNoDelay(true);
    this.#sockets.add(down);
    this.#sockets.add(up);
    const inflight = new Map<number, string[]>();
    let fromBroker = Buffer.alloc(0);
    let fromAgent = Buffer.alloc(0);
    up.on("data", (d: Buffer) => {
      down.write(d);
      const f = frames(Buffer.concat([fromBroker, d]));
      fromBroker = Buffer.from(f.rest);
      for (const fr of f.frames) {
        const type = fr[0]! >> 4;
        const qos = (fr[0]! >> 1) & 3;
        if (type !== 3 || qos === 0) continue;
        const len = readVarint(fr, 1)!;
        let at = 1 + len.len;
        const topicLen = fr.readUInt16BE(at);
        at += 2 + topicLen;
        const packetId = fr.readUInt16BE(at);
        at += 2;
        inflight.set(packetId, peekCommandIds(fr.subarray(at)).ids);
      }
    });
    down.on("data", (d: Buffer) => {
      up.write(d);
      const f = frames(Buffer.concat([fromAgent, d]));
      fromAgent = Buffer.from(f.rest);
      for (const fr of f.frames) {
        if (fr[0]! >> 4 !== 4 || fr.length < 4) continue;
        const packetId = fr.readUInt16BE(2);
        const ids = inflight.get(packetId);
        this.pubacks++;
        if (ids) for (const id of ids) this.pubacked.add(id);
        inflight.delete(packetId);
      }
    });
    const close = () => {
      down.destroy();
      up.destroy();
      this.#sockets.delete(down);
      this.#sockets.delete(up);
    };
    up.on("close", close);
    down.on("close", close);
    up.on("error", close);
    down.on("error", close);
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}

// ------------------------------------------------------------------------------------------
// a third MQTT client that records every payload on the broker (for the secrets scan)

export class MqttCapture {
  client!: MqttClient;
  readonly payloads: { topic: string; payload: Buffer }[] = [];
  bytes = 0;
  constructor(readonly url: string, readonly maxBytes = 512 * 1024 * 1024) {}

  async connect(): Promise<this> {
    this.client = await mqtt.connectAsync(this.url, { clientId: `capture-${Math.random().toString(36).slice(2)}`, clean: true, reconnectPeriod: 200 });
    this.client.on("message", (topic, payload) => {
      if (this.bytes > this.maxBytes) return;
      this.bytes += payload.length;
      this.payloads.push({ topic, payload });
    });
    await this.client.subscribeAsync("#", { qos: 1 });
    return this;
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

// ------------------------------------------------------------------------------------------
// cloud peer bookkeeping: acks and events by id, incrementally (CloudPeer.outcome is a scan)

export class AckBook {
  readonly byId = new Map<string, Outcome[]>();
  readonly batchErrors = new Map<string, AnyAck>();
  readonly events: WireEvent[] = [];
  #ackCursor = 0;
  #evtCursor = 0;
  constructor(readonly peer: CloudPeer) {}

  /** Takes in what the peer received since the last call. */
  sync(): void {
    const acks = this.peer.acks;
    for (; this.#ackCursor < acks.length; this.#ackCursor++) {
      const a = acks[this.#ackCursor]!;
      const outs = a.t === "ack" ? [a.ack] : a.acks;
      if (a.t === "batch_ack" && a.error) this.batchErrors.set(a.id ?? "-", a);
      for (const o of outs) {
        if (o.id === undefined) continue;
        const list = this.byId.get(o.id);
        if (list) list.push(o);
        else this.byId.set(o.id, [o]);
      }
    }
    const evs = this.peer.events;
    for (; this.#evtCursor < evs.length; this.#evtCursor++) this.events.push(evs[this.#evtCursor]!);
  }

  first(id: string): Outcome | undefined {
    this.sync();
    return this.byId.get(id)?.[0];
  }

  /** Event numbers in arrival order, deduplicated (first arrival kept). */
  eventOrder(): { outOfOrder: number; distinct: number } {
    this.sync();
    const seen = new Set<number>();
    let last = 0;
    let outOfOrder = 0;
    for (const e of this.events) {
      if (seen.has(e.n)) continue;
      seen.add(e.n);
      if (e.n <= last) outOfOrder++;
      last = Math.max(last, e.n);
    }
    return { outOfOrder, distinct: seen.size };
  }
}

// ------------------------------------------------------------------------------------------
// the keypad socket (line protocol, src/keypad/protocol.md)

/**
 * One entry at the keypad: connect, hello as `keypadId`, send `{t:"entry"}`, return the result
 * display's line2 ("Access granted — …", "Access denied", "Keypad locked N s"), or undefined if
 * the agent did not answer (killed, not listening).
 */
export async function keypadEntry(socketPath: string, keypadId: string, code: string, action: "arm_away" | "disarm" | "auto" = "arm_away", timeoutMs = 3000): Promise<string | undefined> {
  if (!existsSync(socketPath)) return undefined;
  return new Promise((resolve) => {
    let buf = "";
    let phase: "hello" | "entry" = "hello";
    let done = false;
    const s = createConnection(socketPath);
    const finish = (v: string | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    s.setEncoding("utf8");
    s.on("error", () => finish(undefined));
    s.on("close", () => finish(undefined));
    s.on("connect", () => s.write(`${JSON.stringify({ t: "hello", keypad: keypadId, partitions: [1] })}\n`));
    s.on("data", (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf("\n")) !== -1) {
        const m = JSON.parse(buf.slice(0, nl)) as { t: string; line2?: string };
        buf = buf.slice(nl + 1);
        if (phase === "hello" && m.t === "display") {
          phase = "entry";
          s.write(`${JSON.stringify({ t: "entry", action, code })}\n`);
        } else if (phase === "entry" && m.t === "display" && typeof m.line2 === "string" && /granted|denied|locked|unavailable/i.test(m.line2)) {
          finish(m.line2);
        } else if (m.t === "error") finish(`error:${JSON.stringify(m)}`);
      }
    });
  });
}

// ------------------------------------------------------------------------------------------
// the state directory after the agent stopped

export interface DbReport {
  integrity: string;
  slots: Map<number, { label: string; codeSet: boolean; version: number; codeDigest: string | null; raw: Record<string, unknown> }>;
  applied: Map<string, { seq: number | null; status: string }>;
  /** ok rows in the action log per command id. */
  okLogRows: Map<string, number>;
  lastSeq: number;
  outboxRows: number;
  actionLogText: string;
}

/** Reads the agent's database read-only (the agent must not be running). */
export function inspectDb(stateDir: string): DbReport {
  const path = join(stateDir, "panel-agent.db");
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma("schema_version");
  } catch {
    // A WAL database left by a killed process needs its -shm rebuilt: open read-write once.
    new Database(path, { fileMustExist: true }).close();
    db = new Database(path, { readonly: true, fileMustExist: true });
  }
  try {
    const integrity = String(db.pragma("integrity_check", { simple: true }));
    const slots: DbReport["slots"] = new Map();
    for (const r of db.prepare("SELECT number, data FROM slots").all() as { number: number; data: string }[]) {
      const s = JSON.parse(r.data) as { label: string; codeDigest: string | null; version: number };
      slots.set(r.number, { label: s.label, codeSet: s.codeDigest !== null, version: s.version, codeDigest: s.codeDigest, raw: s });
    }
    const applied: DbReport["applied"] = new Map();
    for (const r of db.prepare("SELECT command_id, seq, outcome FROM applied").all() as { command_id: string; seq: number | null; outcome: string }[]) {
      applied.set(r.command_id, { seq: r.seq, status: (JSON.parse(r.outcome) as { status: string }).status });
    }
    const okLogRows = new Map<string, number>();
    for (const r of db.prepare("SELECT command_id, COUNT(*) AS n FROM action_log WHERE result = 'ok' GROUP BY command_id").all() as { command_id: string; n: number }[]) {
      okLogRows.set(r.command_id, r.n);
    }
    // Since schema 4 a cloud command's commit stamps the counters on its dedup record, not in agent_state: the larger one is current.
    const stateSeq = Number((db.prepare("SELECT value FROM agent_state WHERE key = 'last_seq'").get() as { value: string } | undefined)?.value ?? 0);
    const lastSeq = Math.max(stateSeq, Number((db.prepare("SELECT MAX(seq) AS n FROM applied").get() as { n: number | null }).n ?? 0));
    const outboxRows = (db.prepare("SELECT COUNT(*) AS n FROM outbox").get() as { n: number }).n;
    const actionLogText = (db.prepare("SELECT actor, action, slot, before, after, command_id, result FROM action_log").all() as Record<string, unknown>[]).map((r) => JSON.stringify(r)).join("\n");
    return { integrity, slots, applied, okLogRows, lastSeq, outboxRows, actionLogText };
  } finally {
    db.close();
  }
}

/** Every file of the state directory (the DB, its WAL, keys excluded: they are key material not codes). */
export function stateFiles(stateDir: string): { name: string; bytes: Buffer }[] {
  const out: { name: string; bytes: Buffer }[] = [];
  for (const f of ["panel-agent.db", "panel-agent.db-wal", "panel-agent.db-shm"]) {
    const p = join(stateDir, f);
    if (existsSync(p)) out.push({ name: p, bytes: readFileSync(p) });
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// the secrets scan

const isAlnum = (b: number | undefined) => b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a));

/**
 * Counts occurrences of each code in `bytes` as a token of its own: not inside a longer run of
 * letters/digits (timestamps, hex digests, ids like "c1234"), and not as a JSON number
 * (`"version":1234,`), since codes are strings. A leaked code would be `"1234"`, a CBOR text
 * string (0x64 '1234'), or a word in a log message — all counted.
 */
/** `text: true` marks a source that is decoded text (no CBOR heads in it): the CBOR-head rule is off there. */
export function secretHits(codes: Iterable<string>, sources: readonly { name: string; bytes: Uint8Array; text?: boolean }[]): { hits: number; where: string[] } {
  let hits = 0;
  const where: string[] = [];
  const list = [...new Set(codes)];
  for (const src of sources) {
    const buf = Buffer.isBuffer(src.bytes) ? src.bytes : Buffer.from(src.bytes);
    for (const code of list) {
      const needle = Buffer.from(code, "latin1");
      if (needle.length === 0) continue;
      let at = buf.indexOf(needle);
      while (at !== -1) {
        const before = at > 0 ? buf[at - 1] : undefined;
        const after = buf[at + needle.length];
        // a group of a UUID (boot ids, "…-4995-…") is not a code
        const uuidGroup = before === 0x2d && after === 0x2d;
        const jsonNumber = (before === 0x3a || before === 0x2c || before === 0x5b) && (after === 0x2c || after === 0x7d || after === 0x5d);
        // a CBOR text string of exactly this code: its head byte (0x60 + length) may look like a letter ('d' = 0x64)
        const cborText = !src.text && needle.length < 24 && before === 0x60 + needle.length && !isAlnum(after);
        if (cborText || (!isAlnum(before) && !isAlnum(after) && !jsonNumber && !uuidGroup)) {
          hits++;
          if (where.length < 20) where.push(`${src.name}@${at}: ${JSON.stringify(buf.subarray(Math.max(0, at - 24), at + needle.length + 24).toString("latin1"))}`);
        }
        at = buf.indexOf(needle, at + 1);
      }
    }
  }
  return { hits, where };
}

export function logSource(files: AgentFiles): { name: string; bytes: Buffer }[] {
  return existsSync(files.logPath) ? [{ name: files.logPath, bytes: readFileSync(files.logPath) }] : [];
}
