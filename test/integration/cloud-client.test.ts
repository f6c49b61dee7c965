import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { encodeCbor, generateSigningKey, type SigningKey } from "../../protocol/index.js";
import type { Agent } from "../../src/agent.js";
import { CloudClient, MemorySeqStore, type AppliedOutcome, type CloudClientOptions, type Outcome, type PendingOutcome, type ResyncRequest } from "../../src/cloud/index.js";
import { Secret } from "../../src/domain/index.js";
import { cloudAgentConfig, runAgent, Sniffer, startBroker, waitFor, type BrokerKind, type TestBroker } from "../helpers/cloud-harness.js";
import { MOSQUITTO_BIN } from "../helpers/mosquitto.js";
import { tempDirs } from "../helpers/tmp.js";

const dirs = tempDirs();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  dirs.cleanup();
});

beforeAll(() => {
  if (!MOSQUITTO_BIN) throw new Error("mosquitto missing: apt-get install mosquitto");
});

interface World {
  broker: TestBroker;
  key: SigningKey;
  client: CloudClient;
  agents: Map<string, { dir: string; agent: Agent | undefined }>;
  start(panelId: string): Promise<Agent>;
  stop(panelId: string): Promise<void>;
}

async function world(kind: BrokerKind, clientOptions: Partial<CloudClientOptions> = {}): Promise<World> {
  const broker = await startBroker(kind);
  cleanups.push(() => broker.close());
  const key = generateSigningKey();
  const agents = new Map<string, { dir: string; agent: Agent | undefined }>();
  cleanups.push(async () => {
    for (const a of agents.values()) await a.agent?.stop();
  });
  const client = new CloudClient({ url: broker.url, signingKey: key, ackTimeoutMs: 5000, ...clientOptions });
  await client.connect();
  cleanups.push(() => client.close());
  return {
    broker, key, client, agents,
    async start(panelId) {
      let entry = agents.get(panelId);
      if (!entry) agents.set(panelId, (entry = { dir: dirs.make(), agent: undefined }));
      entry.agent = await runAgent(cloudAgentConfig(entry.dir, broker.url, panelId, key));
      return entry.agent;
    },
    async stop(panelId) {
      const entry = agents.get(panelId);
      await entry?.agent?.stop();
      if (entry) entry.agent = undefined;
    },
  };
}

const code = (c: string) => new Secret(c);
const applied = (o: Outcome): AppliedOutcome => {
  expect(o.status).toBe("applied");
  return o as AppliedOutcome;
};

describe.each(["aedes", "mosquitto"] as const)("cloud client over %s", (kind) => {
  it("sets a code, and list_users then shows it as set", async () => {
    const w = await world(kind);
    await w.start("p1");
    const set = applied(await w.client.send("p1", { kind: "set_code", slot: 2, code: code("4711") }));
    expect(set.result?.slots?.[0]).toMatchObject({ number: 2, codeSet: true });
    const list = applied(await w.client.send("p1", { kind: "list_users", page: 1, perPage: 15 }));
    const page = list.result!.page!;
    expect(page.range).toBe("1-15 of 1000");
    expect(page.rows[1]).toMatchObject({ number: 2, codeSet: true });
    expect(page.rows[2]).toMatchObject({ number: 3, codeSet: false });
    expect(list.seq).toBe(set.seq + 1);
  });

  it("coalesces 2,000 commands handed over at once into a few batch envelopes, each applied once and in order", async () => {
    const w = await world(kind, { ackTimeoutMs: 20_000 });
    await w.start("p1");
    applied(await w.client.send("p1", { kind: "set_code", slot: 2, code: code("2580") }));
    const sniffer = await new Sniffer().start(w.broker.url);
    cleanups.push(() => sniffer.close());

    const outcomes = await Promise.all(Array.from({ length: 2000 }, (_, i) => w.client.send("p1", { kind: "set_label", slot: 2, label: `L${i}` })));

    const envelopes = sniffer.captured.filter((m) => m.topic === "panels/p1/cmd");
    expect(envelopes.length).toBeLessThanOrEqual(6);
    expect(outcomes.every((o) => o.status === "applied" && !o.dup)).toBe(true);
    const seqs = outcomes.map((o) => (o as AppliedOutcome).seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    // Exactly once and in order: 2,001 log rows (code + labels), the last label is the one that stuck.
    const log = applied(await w.client.send("p1", { kind: "read_action_log", page: 1, perPage: 10 }));
    expect(log.result!.page!.total).toBe(2001);
    const users = applied(await w.client.send("p1", { kind: "list_users", page: 1, perPage: 10 }));
    expect(users.result!.page!.rows[1]).toMatchObject({ number: 2, label: "L1999" });
  });

  it("never lets a code cross the broker in the clear (a third subscriber to # sees only sealed bytes)", async () => {
    const w = await world(kind);
    const sniffer = await new Sniffer().start(w.broker.url);
    cleanups.push(() => sniffer.close());
    await w.start("p1");
    const pins = ["8352", "9164", "7038"];
    applied(await w.client.send("p1", { kind: "set_code", slot: 3, code: code(pins[0]!) }));
    applied(await w.client.send("p1", {
      kind: "snapshot",
      users: [
        { slot: 1, code: code(pins[1]!), label: "Owner" },
        { slot: 3, code: "keep" },
        { slot: 4, code: code(pins[2]!), label: "Guest" },
      ],
    }));
    await waitFor(() => sniffer.captured.filter((m) => m.topic === "panels/p1/ack").length >= 2);
    expect(sniffer.captured.some((m) => m.topic === "panels/p1/cmd")).toBe(true);
    for (const pin of pins) {
      const needles = [Buffer.from(pin), encodeCbor(pin), Buffer.from(pin, "utf16le")];
      for (const m of sniffer.captured) for (const n of needles) expect(m.payload.includes(n)).toBe(false);
    }
  });

  it("answers pending (offline) while the panel is down, then applied once it is back", async () => {
    const w = await world(kind, { ackTimeoutMs: 1500 });
    await w.start("p1");
    applied(await w.client.send("p1", { kind: "set_code", slot: 2, code: code("1357") }));
    await w.stop("p1");
    await waitFor(() => w.client.panelStatus("p1")?.status === "offline");

    const first = await w.client.send("p1", { kind: "set_label", slot: 2, label: "Back" });
    expect(first.status).toBe("pending");
    expect((first as PendingOutcome).reason).toBe("offline");

    await w.start("p1");
    const later = applied(await (first as PendingOutcome).later);
    expect(later.result?.slots?.[0]).toMatchObject({ number: 2, label: "Back" });
  });

  it("sends one command to several panels; an offline panel shows as pending, not failed", async () => {
    const w = await world(kind, { ackTimeoutMs: 1500 });
    await Promise.all([w.start("a1"), w.start("a2"), w.start("a3")]);
    await w.client.panelState("a3");
    await w.stop("a3");
    await waitFor(() => w.client.panelStatus("a3")?.status === "offline");
    const outcomes = await w.client.sendMany(["a1", "a2", "a3"], () => ({ kind: "set_code", slot: 5, code: code("2468") }));
    expect(outcomes.map((o) => [o.panelId, o.status])).toEqual([["a1", "applied"], ["a2", "applied"], ["a3", "pending"]]);
    expect(new Set(outcomes.map((o) => o.id)).size).toBe(3);
    expect((outcomes[2] as PendingOutcome).reason).toBe("offline");
  });

  it("gives a rejected command's code", async () => {
    const w = await world(kind);
    await w.start("p1");
    const noCode = await w.client.send("p1", { kind: "set_label", slot: 9, label: "Nobody" });
    expect(noCode).toMatchObject({ status: "rejected", code: "code_required" });
    applied(await w.client.send("p1", { kind: "set_code", slot: 1, code: code("1111") }));
    expect(await w.client.send("p1", { kind: "disable_user", slot: 1 })).toMatchObject({ status: "rejected", code: "master_cannot_be_disabled" });
    expect(await w.client.send("p1", { kind: "set_code", slot: 2, code: code("1111") })).toMatchObject({ status: "rejected", code: "code_in_use" });
    // Refused locally, before a seq is used: the next command still applies.
    expect(await w.client.send("p1", { kind: "set_partitions", slot: 1, partitions: [] })).toMatchObject({ status: "rejected", code: "schema_violation", local: true });
    applied(await w.client.send("p1", { kind: "set_label", slot: 1, label: "Owner" }));
  });

  it("refuses invalid commands locally at once, inside a burst and before a panel is known, without using a seq", async () => {
    const w = await world(kind, { ackTimeoutMs: 20_000 });
    // No agent ever runs for "nobody": the refusal must not wait for its state.
    expect(await w.client.send("nobody", { kind: "set_label", slot: 0, label: "x" })).toMatchObject({ status: "rejected", code: "schema_violation", local: true });
    await w.start("p1");
    applied(await w.client.send("p1", { kind: "set_code", slot: 2, code: code("2580") }));
    const bad = (i: number) => i % 250 === 120;
    const outcomes = await Promise.all(
      Array.from({ length: 1200 }, (_, i) => w.client.send("p1", bad(i) ? { kind: "set_label", slot: 0, label: "x" } : { kind: "set_label", slot: 2, label: `L${i}` })),
    );
    expect(outcomes.filter((_, i) => bad(i)).every((o) => o.status === "rejected" && o.code === "schema_violation" && o.local)).toBe(true);
    const seqs = outcomes.filter((_, i) => !bad(i)).map((o) => applied(o).seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
  });

  it("surfaces a sequence gap and its resync request, and converges by answering with a snapshot", async () => {
    const seqStore = new MemorySeqStore();
    seqStore.save("p1", 41); // a cloud counter ahead of the agent: seq 42 leaves a gap
    const w = await world(kind, { seqStore });
    await w.start("p1");
    const resyncs: ResyncRequest[] = [];
    w.client.on("resync", (r) => resyncs.push(r));
    await w.client.watch("p1");
    const gap = await w.client.send("p1", { kind: "set_label", slot: 1, label: "x" });
    expect(gap).toMatchObject({ status: "rejected", code: "sequence_gap", seq: 42 });
    const request = await waitFor(() => resyncs.find((r) => r.reason === "sequence_gap"));
    expect(request).toMatchObject({ panelId: "p1", lastSeq: 0, gotSeq: 42 });
    const snap = applied(await w.client.send("p1", { kind: "snapshot", users: [{ slot: 1, code: code("5555"), label: "Owner" }] }));
    expect(snap.result?.added).toEqual([1]);
    applied(await w.client.send("p1", { kind: "set_label", slot: 1, label: "Boss" }));
  });

  it("refuses sends on a closed client and resolves what was open as pending (closed)", async () => {
    const w = await world(kind, { ackTimeoutMs: 5000 });
    // No agent for this panel: no state ever comes, the command waits.
    const waiting = w.client.send("ghost", { kind: "set_label", slot: 1, label: "x" });
    await w.client.close();
    expect(await waiting).toMatchObject({ status: "pending", reason: "closed" });
    expect(() => w.client.send("p1", { kind: "set_label", slot: 1, label: "x" })).toThrow(expect.objectContaining({ code: "closed" }));
  });
});
