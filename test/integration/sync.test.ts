import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { encodeCbor } from "../../protocol/index.js";
import type { Agent } from "../../src/agent.js";
import { Secret } from "../../src/domain/index.js";
import type { WireCommandInput } from "../../protocol/index.js";
import { startEmbeddedBroker, type EmbeddedBroker } from "../../src/sync/embedded-broker.js";
import { agentConfig, CloudPeer, startAgent } from "../helpers/agent-harness.js";
import { MOSQUITTO_BIN, Mosquitto } from "../helpers/mosquitto.js";
import { tempDirs } from "../helpers/tmp.js";

const dirs = tempDirs();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  dirs.cleanup();
});

const cloud = { kind: "cloud" as const, id: "ops" };
const EXP = () => Date.now() + 60_000;
let n = 0;
const cmd = (input: Record<string, unknown>): WireCommandInput => ({ id: `c-${++n}`, actor: cloud, ...input }) as WireCommandInput;

type BrokerKind = "aedes" | "mosquitto";
async function broker(kind: BrokerKind, opts: ConstructorParameters<typeof Mosquitto>[0] = {}): Promise<{ url: string; mosq?: Mosquitto }> {
  if (kind === "aedes") {
    const b: EmbeddedBroker = await startEmbeddedBroker();
    cleanups.push(() => b.close());
    return { url: b.url };
  }
  const m = await new Mosquitto(opts).start();
  cleanups.push(() => m.dispose());
  return { url: m.url, mosq: m };
}

async function setup(kind: BrokerKind, protocolVersion: 4 | 5 = 4) {
  const { url, mosq } = await broker(kind);
  const dir = dirs.make();
  const peer = await new CloudPeer(url, "panel-1").connect();
  cleanups.push(() => peer.close());
  const config = agentConfig(dir, url, peer.signingKey, { broker: { url, protocolVersion } });
  let agent: Agent = await startAgent(config);
  cleanups.push(() => agent.stop());
  return {
    peer, dir, mosq, config,
    get agent() { return agent; },
    async restart() {
      await agent.stop();
      agent = await startAgent(config);
    },
  };
}

beforeAll(() => {
  if (!MOSQUITTO_BIN) throw new Error("mosquitto missing: apt-get install mosquitto");
});

describe.each(["aedes", "mosquitto"] as const)("sync over %s", (kind) => {
  it("applies a signed command, acks it after the commit, and republishes the retained state", async () => {
    const s = await setup(kind);
    const c = cmd({ kind: "set_code", slot: 2, code: new Secret("4821") });
    await s.peer.send({ seq: 1, expiresAt: EXP(), command: c });
    const out = await s.peer.until(() => s.peer.outcome(c.id));
    expect(out).toMatchObject({ ok: true, seq: 1 });
    expect(s.agent.core!.table.slot(2).codeDigest).not.toBeNull();
    const state = await s.peer.until(() => s.peer.state?.lastSeq === 1 && s.peer.state);
    expect(state.users).toBe(1);
    expect(state.tableVersion).toBe(1);
  });

  it("re-acks a redelivered command with its stored outcome and applies it once", async () => {
    const s = await setup(kind);
    const c = cmd({ kind: "set_code", slot: 3, code: new Secret("1357") });
    await s.peer.send({ seq: 1, expiresAt: EXP(), command: c });
    await s.peer.send({ seq: 1, expiresAt: EXP(), command: c });
    await s.peer.until(() => s.peer.acks.length >= 2);
    const outs = s.peer.acks.map((a) => (a.t === "ack" ? a.ack : null));
    expect(outs[0]).toMatchObject({ ok: true, id: c.id });
    expect(outs[1]).toMatchObject({ ok: true, id: c.id, dup: true });
    expect(s.agent.core!.table.slot(3).version).toBe(1);
  });

  it("detects a gap, asks for a resync, and converges on a snapshot", async () => {
    const s = await setup(kind);
    await s.peer.send({ seq: 1, expiresAt: EXP(), command: cmd({ kind: "set_code", slot: 2, code: new Secret("2222") }) });
    const skipped = cmd({ kind: "set_label", slot: 2, label: "Gap" });
    await s.peer.send({ seq: 5, expiresAt: EXP(), command: skipped });
    expect(await s.peer.until(() => s.peer.outcome(skipped.id))).toMatchObject({ ok: false, error: { code: "sequence_gap" } });
    const req = await s.peer.until(() => s.peer.events.find((e) => e.type === "resync_request"));
    expect(req.data).toMatchObject({ lastSeq: 1, gotSeq: 5, reason: "sequence_gap" });
    // Asked once per gap, not per gapped command (at most once per 5 s while lastSeq stays), and
    // never at start: the first resync request is this one (protocol/README.md section 5).
    const again = cmd({ kind: "set_label", slot: 2, label: "Gap2" });
    await s.peer.send({ seq: 6, expiresAt: EXP(), command: again });
    expect(await s.peer.until(() => s.peer.outcome(again.id))).toMatchObject({ ok: false, error: { code: "sequence_gap" } });
    await new Promise((r) => setTimeout(r, 300));
    expect(s.peer.events.filter((e) => e.type === "resync_request")).toHaveLength(1);
    expect(s.peer.events[0]).toBe(req);
    const snap = cmd({ kind: "snapshot", users: [{ slot: 2, code: "keep", label: "Converged" }, { slot: 7, code: new Secret("7777") }] });
    await s.peer.send({ seq: 9, expiresAt: EXP(), command: snap });
    expect(await s.peer.until(() => s.peer.outcome(snap.id))).toMatchObject({ ok: true, result: { added: [7], changed: [2], removed: [] } });
    const next = cmd({ kind: "set_label", slot: 7, label: "After" });
    await s.peer.send({ seq: 10, expiresAt: EXP(), command: next });
    expect(await s.peer.until(() => s.peer.outcome(next.id))).toMatchObject({ ok: true });
  });

  it("applies a batch in one transaction and answers with one batch ack, in order", async () => {
    const s = await setup(kind);
    const items = Array.from({ length: 50 }, (_, i) => ({ seq: i + 1, expiresAt: EXP(), command: cmd({ kind: "set_code", slot: i + 2, code: new Secret(String(1000 + i)) }) }));
    items.push({ seq: 51, expiresAt: EXP(), command: cmd({ kind: "set_code", slot: 60, code: new Secret("1000") }) }); // code_in_use
    await s.peer.sendBatch("b-1", items);
    const ack = await s.peer.until(() => s.peer.acks.find((a) => a.t === "batch_ack"));
    if (ack.t !== "batch_ack") throw new Error("expected a batch ack");
    expect(ack.acks.map((o) => o.seq)).toEqual(items.map((i) => i.seq));
    expect(ack.acks.filter((o) => o.ok)).toHaveLength(50);
    expect(ack.acks[50]).toMatchObject({ ok: false, error: { code: "code_in_use" } });
    expect(s.agent.core!.lastSeq).toBe(51);
  });

  it("rejects bad signatures, expired, replayed and malformed commands with coded acks, and keeps serving", async () => {
    const s = await setup(kind);
    const forger = await new CloudPeer(s.peer.url, "panel-1").connect();
    cleanups.push(() => forger.close());
    forger.state = s.peer.state ?? (await s.peer.until(() => s.peer.state));
    const forged = cmd({ kind: "set_label", slot: 1, label: "Forged" });
    await forger.send({ seq: 1, expiresAt: EXP(), command: forged });
    expect(await s.peer.until(() => s.peer.outcome(forged.id))).toMatchObject({ ok: false, error: { code: "untrusted_key" } });
    const old = cmd({ kind: "set_code", slot: 2, code: new Secret("2468") });
    await s.peer.send({ seq: 1, expiresAt: Date.now() - 1, command: old });
    expect(await s.peer.until(() => s.peer.outcome(old.id))).toMatchObject({ ok: false, error: { code: "command_expired" } });
    await s.peer.publishRaw(Buffer.from([0xff, 0x00, 0x13]));
    await s.peer.publishRaw(encodeCbor({ __proto__x: 1 }));
    // The expired command consumed seq 1 (its refusal is its stored result): the stream goes on at 2.
    const good = cmd({ kind: "set_code", slot: 2, code: new Secret("2468") });
    await s.peer.send({ seq: 2, expiresAt: EXP(), command: good });
    expect(await s.peer.until(() => s.peer.outcome(good.id))).toMatchObject({ ok: true });
    const replay = cmd({ kind: "set_label", slot: 2, label: "Replay" });
    await s.peer.send({ seq: 2, expiresAt: EXP(), command: replay });
    expect(await s.peer.until(() => s.peer.outcome(replay.id))).toMatchObject({ ok: false, error: { code: "replayed" } });
    const log = s.agent.core!.actionLog(1, 50).rows.map((r) => r.result);
    expect(log).toEqual(expect.arrayContaining(["untrusted_key", "command_expired", "replayed", "malformed_payload"]));
  });

  it("publishes events from the outbox in order with increasing numbers, and empties it after PUBACK", async () => {
    const s = await setup(kind);
    await s.peer.send({ seq: 1, expiresAt: EXP(), command: cmd({ kind: "set_code", slot: 4, code: new Secret("4444") }) });
    await s.peer.until(() => s.peer.acks.length >= 1);
    const core = s.agent.core!;
    const kp = { keypadId: "kp1", partitions: [1] };
    await core.access(kp, { kind: "pin", value: new Secret("4444") }, "arm_away");
    await core.access(kp, { kind: "pin", value: new Secret("0000") }, "disarm");
    const access = await s.peer.until(() => { const a = s.peer.events.filter((e) => e.type === "access"); return a.length >= 2 && a; });
    expect(access.map((e) => e.type === "access" && [e.data.granted, e.data.reason])).toEqual([[true, "ok"], [false, "unknown_credential"]]);
    // Events are numbered without gaps (acks in between take no numbers).
    const ns = s.peer.events.map((e) => e.n);
    expect(ns).toEqual(Array.from({ length: ns.length }, (_, i) => ns[0]! + i));
    await s.peer.until(() => core.outboxCount() === 0, 5000);
  });

  it("keeps the outbox across an agent restart and delivers it after reconnecting", async () => {
    const s = await setup(kind);
    await s.peer.send({ seq: 1, expiresAt: EXP(), command: cmd({ kind: "set_code", slot: 4, code: new Secret("4444") }) });
    await s.peer.until(() => s.peer.acks.length >= 1);
    await s.agent.link!.stop(); // offline: checks go on, events wait in the outbox
    await s.agent.core!.access({ keypadId: "kp1", partitions: [1] }, { kind: "pin", value: new Secret("4444") }, "disarm");
    expect(s.agent.core!.outboxCount()).toBeGreaterThan(0);
    await s.restart();
    const e = await s.peer.until(() => s.peer.events.find((x) => x.type === "access"));
    expect(e.data).toMatchObject({ granted: true, slot: 4 });
  });
});

describe("MQTT 5 persistent session on mosquitto", () => {
  it("connects with MQTT 5 and applies commands", async () => {
    const s = await setup("mosquitto", 5);
    const c = cmd({ kind: "set_code", slot: 2, code: new Secret("9512") });
    await s.peer.send({ seq: 1, expiresAt: EXP(), command: c });
    expect(await s.peer.until(() => s.peer.outcome(c.id))).toMatchObject({ ok: true });
  });
});
