/**
 * Acks, batch acks, events and state are signed by the panel's identity (protocol/README.md 4.1),
 * and the cloud client believes only what that identity signed. A forger with broker access
 * (any panel's credentials, or the broker itself) publishes each kind of message on a real
 * mosquitto: unsigned, signed by its own key, and under the panel's kid with a signature that does
 * not verify. Every one is dropped and reported (event `forged`), none becomes an outcome, an
 * event or the state a code is sealed to; the panel's own messages still go through.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import {
  appliedOutcome, decodeCbor, encodeAck, encodeBatchAck, encodeCbor, encodeEvent, encodeState, generateSigningKey,
  loadSigningKey, panelTopics, signAgentMessage, WIRE_KINDS, type SigningKey,
} from "../../protocol/index.js";
import { pino } from "pino";
import { Agent } from "../../src/agent.js";
import { CloudClient, JsonFileSeqStore, type ForgedMessage, type IdentityPinned, type Outcome } from "../../src/cloud/index.js";
import { Secret } from "../../src/domain/index.js";
import { IDENTITY_KEY_FILE } from "../../src/store/identity-key.js";
import { cloudAgentConfig, runAgent, startBroker, waitFor, type TestBroker } from "../helpers/cloud-harness.js";
import { tempDirs } from "../helpers/tmp.js";

const dirs = tempDirs();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  dirs.cleanup();
});

const PANEL = "s1";
const topics = panelTopics(PANEL);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The three forgeries of one message body: unsigned, signed by the forger, and the panel's kid over the forger's signature. */
function forgeries(body: Buffer, forger: SigningKey, panelKid: string): Buffer[] {
  const own = signAgentMessage(body, forger);
  const d = decodeCbor(own);
  const sig = (d.ok ? (d.value as { sig: Uint8Array }).sig : new Uint8Array(64));
  return [body, own, encodeCbor({ v: 1, kid: panelKid, body, sig })];
}

interface World {
  broker: TestBroker;
  cloudKey: SigningKey;
  stateDir: string;
  agent: Agent | undefined;
  restart(): Promise<void>;
  stop(): Promise<void>;
  client: CloudClient;
  forged: ForgedMessage[];
  pinned: IdentityPinned[];
  forger: MqttClient;
  forgerKey: SigningKey;
}

async function world(clientOptions: Partial<ConstructorParameters<typeof CloudClient>[0]> = {}): Promise<World> {
  const broker = await startBroker("mosquitto");
  cleanups.push(() => broker.close());
  const cloudKey = generateSigningKey();
  const dir = dirs.make();
  const config = cloudAgentConfig(dir, broker.url, PANEL, cloudKey);
  const w = { broker, cloudKey, stateDir: config.stateDir, forged: [] as ForgedMessage[], pinned: [] as IdentityPinned[], forgerKey: generateSigningKey() } as World;
  w.agent = await runAgent(config);
  w.stop = async () => {
    await w.agent?.stop();
    w.agent = undefined;
  };
  w.restart = async () => {
    await w.stop();
    w.agent = await runAgent(config);
  };
  cleanups.push(() => w.stop());
  w.client = new CloudClient({ url: broker.url, signingKey: cloudKey, ackTimeoutMs: 8000, ...clientOptions });
  w.client.on("forged", (f) => w.forged.push(f));
  w.client.on("identity", (i) => w.pinned.push(i));
  await w.client.connect();
  cleanups.push(() => w.client.close());
  w.forger = await mqtt.connectAsync(broker.url, { clientId: "forger", clean: true });
  cleanups.push(() => w.forger.endAsync());
  return w;
}

/** The commands the agent would get, as the forger sees them on the broker (it reads the unsealed fields). */
async function interceptCommands(w: World): Promise<() => Record<string, unknown>[]> {
  const seen: Record<string, unknown>[] = [];
  w.forger.on("message", (topic, payload) => {
    if (topic !== topics.cmd) return;
    const env = decodeCbor(payload);
    const body = env.ok ? decodeCbor((env.value as { body: Uint8Array }).body) : undefined;
    if (body?.ok) seen.push(body.value as Record<string, unknown>);
  });
  await w.forger.subscribeAsync(topics.cmd, { qos: 1 });
  return () => seen;
}

async function publishAll(w: World, topic: string, payloads: Buffer[], retain = false): Promise<void> {
  for (const p of payloads) await w.forger.publishAsync(topic, p, { qos: 1, retain });
}

describe("agent messages are signed, and forgeries of each kind are refused through mosquitto", () => {
  it("ack: a forged 'applied' for a command the panel has not seen is dropped; the panel's own ack is the outcome", async () => {
    const w = await world();
    const state = await w.client.panelState(PANEL);
    expect(state?.identityKey).toBeInstanceOf(Uint8Array);
    expect(w.pinned).toMatchObject([{ panelId: PANEL, how: "first_use" }]);
    const panelKid = w.client.identityOf(PANEL)!.kid;
    const seen = await interceptCommands(w);
    await w.stop();

    const outcome = w.client.send(PANEL, { kind: "set_code", slot: 2, code: new Secret("4711") });
    const body = await waitFor(() => seen()[0]);
    const cmd = body.cmd as { id: string; seq: number };
    const fake = encodeAck(PANEL, Date.now(), appliedOutcome(cmd.id, cmd.seq, { slots: [] }));
    await publishAll(w, topics.ack, forgeries(fake, w.forgerKey, panelKid));
    await waitFor(() => w.forged.length >= 3);
    expect(w.forged.map((f) => [f.channel, f.reason])).toEqual([["ack", "unsigned"], ["ack", "unknown_key"], ["ack", "bad_signature"]]);

    await w.restart();
    const o = (await outcome) as Outcome & { result?: { slots?: unknown[] } };
    expect(o).toMatchObject({ status: "applied", seq: cmd.seq });
    expect(o.result?.slots).toHaveLength(1); // the panel's result, not the forger's empty one
  });

  it("batch_ack: one forged batch ack (every result 'applied') is dropped; the panel's batch ack answers every command", async () => {
    const w = await world();
    await w.client.panelState(PANEL);
    const panelKid = w.client.identityOf(PANEL)!.kid;
    const seen = await interceptCommands(w);
    await w.stop();

    const outcomes = [w.client.send(PANEL, { kind: "set_code", slot: 2, code: new Secret("4711") }), w.client.send(PANEL, { kind: "set_label", slot: 9, label: "x" })];
    const body = await waitFor(() => seen()[0]);
    expect(body.t).toBe("batch");
    const cmds = body.cmds as { id: string; seq: number }[];
    const fake = encodeBatchAck(PANEL, Date.now(), body.id as string, cmds.map((c) => appliedOutcome(c.id, c.seq)));
    await publishAll(w, topics.ack, forgeries(fake, w.forgerKey, panelKid));
    await waitFor(() => w.forged.length >= 3);
    expect(w.forged.every((f) => f.channel === "ack")).toBe(true);

    await w.restart();
    // The second command is refused by the panel (slot 9 has no code): the forger said applied.
    expect(await Promise.all(outcomes)).toMatchObject([{ status: "applied" }, { status: "rejected", code: "code_required" }]);
  });

  it("event: a forged duress and a forged 'access granted' never reach the listeners; the panel's own events do", async () => {
    const w = await world();
    await w.client.panelState(PANEL);
    const panelKid = w.client.identityOf(PANEL)!.kid;
    const events: string[] = [];
    w.client.on("event", (_p, e) => events.push(e.type));
    const duress = encodeEvent(PANEL, 1000, Date.now(), "duress", { slot: 3, point: { kind: "keypad", id: "kp" } });
    const granted = encodeEvent(PANEL, 1001, Date.now(), "access", { point: { kind: "doorlock", id: "front" }, credential: "pin", granted: true, reason: "ok", slot: 1 });
    await publishAll(w, topics.evt, [...forgeries(duress, w.forgerKey, panelKid), ...forgeries(granted, w.forgerKey, panelKid)]);
    await waitFor(() => w.forged.length >= 6);
    expect(w.forged.every((f) => f.channel === "evt")).toBe(true);
    expect(events).toEqual([]);

    // The panel's own event (n = 1) still gets through: the forged n = 1000 did not move the dedup mark.
    await w.agent!.core!.access({ keypadId: "kp", partitions: [1] }, { kind: "pin", value: new Secret("9999") }, "disarm");
    await waitFor(() => events.length > 0);
    expect(events).toEqual(["access"]);
  });

  it("state: a forged retained state (the forger's own sealing key) is refused, so no code is ever sealed to it, even by a client started after it", async () => {
    const seqFile = join(dirs.make(), "seq.json");
    const w = await world({ seqStore: new JsonFileSeqStore(seqFile) });
    const real = (await w.client.panelState(PANEL))!;
    const panelKid = w.client.identityOf(PANEL)!.kid;
    expect(JSON.parse(readFileSync(seqFile, "utf8"))[PANEL]).toEqual({ identity: Buffer.from(real.identityKey!).toString("hex") });
    await w.stop();

    const forgerSeal = Buffer.alloc(32, 0x55);
    const fake = encodeState({ ...real, panel: PANEL, at: Date.now(), sealKey: forgerSeal, identityKey: w.forgerKey.publicRaw, lastSeq: 0, proto: { v: [1], kinds: [...WIRE_KINDS] } });
    const forged = forgeries(fake, w.forgerKey, panelKid);
    // The self-signed one last: it is what the broker keeps retained for clients that come later.
    await publishAll(w, topics.state, [...forged, forged[1]!], true);
    await waitFor(() => w.forged.length >= 4);
    expect(w.forged.map((f) => f.reason)).toEqual(["unsigned", "unknown_key", "bad_signature", "unknown_key"]);
    expect(Buffer.from((await w.client.panelState(PANEL))!.sealKey).equals(Buffer.from(real.sealKey))).toBe(true);

    // A new process with the same seq file: the retained state it gets is the forger's (self-signed); refused.
    const later = new CloudClient({ url: w.broker.url, signingKey: w.cloudKey, ackTimeoutMs: 1500, seqStore: new JsonFileSeqStore(seqFile) });
    const laterForged: ForgedMessage[] = [];
    later.on("forged", (f) => laterForged.push(f));
    await later.connect();
    cleanups.push(() => later.close());
    const o = await later.send(PANEL, { kind: "set_code", slot: 2, code: new Secret("4711") });
    expect(o).toMatchObject({ status: "pending" });
    expect(later.panelStatus(PANEL)?.status).toBe("offline");
    expect(laterForged).toMatchObject([{ channel: "state", reason: "unknown_key", kid: w.forgerKey.kid }]);

    // The panel comes back and republishes its own state: the waiting command is sealed to the real key and applied.
    await w.restart();
    expect(await (o as { later: Promise<Outcome> }).later).toMatchObject({ status: "applied", seq: 1 });
  });

  it("state replay: an older state the panel really signed, published again, does not wind the client back", async () => {
    const w = await world();
    const captured: Buffer[] = [];
    w.forger.on("message", (topic, payload) => topic === topics.state && captured.push(Buffer.from(payload)));
    await w.forger.subscribeAsync(topics.state, { qos: 1 });
    await waitFor(() => captured[0]);
    expect((await w.client.send(PANEL, { kind: "set_code", slot: 2, code: new Secret("4711") })).status).toBe("applied");
    let lastSeq = (await w.client.panelState(PANEL))!.lastSeq;
    w.client.on("state", (_p, st) => (lastSeq = st.lastSeq));
    await waitFor(() => lastSeq === 1); // the client holds the state after the command
    const warnings: string[] = [];
    w.client.on("warning", (x) => warnings.push(x.code));
    await w.forger.publishAsync(topics.state, captured[0]!, { qos: 1, retain: true });
    await waitFor(() => warnings.includes("stale_state"));
    expect((await w.client.panelState(PANEL))!.lastSeq).toBe(1);
    expect(w.forged).toEqual([]); // it is the panel's own signature: not a forgery, only old
  });

  it("provisioned: nothing is believed before the identity is pinned; pinning the installer's record of the key lets the state in", async () => {
    const w = await world({ trust: "provisioned", ackTimeoutMs: 1500 });
    const first = await w.client.send(PANEL, { kind: "set_code", slot: 1, code: new Secret("8264") });
    expect(first).toMatchObject({ status: "pending", reason: "no_state" });
    expect(w.forged).toMatchObject([{ channel: "state", reason: "no_identity" }]);
    const seed = readFileSync(join(w.stateDir, IDENTITY_KEY_FILE));
    w.client.pinIdentity(PANEL, loadSigningKey(seed).publicRaw);
    expect(w.pinned).toMatchObject([{ panelId: PANEL, how: "provisioned" }]);
    expect(await (first as { later: Promise<Outcome> }).later).toMatchObject({ status: "applied", seq: 1 });
  });

  it("the identity key is 0600 beside the sealing key, kept across restarts, and a missing key over its database refuses to start", async () => {
    const w = await world();
    const before = (await w.client.panelState(PANEL))!.identityKey!;
    const path = join(w.stateDir, IDENTITY_KEY_FILE);
    const { statSync, rmSync } = await import("node:fs");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    await w.restart();
    await sleep(300);
    expect(Buffer.from(before).equals(loadSigningKey(readFileSync(path)).publicRaw)).toBe(true);
    await w.stop();
    rmSync(path);
    await expect(w.restart()).rejects.toThrow(/identity key .* is missing but the database was published under identity [0-9a-f]{16}; restore the key file/);
  });

  it("the benchmark baseline: an agent that signs nothing is refused by a verifying client and served by one told not to verify", async () => {
    const broker = await startBroker("mosquitto");
    cleanups.push(() => broker.close());
    const cloudKey = generateSigningKey();
    const agent = new Agent(cloudAgentConfig(dirs.make(), broker.url, PANEL, cloudKey), { logger: pino({ level: "silent" }), signMessages: false });
    await agent.start();
    cleanups.push(() => agent.stop());
    const verifying = new CloudClient({ url: broker.url, signingKey: cloudKey, ackTimeoutMs: 1500 });
    const refused: ForgedMessage[] = [];
    verifying.on("forged", (f) => refused.push(f));
    await verifying.connect();
    cleanups.push(() => verifying.close());
    expect(await verifying.panelState(PANEL, 1500)).toBeUndefined();
    expect(refused).toMatchObject([{ channel: "state", reason: "unsigned" }]);
    const baseline = new CloudClient({ url: broker.url, signingKey: cloudKey, verify: false });
    await baseline.connect();
    cleanups.push(() => baseline.close());
    expect(await baseline.send(PANEL, { kind: "set_code", slot: 2, code: new Secret("4711") })).toMatchObject({ status: "applied", seq: 1 });
  });
});
