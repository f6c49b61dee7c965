/**
 * The per-panel sender without a broker: a fake publish records the bytes, which are opened with
 * the agent's own openEnvelope (real signatures, real sealing keys), and vitest's fake timers
 * stand in for the clock, so resend paces and their jitter are exact.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { generateSealingKey, generateSigningKey, openEnvelope, PROTOCOL_VERSION, TrustedKeys, type State } from "../../../protocol/index.js";
import type { Job } from "../../../src/cloud/job.js";
import { MAX_RETRY_MS, PanelSender, retryDelay, RETRY_JITTER, type SenderOptions } from "../../../src/cloud/sender.js";
import { MemorySeqStore } from "../../../src/cloud/seq-store.js";
import type { Outcome } from "../../../src/cloud/types.js";

const PANEL = "p1";
const ACK_TIMEOUT = 1_000;
const NOW = 1_700_000_000_000;
const signingKey = generateSigningKey();
const sealing = generateSealingKey();
const trustedKeys = new TrustedKeys([signingKey.publicRaw]);

function state(lastSeq: number, kinds: string[] = ["set_label"]): State {
  return {
    v: PROTOCOL_VERSION,
    t: "state",
    panel: PANEL,
    at: NOW,
    sealKey: sealing.publicRaw,
    lastSeq,
    proto: { v: [PROTOCOL_VERSION], kinds },
    agent: "test",
    panelType: "DSC",
    codeLength: 4,
    capacity: 100,
    users: 1,
    timeZone: "UTC",
    dealerAccess: null,
    tableVersion: 1,
    digest: "0".repeat(64),
  };
}

interface Rig {
  sender: PanelSender;
  published: Buffer[];
  outcomes: Map<string, Outcome>;
  host: { state: State; offline: boolean; connected: boolean; closed: boolean };
  store: MemorySeqStore;
  job(id: string, input?: object): Job;
  /** The (seq, id) pairs of the n-th envelope published, as the agent opens it. */
  opened(n: number): { batch: boolean; items: [number, string][] };
}

function rig(overrides: Partial<SenderOptions> = {}, lastSeq = 5): Rig {
  const published: Buffer[] = [];
  const outcomes = new Map<string, Outcome>();
  const store = new MemorySeqStore();
  const host = { state: state(lastSeq), offline: false, connected: true, closed: false };
  const sender = new PanelSender(
    {
      panelId: PANEL,
      state: () => host.state,
      offline: () => host.offline,
      epoch: () => undefined,
      closed: () => host.closed,
      connected: () => host.connected,
      publish: (bytes) => published.push(bytes),
      answered: () => {},
    },
    { signingKey, maxBatch: 500, maxPayloadBytes: 240 * 1024, ackTimeoutMs: ACK_TIMEOUT, seqStore: store, now: () => NOW, random: () => 0, ...overrides },
  );
  sender.lastAssigned = lastSeq;
  return {
    sender,
    published,
    outcomes,
    host,
    store,
    job(id, input = { kind: "set_label", slot: 2, label: id }) {
      return {
        panelId: PANEL,
        id,
        input: { ...input, id, actor: { kind: "cloud", id: "test" } },
        firstDone: false,
        finalDone: false,
        resolveFirst: (o) => outcomes.set(id, o),
        deadline: Number.MAX_SAFE_INTEGER,
        expiresAt: NOW + 60_000,
      };
    },
    opened(n) {
      const r = openEnvelope(published[n]!, { panelId: PANEL, trustedKeys, agentPrivateKey: sealing, now: NOW });
      if (!r.ok) throw new Error(`envelope ${n} did not open: ${r.error.code}`);
      return { batch: r.batchId !== null, items: r.commands.map((c) => [c.seq, c.id]) };
    },
  };
}

/** Lets queued microtasks, immediates and the seq store's save run (fake timers hold setImmediate). */
async function settleTurns(): Promise<void> {
  for (let i = 0; i < 5; i++) await vi.advanceTimersByTimeAsync(0);
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("ordering and coalescing", () => {
  it("numbers commands handed over together base+1, base+2, ... in hand-over order, in one batch envelope", async () => {
    const r = rig();
    for (const id of ["a", "b", "c"]) r.sender.enqueue(r.job(id));
    await settleTurns();
    expect(r.published).toHaveLength(1);
    expect(r.opened(0)).toEqual({ batch: true, items: [[6, "a"], [7, "b"], [8, "c"]] });
    expect(r.sender.lastAssigned).toBe(8);
    expect(r.store.load(PANEL)).toBe(8);
  });

  it("sends a lone command as a single-command envelope", async () => {
    const r = rig();
    r.sender.enqueue(r.job("only"));
    await settleTurns();
    expect(r.opened(0)).toEqual({ batch: false, items: [[6, "only"]] });
  });

  it("keeps one envelope in flight; what comes meanwhile goes as one batch after the ack, seqs following on", async () => {
    const r = rig();
    r.sender.enqueue(r.job("first"));
    await settleTurns();
    for (const id of ["x", "y", "z"]) r.sender.enqueue(r.job(id));
    await settleTurns();
    expect(r.published).toHaveLength(1);
    r.sender.settle();
    await settleTurns();
    expect(r.published).toHaveLength(2);
    expect(r.opened(1)).toEqual({ batch: true, items: [[7, "x"], [8, "y"], [9, "z"]] });
  });

  it("cuts batches at maxBatch, in order", async () => {
    const r = rig({ maxBatch: 2 });
    for (const id of ["a", "b", "c", "d", "e"]) r.sender.enqueue(r.job(id));
    await settleTurns();
    r.sender.settle();
    await settleTurns();
    r.sender.settle();
    await settleTurns();
    expect([0, 1, 2].map((n) => r.opened(n).items)).toEqual([
      [[6, "a"], [7, "b"]],
      [[8, "c"], [9, "d"]],
      [[10, "e"]],
    ]);
  });

  it("splits an envelope that would exceed maxPayloadBytes, keeping every command and the order", async () => {
    const big = "L".repeat(200);
    const r = rig({ maxPayloadBytes: 1_500 });
    const ids = Array.from({ length: 8 }, (_, i) => `c${i}`);
    for (const id of ids) r.sender.enqueue(r.job(id, { kind: "set_label", slot: 2, label: big }));
    await settleTurns();
    while (r.sender.inflight) {
      r.sender.settle();
      await settleTurns();
    }
    const items = r.published.map((_, n) => r.opened(n).items).flat();
    expect(items).toEqual(ids.map((id, i) => [6 + i, id]));
    expect(r.published.length).toBeGreaterThan(1);
    for (const bytes of r.published) expect(bytes.length).toBeLessThanOrEqual(1_500);
  });

  it("refuses locally, using no seq, what is invalid or not advertised; the rest keeps its order", async () => {
    const r = rig();
    r.sender.enqueue(r.job("ok1"));
    r.sender.enqueue(r.job("bad", { kind: "set_label", slot: "two" }));
    r.sender.enqueue(r.job("unadvertised", { kind: "disable_user", slot: 2 }));
    r.sender.enqueue(r.job("ok2"));
    await settleTurns();
    expect(r.opened(0).items).toEqual([[6, "ok1"], [7, "ok2"]]);
    expect(r.outcomes.get("bad")).toMatchObject({ status: "rejected", code: "schema_violation", local: true });
    expect(r.outcomes.get("unadvertised")).toMatchObject({ status: "rejected", code: "unknown_command", local: true, detail: { kind: "disable_user" } });
  });

  it("sends nothing before the counter is known, nor while held", async () => {
    const r = rig();
    r.sender.lastAssigned = undefined;
    r.sender.enqueue(r.job("a"));
    await settleTurns();
    expect(r.published).toHaveLength(0);
    r.sender.lastAssigned = 5;
    r.sender.hold = true;
    r.sender.scheduleFlush();
    await settleTurns();
    expect(r.published).toHaveLength(0);
    r.sender.hold = false;
    r.sender.scheduleFlush();
    await settleTurns();
    expect(r.opened(0).items).toEqual([[6, "a"]]);
  });
});

describe("resend rules", () => {
  it("resends the same bytes after the ack timeout, then at twice the pace each time, up to a minute", async () => {
    const r = rig();
    r.sender.enqueue(r.job("a"));
    await settleTurns();
    expect(r.published).toHaveLength(1);
    const gaps = [ACK_TIMEOUT, 2 * ACK_TIMEOUT, 4 * ACK_TIMEOUT];
    for (const [i, gap] of gaps.entries()) {
      await vi.advanceTimersByTimeAsync(gap - 1);
      expect(r.published).toHaveLength(1 + i);
      await vi.advanceTimersByTimeAsync(1);
      expect(r.published).toHaveLength(2 + i);
    }
    expect(r.published.every((b) => b.equals(r.published[0]!))).toBe(true);
    expect(r.sender.inflight?.attempts).toBe(4);
    expect(retryDelay(ACK_TIMEOUT, 20, 0)).toBe(MAX_RETRY_MS);
  });

  it("stops resending once the envelope is answered", async () => {
    const r = rig();
    r.sender.enqueue(r.job("a"));
    await settleTurns();
    r.sender.settle();
    await vi.advanceTimersByTimeAsync(10 * ACK_TIMEOUT);
    expect(r.published).toHaveLength(1);
  });

  it("does not resend to a panel whose status is offline; after it is back, waits one ack timeout again", async () => {
    const r = rig();
    r.sender.enqueue(r.job("a"));
    await settleTurns();
    r.host.offline = true;
    await vi.advanceTimersByTimeAsync(5 * ACK_TIMEOUT);
    expect(r.published).toHaveLength(1);
    r.host.offline = false;
    r.sender.backOnline();
    await vi.advanceTimersByTimeAsync(ACK_TIMEOUT - 1);
    expect(r.published).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(r.published).toHaveLength(2);
    expect(r.published[1]!.equals(r.published[0]!)).toBe(true);
  });

  it("publishes nothing while disconnected; republish() sends the same envelope when the connection is back", async () => {
    const r = rig();
    r.host.connected = false;
    r.sender.enqueue(r.job("a"));
    await settleTurns();
    await vi.advanceTimersByTimeAsync(3 * ACK_TIMEOUT);
    expect(r.published).toHaveLength(0);
    r.host.connected = true;
    r.sender.republish();
    expect(r.opened(0).items).toEqual([[6, "a"]]);
  });

  it("an envelope failed as a whole rejects every command with its code and gives the seqs back", async () => {
    const r = rig();
    for (const id of ["a", "b"]) r.sender.enqueue(r.job(id));
    await settleTurns();
    r.sender.envelopeFailed("bad_signature", { kid: "k" });
    expect(r.outcomes.get("a")).toEqual({ status: "rejected", panelId: PANEL, id: "a", code: "bad_signature", detail: { kid: "k" } });
    expect(r.outcomes.get("b")).toMatchObject({ code: "bad_signature" });
    expect(r.sender.lastAssigned).toBe(5);
    r.sender.enqueue(r.job("c"));
    await settleTurns();
    expect(r.opened(1).items).toEqual([[6, "c"]]);
  });

  it("requeued commands lose their seqs, hold sending, and go again first with fresh seqs", async () => {
    const r = rig();
    const a = r.job("a");
    r.sender.enqueue(a);
    await settleTurns();
    r.sender.enqueue(r.job("b"));
    r.sender.requeue([a]);
    expect(a.seq).toBeUndefined();
    expect(a.resent).toBe(true);
    expect(r.sender.hold).toBe(true);
    await settleTurns();
    expect(r.published).toHaveLength(1);
    r.sender.lastAssigned = 9;
    r.sender.hold = false;
    r.sender.scheduleFlush();
    await settleTurns();
    expect(r.opened(1).items).toEqual([[10, "a"], [11, "b"]]);
  });

  it("close() hands back every unanswered job in order and stops the resend timer", async () => {
    const r = rig();
    r.sender.enqueue(r.job("a"));
    await settleTurns();
    r.sender.enqueue(r.job("b"));
    r.host.closed = true;
    expect(r.sender.close().map((j) => j.id)).toEqual(["a", "b"]);
    await vi.advanceTimersByTimeAsync(10 * ACK_TIMEOUT);
    expect(r.published).toHaveLength(1);
  });
});

describe("jitter", () => {
  it("keeps every resend delay within [nominal, nominal * (1 + RETRY_JITTER)]", () => {
    for (let attempts = 0; attempts < 10; attempts++) {
      const nominal = Math.min(ACK_TIMEOUT * 2 ** attempts, MAX_RETRY_MS);
      expect(retryDelay(ACK_TIMEOUT, attempts, 0)).toBe(nominal);
      expect(retryDelay(ACK_TIMEOUT, attempts, 0.999999)).toBe(Math.round(nominal * (1 + RETRY_JITTER)));
      for (const random of [0.1, 0.5, 0.9]) {
        const d = retryDelay(ACK_TIMEOUT, attempts, random);
        expect(d).toBeGreaterThanOrEqual(nominal);
        expect(d).toBeLessThanOrEqual(nominal * (1 + RETRY_JITTER));
      }
    }
  });

  it("spreads a resend by the random draw: at most 20% late, never early", async () => {
    const r = rig({ random: () => 0.5 });
    r.sender.enqueue(r.job("a"));
    await settleTurns();
    await vi.advanceTimersByTimeAsync(ACK_TIMEOUT * 1.1 - 1);
    expect(r.published).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(r.published).toHaveLength(2);
  });
});
