/**
 * The cloud client keeps its counter in step with a panel (option `resequence`): a panel whose
 * database was made anew (new epoch, lastSeq 0; its keys kept), a replaced panel (its whole state
 * gone: a new identity too, refused until the operator forgets the old one), a counter ahead of
 * the panel with no epoch known
 * (a seq file from before epochs were kept), a counter behind it (another sender): the next
 * command is applied, never turned into a failed one, and never applied twice.
 */
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { generateSigningKey } from "../../protocol/index.js";
import type { Agent } from "../../src/agent.js";
import { CloudClient, MemorySeqStore, type AppliedOutcome, type ForgedMessage, type Outcome, type PanelReset, type Resequenced } from "../../src/cloud/index.js";
import { DB_FILE } from "../../src/store/store.js";
import { Secret } from "../../src/domain/index.js";
import { cloudAgentConfig, runAgent, startBroker, waitFor } from "../helpers/cloud-harness.js";
import { tempDirs } from "../helpers/tmp.js";

const dirs = tempDirs();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  dirs.cleanup();
});

const applied = (o: Outcome): AppliedOutcome => {
  expect(o).toMatchObject({ status: "applied" });
  return o as AppliedOutcome;
};

async function setup(seqStore = new MemorySeqStore(), resequence = true) {
  const broker = await startBroker("mosquitto");
  cleanups.push(() => broker.close());
  const key = generateSigningKey();
  const dir = dirs.make();
  const config = cloudAgentConfig(dir, broker.url, "r1", key);
  let agent: Agent | undefined = await runAgent(config);
  cleanups.push(() => agent?.stop());
  const client = new CloudClient({ url: broker.url, signingKey: key, ackTimeoutMs: 5000, seqStore, resequence });
  await client.connect();
  cleanups.push(() => client.close());
  const resets: PanelReset[] = [];
  const reseqs: Resequenced[] = [];
  const forged: ForgedMessage[] = [];
  client.on("reset", (r) => resets.push(r));
  client.on("resequenced", (r) => reseqs.push(r));
  client.on("forged", (f) => forged.push(f));
  return {
    broker, key, client, resets, reseqs, forged, seqStore,
    /** The database is lost (deleted, restored from nothing); the key files beside it are kept. */
    async wipeAndRestart() {
      await agent?.stop();
      agent = undefined;
      const stateDir = join(dir, "state");
      for (const f of readdirSync(stateDir)) if (f.startsWith(DB_FILE)) rmSync(join(stateDir, f));
      agent = await runAgent(config);
    },
    /** The whole state directory is gone (a replaced or wiped panel): new keys, a new identity. */
    async replaceAndRestart() {
      await agent?.stop();
      agent = undefined;
      rmSync(join(dir, "state"), { recursive: true, force: true });
      agent = await runAgent(config);
    },
  };
}

describe("cloud client re-sequencing", () => {
  it("re-aligns to a reset panel (new epoch) seen by a running client, and the next command is applied at seq 1", async () => {
    const w = await setup();
    const before = await w.client.panelState("r1");
    applied(await w.client.send("r1", { kind: "set_code", slot: 2, code: new Secret("4711") }));
    const last = applied(await w.client.send("r1", { kind: "set_label", slot: 2, label: "Anna" }));
    expect(last.seq).toBe(2);
    expect(w.seqStore.loadEpoch("r1")).toBe(before!.epoch);

    await w.wipeAndRestart();
    const reset = await waitFor(() => w.resets[0]);
    expect(reset).toMatchObject({ panelId: "r1", previousEpoch: before!.epoch, lastSeq: 0, counter: 2, realigned: true });
    expect(reset.epoch).not.toBe(before!.epoch);

    const next = applied(await w.client.send("r1", { kind: "set_code", slot: 3, code: new Secret("2580") }));
    expect(next.seq).toBe(1);
    expect(w.seqStore.load("r1")).toBe(1);
    expect(w.seqStore.loadEpoch("r1")).toBe(reset.epoch);
  });

  it("a replaced panel (new identity) is refused until the operator forgets the old identity; then the next command is applied at seq 1", async () => {
    const w = await setup();
    const before = (await w.client.panelState("r1"))!;
    const oldKid = w.client.identityOf("r1")!.kid;
    applied(await w.client.send("r1", { kind: "set_code", slot: 2, code: new Secret("4711") }));
    await w.replaceAndRestart();
    const refused = await waitFor(() => w.forged.find((f) => f.channel === "state"));
    expect(refused.reason).toBe("unknown_key");
    expect(refused.kid).not.toBe(oldKid);
    expect(w.resets).toEqual([]);
    expect(Buffer.from((await w.client.panelState("r1"))!.sealKey).equals(Buffer.from(before.sealKey))).toBe(true);

    // The documented recovery: the operator confirms the replacement; the new identity is pinned from its state.
    w.client.forgetIdentity("r1");
    expect(w.client.identityOf("r1")!.kid).toBe(refused.kid);
    const reset = await waitFor(() => w.resets[0]);
    expect(reset).toMatchObject({ panelId: "r1", previousEpoch: before.epoch, lastSeq: 0, realigned: true });
    const next = applied(await w.client.send("r1", { kind: "set_code", slot: 3, code: new Secret("2580") }));
    expect(next.seq).toBe(1);
  });

  it("a new client whose stored epoch is the old one re-aligns at its first contact", async () => {
    const w = await setup();
    const old = await w.client.panelState("r1");
    applied(await w.client.send("r1", { kind: "set_code", slot: 2, code: new Secret("4711") }));
    await w.wipeAndRestart();
    await waitFor(() => w.resets[0]);
    const store = new MemorySeqStore();
    store.save("r1", 7, old!.epoch);
    const fresh = new CloudClient({ url: w.broker.url, signingKey: w.key, ackTimeoutMs: 5000, seqStore: store, resequence: true });
    await fresh.connect();
    cleanups.push(() => fresh.close());
    const resets: PanelReset[] = [];
    fresh.on("reset", (r) => resets.push(r));
    const o = applied(await fresh.send("r1", { kind: "set_code", slot: 1, code: new Secret("9182") }));
    expect(o.seq).toBe(1);
    expect(resets).toMatchObject([{ panelId: "r1", previousEpoch: old!.epoch, lastSeq: 0, counter: 7, realigned: true }]);
  });

  it("a counter ahead of the panel with no epoch known: the gap is answered by re-sequencing once, and the command is applied", async () => {
    const store = new MemorySeqStore();
    store.save("r1", 41); // a seq file written before epochs were kept
    const w = await setup(store);
    const o = applied(await w.client.send("r1", { kind: "set_code", slot: 2, code: new Secret("4711") }));
    expect(o.seq).toBe(1);
    expect(w.reseqs).toMatchObject([{ panelId: "r1", code: "sequence_gap", from: 42, to: 1, commands: 1 }]);
    // and a batch behind it goes on from there
    const more = await Promise.all([1, 2, 3].map((i) => w.client.send("r1", { kind: "set_label", slot: 2, label: `L${i}` })));
    expect(more.map((m) => applied(m).seq)).toEqual([2, 3, 4]);
  });

  it("a counter behind the panel (another sender took the seq): replayed is answered by re-sequencing once, applied exactly once", async () => {
    const w = await setup();
    const other = new CloudClient({ url: w.broker.url, signingKey: w.key, ackTimeoutMs: 5000 });
    await other.connect();
    cleanups.push(() => other.close());
    // The first client has read the state (lastSeq 0) but not sent yet; the other sender takes seq 1,
    // and the first client sends at once, before the retained state says lastSeq 1: its seq 1 is replayed.
    expect((await w.client.panelState("r1"))!.lastSeq).toBe(0);
    applied(await other.send("r1", { kind: "set_code", slot: 2, code: new Secret("4711") }));
    const a = applied(await w.client.send("r1", { kind: "set_label", slot: 2, label: "A" }));
    expect(a.seq).toBe(2);
    expect(w.reseqs).toMatchObject([{ panelId: "r1", code: "replayed", from: 1, to: 2, commands: 1 }]);
    const log = applied(await w.client.send("r1", { kind: "read_action_log", page: 1, perPage: 10 }));
    const rows = log.result!.page!.rows as { action: string; result: string }[];
    expect(rows.filter((r) => r.action === "set_label" && r.result === "ok")).toHaveLength(1);
    expect(rows.filter((r) => r.result === "replayed")).toHaveLength(1);
  });

  it("with resequence off (the default) a stale counter stays a sequence_gap, as a journal that owns the numbers needs", async () => {
    const store = new MemorySeqStore();
    store.save("r1", 41);
    const w = await setup(store, false);
    expect(await w.client.send("r1", { kind: "set_label", slot: 1, label: "x" })).toMatchObject({ status: "rejected", code: "sequence_gap", seq: 42 });
    expect(w.reseqs).toEqual([]);
  });
});
