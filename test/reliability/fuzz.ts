/**
 * Input faults: hostile payloads on the command path, through the broker into the agent child
 * (run with --max-old-space-size=128) and in-process into CommandEngine.process. Cases: random
 * bytes, bit flips and truncations of valid envelopes, huge declared CBOR lengths, deep nesting,
 * `__proto__`/`constructor` keys, oversized packets, and — the deep path — bodies mutated
 * structurally and then signed with the trusted key, so they pass the signature check and reach
 * the body decoder, the schemas, the unsealing and the rules.
 * Counts: crashes (the process died, stopped applying a good command, or process() threw),
 * uncoded (a case whose id was readable answered without that id), and the agent's peak RSS.
 * A crashing input is kept under fixtures/ and replayed by fixtures.test.ts.
 */
import { createHash } from "node:crypto";
import mqtt from "mqtt";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  decodeCbor, encodeCbor, encodeCommand, loadSealingKey, loadSigningKey, signBytes, TrustedKeys, type AnyAck, type SealingKey, type SigningKey, type WireCommandInput,
} from "../../protocol/index.js";
import { PanelCore } from "../../src/core.js";
import { Secret } from "../../src/domain/index.js";
import { CommandEngine } from "../../src/sync/engine.js";
import { OutboxRows } from "../../src/sync/outbox-rows.js";
import { logSource, PANEL_ID, peekCommandIds, removeTempDir, rng, secretHits, sleep, stateFiles, tempDir, waitFor, type Rng } from "./harness.js";
import { cloudActor } from "./verify.js";
import { SuiteRig } from "./rig.js";

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "fixtures");

// ---------------------------------------------------------------------------------------------
// a tiny CBOR writer that can say what encoders refuse to: __proto__ keys, duplicate keys,
// indefinite lengths, tags, lying lengths

export class CMap {
  constructor(readonly entries: [unknown, unknown][]) {}
}
export class Raw {
  constructor(readonly bytes: Uint8Array) {}
}

function head(major: number, n: number | bigint): Buffer {
  const v = BigInt(n);
  const m = major << 5;
  if (v < 24n) return Buffer.from([m | Number(v)]);
  if (v < 0x100n) return Buffer.from([m | 24, Number(v)]);
  if (v < 0x10000n) {
    const b = Buffer.alloc(3);
    b[0] = m | 25;
    b.writeUInt16BE(Number(v), 1);
    return b;
  }
  if (v < 0x100000000n) {
    const b = Buffer.alloc(5);
    b[0] = m | 26;
    b.writeUInt32BE(Number(v), 1);
    return b;
  }
  const b = Buffer.alloc(9);
  b[0] = m | 27;
  b.writeBigUInt64BE(v, 1);
  return b;
}

export function cbor(v: unknown): Buffer {
  if (v instanceof Raw) return Buffer.from(v.bytes);
  if (v === null || v === undefined) return Buffer.from([0xf6]);
  if (v === true) return Buffer.from([0xf5]);
  if (v === false) return Buffer.from([0xf4]);
  if (typeof v === "number") {
    if (Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER) return v >= 0 ? head(0, v) : head(1, -1 - v);
    const b = Buffer.alloc(9);
    b[0] = 0xfb;
    b.writeDoubleBE(v, 1);
    return b;
  }
  if (typeof v === "bigint") return v >= 0n ? head(0, v) : head(1, -1n - v);
  if (typeof v === "string") {
    const s = Buffer.from(v, "utf8");
    return Buffer.concat([head(3, s.length), s]);
  }
  if (v instanceof Uint8Array) return Buffer.concat([head(2, v.length), Buffer.from(v)]);
  if (Array.isArray(v)) return Buffer.concat([head(4, v.length), ...v.map(cbor)]);
  if (v instanceof CMap) return Buffer.concat([head(5, v.entries.length), ...v.entries.flatMap(([k, x]) => [cbor(k), cbor(x)])]);
  if (typeof v === "object") return cbor(new CMap(Object.entries(v as Record<string, unknown>)));
  return Buffer.from([0xf7]);
}

/** Decoded CBOR (plain objects) to CMap trees so entries can be edited freely. */
function toTree(v: unknown): unknown {
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map(toTree);
  if (v && typeof v === "object") return new CMap(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, toTree(x)]));
  return v;
}

const NASTY: (() => unknown)[] = [
  () => "__proto__",
  () => new CMap([["__proto__", new CMap([["polluted", true]])]]),
  () => new CMap([["constructor", new CMap([["prototype", new CMap([["x", 1]])]])]]),
  () => -1,
  () => 2 ** 53 + 2,
  () => 18446744073709551615n,
  () => 1.5,
  () => Number.NaN,
  () => "",
  () => "x".repeat(5000),
  () => "\u0000\u001f\ud800",
  () => new Uint8Array(0),
  () => new Uint8Array(70_000),
  () => [],
  () => new CMap([]),
  () => null,
  () => true,
  () => new Raw(Buffer.from([0x5f, 0x41, 0x00, 0xff])), // indefinite byte string
  () => new Raw(Buffer.from([0xc1, 0x1a, 0x5f, 0x00, 0x00, 0x00])), // tag 1 (date)
  () => new Raw(Buffer.from([0x7b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), // text of 2^63 bytes
  () => new Raw(Buffer.from([0x9a, 0xff, 0xff, 0xff, 0xff])), // array of 2^32 items
  () => new Raw(Buffer.concat([Buffer.alloc(40, 0x81), Buffer.from([0x00])])), // 40 levels of arrays
  () => new Raw(Buffer.from([0xf9, 0x7e, 0x00])), // half-float NaN
  () => new Raw(Buffer.from([0xf8, 0x20])), // simple value 32
];

function mutateTree(v: unknown, g: Rng, depth = 0): unknown {
  if (depth > 6 || g.chance(0.15)) return g.pick(NASTY)();
  if (Array.isArray(v)) {
    const a = [...(v as unknown[])];
    if (a.length > 0 && g.chance(0.7)) {
      const i = g.int(0, a.length - 1);
      a[i] = mutateTree(a[i], g, depth + 1);
    } else if (g.chance(0.5)) a.push(g.pick(NASTY)());
    else a.splice(0, 1);
    return a;
  }
  if (v instanceof CMap) {
    const e = v.entries.map(([k, x]) => [k, x] as [unknown, unknown]);
    const r = g.next();
    if (e.length > 0 && r < 0.6) {
      const i = g.int(0, e.length - 1);
      e[i] = [e[i]![0], mutateTree(e[i]![1], g, depth + 1)];
    } else if (r < 0.75) e.push([g.pick(["__proto__", "constructor", "prototype", "extra", "id", "seq", 7]), g.pick(NASTY)()]);
    else if (r < 0.85 && e.length > 0) e.splice(g.int(0, e.length - 1), 1);
    else if (e.length > 0) e.push([e[0]![0], e[0]![1]]); // duplicate key
    return new CMap(e);
  }
  return g.pick(NASTY)();
}

// ---------------------------------------------------------------------------------------------
// case generation

export interface FuzzCase {
  kind: string;
  bytes: Buffer;
}

export interface CaseFactory {
  next(): FuzzCase;
}

/** Valid envelopes to start from: singles and batches of set_code/set_label, at seqs the agent already used (so a mutation that survives is a replay, never a new command). */
export function caseFactory(g: Rng, key: SigningKey, sealKey: Uint8Array, panelId = PANEL_ID): CaseFactory {
  const exp = Date.now() + 24 * 3600_000;
  const bases: Buffer[] = [];
  for (let i = 0; i < 8; i++) {
    const cmd = (g.chance(0.5)
      ? { id: `z${i}x`, actor: cloudActor, kind: "set_code", slot: 2 + i, code: new Secret(String(2000 + i)) }
      : { id: `z${i}x`, actor: cloudActor, kind: "set_label", slot: 2 + i, label: "Fuzz" }) as WireCommandInput;
    bases.push(encodeCommand(panelId, { seq: 1, expiresAt: exp, command: cmd }, { signingKey: key, agentPublicKey: sealKey }));
  }
  const decodeEnv = (b: Buffer) => decodeCbor(b).ok ? (decodeCbor(b) as { ok: true; value: { v: number; kid: string; body: Uint8Array; sig: Uint8Array } }).value : undefined;
  const signed = (body: Buffer): Buffer => cbor(new CMap([["v", 1], ["kid", key.kid], ["body", body], ["sig", signBytes(body, key)]]));
  const kinds: [string, () => Buffer][] = [
    ["random", () => Buffer.from(Array.from({ length: g.int(0, 600) }, () => g.int(0, 255)))],
    ["bitflip", () => {
      const b = Buffer.from(g.pick(bases));
      for (let i = g.int(1, 8); i > 0; i--) {
        const at = g.int(0, b.length - 1);
        b[at] = b[at]! ^ (1 << g.int(0, 7));
      }
      return b;
    }],
    ["truncate", () => {
      const b = g.pick(bases);
      return b.subarray(0, g.int(0, b.length - 1));
    }],
    ["trailing", () => Buffer.concat([g.pick(bases), Buffer.from([g.int(0, 255)])])],
    ["huge-length", () => g.pick([
      Buffer.from([0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]),
      Buffer.from([0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
      cbor(new CMap([["v", 1], ["kid", key.kid], ["body", new Raw(Buffer.from([0x5a, 0xff, 0xff, 0xff, 0xf0, 0xa1]))], ["sig", new Uint8Array(64)]])),
      cbor(new CMap([["v", 1], ["kid", "a".repeat(16)], ["body", new Raw(Buffer.from([0x9b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))]])),
    ])],
    ["deep", () => {
      const depth = g.int(17, 100_000);
      return g.chance(0.5) ? Buffer.concat([Buffer.alloc(depth, 0x81), Buffer.from([0x00])]) : Buffer.concat([Buffer.alloc(depth * 3).fill(Buffer.from([0xa1, 0x61, 0x61])), Buffer.from([0x00])]);
    }],
    ["proto-envelope", () => cbor(new CMap([["__proto__", new CMap([["v", 1]])], ["v", 1], ["kid", key.kid], ["body", new Uint8Array(3)], ["sig", new Uint8Array(64)]]))],
    ["oversized", () => g.chance(0.5) ? Buffer.alloc(256 * 1024 + g.int(1, 4096), 0xa0) : Buffer.concat([g.pick(bases), Buffer.alloc(300_000)])],
    ["signed-mutated-body", () => {
      const env = decodeEnv(g.pick(bases));
      if (!env) return Buffer.alloc(1);
      const body = decodeCbor(env.body);
      const tree = body.ok ? toTree(body.value) : null;
      return signed(cbor(mutateTree(tree, g)));
    }],
    ["signed-garbage-body", () => signed(Buffer.from(Array.from({ length: g.int(0, 300) }, () => g.int(0, 255))))],
    ["signed-batch-mutated", () => {
      const items = Array.from({ length: g.int(1, 5) }, (_, i) => {
        const env = decodeEnv(bases[i % bases.length]!);
        const body = env ? decodeCbor(env.body) : undefined;
        return body?.ok ? toTree((body.value as { cmd: unknown }).cmd) : null;
      });
      const batch = new CMap([["v", 1], ["t", "batch"], ["panel", panelId], ["id", `fb${g.int(0, 1e6)}x`], ["cmds", items]]);
      return signed(cbor(mutateTree(batch, g)));
    }],
  ];
  return {
    next(): FuzzCase {
      const [kind, make] = g.pick(kinds);
      return { kind, bytes: make() };
    },
  };
}

export function saveFixture(bytes: Uint8Array, why: string): string {
  mkdirSync(FIXTURES, { recursive: true });
  const name = `${createHash("sha256").update(bytes).digest("hex").slice(0, 16)}.bin`;
  const p = join(FIXTURES, name);
  if (!existsSync(p)) {
    writeFileSync(p, bytes);
    writeFileSync(`${p}.txt`, `${why}\n`);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// in-process: CommandEngine.process

export interface EngineRig {
  core: PanelCore;
  engine: CommandEngine;
  key: SigningKey;
  sealing: SealingKey;
  dir: string;
  close(): void;
}

/** Fixed keys for fuzzing, so a kept fixture reaches the same code path when replayed (the signature still verifies). */
export const FUZZ_SIGNING_KEY = loadSigningKey(Buffer.alloc(32, 7));
export const FUZZ_SEALING_KEY = loadSealingKey(Buffer.alloc(32, 9));

export function engineRig(): EngineRig {
  const dir = tempDir("rel-engine-");
  const key = FUZZ_SIGNING_KEY;
  const sealing = FUZZ_SEALING_KEY;
  const core = new PanelCore({
    stateDir: join(dir, "state"),
    config: { panelId: PANEL_ID, type: "DSC", codeLength: 4, timeZone: "Europe/Berlin", doorLocks: ["front"] },
    encodeEvent: (e) => ({ kind: "evt", body: encodeCbor({ type: e.type, at: e.at }) }),
  });
  const rows = new OutboxRows(PANEL_ID, () => {});
  rows.setFinish((b) => b);
  const engine = new CommandEngine({ panelId: PANEL_ID, core, trustedKeys: new TrustedKeys([key.publicRaw]), sealingKey: sealing, maxPayloadBytes: 256 * 1024, rows });
  return {
    core, engine, key, sealing, dir,
    close() {
      core.close();
      removeTempDir(dir);
    },
  };
}

export async function runEngineFuzz(cases: number, seed = 7): Promise<{ cases: number; crashes: number; heap_growth_mb: number; details: string[] }> {
  const g = rng(seed);
  const r = engineRig();
  const details: string[] = [];
  let crashes = 0;
  try {
    const f = caseFactory(g, r.key, r.sealing.publicRaw);
    // consume seq 1 with a real command so mutated replays of the bases are replays
    r.engine.process(encodeCommand(PANEL_ID, { seq: 1, expiresAt: Date.now() + 3600_000, command: { id: "seed1x", actor: cloudActor, kind: "set_label", slot: 1, label: "Fuzz" } }, { signingKey: r.key, agentPublicKey: r.sealing.publicRaw }));
    const heap0 = process.memoryUsage().heapUsed;
    for (let i = 0; i < cases; i++) {
      const c = f.next();
      try {
        r.engine.process(c.bytes);
      } catch (err) {
        crashes++;
        const p = saveFixture(c.bytes, `${c.kind}: CommandEngine.process threw ${(err as Error).message}`);
        if (details.length < 20) details.push(`engine threw on ${c.kind} (${p}): ${(err as Error).message}`);
      }
      if (i % 500 === 0) await sleep(0);
    }
    const heapGrowth = (process.memoryUsage().heapUsed - heap0) / 1024 / 1024;
    return { cases, crashes, heap_growth_mb: Math.round(heapGrowth * 10) / 10, details };
  } finally {
    r.close();
  }
}

// ---------------------------------------------------------------------------------------------
// through the broker into the agent child

export interface FuzzFigures {
  fuzz_cases: number;
  crashes: number;
  uncoded: number;
  good_commands_applied: number;
  agent_peak_rss_mb: number;
  engine_cases: number;
  engine_crashes: number;
  engine_heap_growth_mb: number;
  secret_hits: number;
  details: string[];
}

function ackIds(a: AnyAck): string[] {
  if (a.t === "ack") return a.ack.id !== undefined ? [a.ack.id] : [];
  return a.id !== undefined ? [a.id] : [];
}

export async function runFuzz(opts: { brokerCases: number; engineCases: number; seed?: number; window?: number; progress?: (s: string) => void }): Promise<FuzzFigures> {
  const g = rng(opts.seed ?? 11);
  const details: string[] = [];
  const windowSize = opts.window ?? 100;
  const rig = await SuiteRig.open({ name: "fuzz", mosquitto: { maxQueuedMessages: 100_000 }, key: FUZZ_SIGNING_KEY, nodeOptions: "--max-old-space-size=128" });
  const { mosq, agent, peer, files } = rig;
  let crashes = 0;
  let uncoded = 0;
  let good = 0;
  let peakRss = 0;
  let sent = 0;
  try {
    const key = FUZZ_SIGNING_KEY;
    const sealKey = await peer.sealKey();
    const f = caseFactory(g, key, sealKey);
    let seq = 0;
    const goodCommand = async (): Promise<boolean> => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const id = `good${++seq}x`;
        const code = new Secret(String(3001 + (seq % 900)));
        await peer.send({ seq, expiresAt: Date.now() + 3600_000, command: { id, actor: cloudActor, kind: "set_code", slot: 900, code } });
        const out = await waitFor(() => peer.outcome(id), 15_000, 20);
        if (out?.ok) return true;
        if (!out || out.error.code !== "replayed") return false;
        // a mutated command took this seq (it can only replay seq 1; be safe anyway)
      }
      return false;
    };
    if (await goodCommand()) good++;
    while (sent < opts.brokerCases) {
      const batch: FuzzCase[] = [];
      for (let i = 0; i < windowSize && sent < opts.brokerCases; i++, sent++) batch.push(f.next());
      const ackStart = peer.acks.length;
      for (const c of batch) await peer.publishRaw(c.bytes);
      const alive = await goodCommand();
      peakRss = Math.max(peakRss, agent.rssMb() ?? 0);
      if (alive && agent.alive) {
        good++;
        const got = peer.acks.slice(ackStart, ackStart + batch.length);
        // one ack per message, in order; where an id was readable, the ack carries it
        for (let i = 0; i < batch.length; i++) {
          const expect = peekCommandIds(batch[i]!.bytes);
          const want = expect.batchId ?? (expect.ids.length === 1 && !expect.batchId ? expect.ids[0] : undefined);
          const a = got[i];
          if (!a) {
            uncoded++;
            if (details.length < 20) details.push(`no ack for case ${batch[i]!.kind}`);
          } else if (want !== undefined && !ackIds(a).includes(want)) {
            uncoded++;
            if (details.length < 20) details.push(`case ${batch[i]!.kind}: readable id ${want}, ack ${JSON.stringify(a).slice(0, 200)}`);
          }
        }
      } else {
        crashes++;
        for (const c of batch) saveFixture(c.bytes, `${c.kind}: in a window after which the agent ${agent.alive ? "stopped applying" : "died"}`);
        details.push(`agent ${agent.alive ? "stopped applying" : `died (${JSON.stringify(agent.exits.at(-1))})`} after a window of ${batch.length} cases; kept as fixtures`);
        await agent.kill();
        // a poison message stays in the agent's session and would wedge it again: drop the session
        // (what an operator would do: a clean connect under the agent's client id, its panel id) so
        // the run can go on; the wedge is counted above
        const c = await mqtt.connectAsync(mosq.url, { clientId: PANEL_ID, clean: true, reconnectPeriod: 0 });
        await c.endAsync(true);
        await agent.start();
      }
      opts.progress?.(`fuzz: ${sent}/${opts.brokerCases} cases, rss ${Math.round(peakRss)} MB`);
    }
    crashes += agent.crashes.length;
    await agent.kill();
    const secrets = secretHits(["2000", "2001", "2002", "2003", "2004", "2005", "2006", "2007"], [...logSource(files), ...stateFiles(files.stateDir)]);
    details.push(...secrets.where);
    const eng = await runEngineFuzz(opts.engineCases, (opts.seed ?? 11) + 1);
    details.push(...eng.details);
    return {
      fuzz_cases: sent + eng.cases,
      crashes: crashes + eng.crashes,
      uncoded,
      good_commands_applied: good,
      agent_peak_rss_mb: Math.round(peakRss),
      engine_cases: eng.cases,
      engine_crashes: eng.crashes,
      engine_heap_growth_mb: eng.heap_growth_mb,
      secret_hits: secrets.hits,
      details,
    };
  } finally {
    await rig.close();
  }
}
