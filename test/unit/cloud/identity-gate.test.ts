import { describe, expect, it } from "vitest";
import { encodeAck, encodeEvent, encodeState, loadSigningKey, rejectedOutcome, signAgentMessage, WIRE_KINDS } from "../../../protocol/index.js";
import { IdentityGate, MemorySeqStore, type ForgedMessage, type IdentityPinned, type TrustMode } from "../../../src/cloud/index.js";
import { RuleError } from "../../../src/domain/index.js";

const P = "p1";
const panelKey = loadSigningKey(Buffer.alloc(32, 0x41));
const otherKey = loadSigningKey(Buffer.alloc(32, 0x42));
const state = (identity = panelKey, lastSeq = 0) =>
  signAgentMessage(
    encodeState({ panel: P, at: 1, sealKey: Buffer.alloc(32, 1), lastSeq, proto: { v: [1], kinds: [...WIRE_KINDS] }, agent: "panel-agent/0.1.0", panelType: "DSC", codeLength: 4, capacity: 1000, users: 0, timeZone: "UTC", dealerAccess: null, tableVersion: 0, digest: "0".repeat(64), identityKey: identity.publicRaw }),
    identity,
  );
const ack = (key = panelKey) => signAgentMessage(encodeAck(P, 1, rejectedOutcome(new RuleError("replayed"), "c1", 1)), key);
const evt = (n: number, key = panelKey) => signAgentMessage(encodeEvent(P, n, 1, "one_time_consumed", { slot: 2, localDay: "2026-12-02" }), key);

function gate(trust: TrustMode = "tofu", store = new MemorySeqStore()) {
  const got: string[] = [];
  const forged: ForgedMessage[] = [];
  const pins: IdentityPinned[] = [];
  const warnings: string[] = [];
  const g = new IdentityGate({
    trust,
    store,
    deliver: (_p, channel) => got.push(channel),
    forged: (f) => forged.push(f),
    identity: (i) => pins.push(i),
    warning: (_p, code) => warnings.push(code),
  });
  return { g, got, forged, pins, warnings, store };
}
const tick = () => new Promise((r) => setImmediate(r));

describe("IdentityGate", () => {
  it("tofu: holds acks and events until the first self-signed state pins the identity, then lets them through in order", async () => {
    const w = gate();
    w.g.receive(P, "evt", evt(1));
    w.g.receive(P, "ack", ack());
    await tick();
    expect(w.got).toEqual([]);
    w.g.receive(P, "state", state());
    expect(w.got).toEqual(["state", "evt", "ack"]);
    expect(w.pins).toMatchObject([{ panelId: P, how: "first_use", kid: panelKey.kid }]);
    expect(w.store.loadIdentity(P)).toBe(panelKey.publicRaw.toString("hex"));
    // and a held message of another key, after the pin, is refused
    w.g.receive(P, "evt", evt(2, otherKey));
    expect(w.forged).toMatchObject([{ channel: "evt", reason: "unknown_key", kid: otherKey.kid }]);
  });

  it("a pin in the store is used (how: stored); another key's state is refused until forget, then it pins anew", async () => {
    const store = new MemorySeqStore();
    store.saveIdentity(P, panelKey.publicRaw.toString("hex"));
    const w = gate("tofu", store);
    w.g.receive(P, "state", state(otherKey));
    await tick();
    expect(w.pins).toMatchObject([{ how: "stored", kid: panelKey.kid }]);
    expect(w.forged).toMatchObject([{ channel: "state", reason: "unknown_key", kid: otherKey.kid }]);
    expect(w.got).toEqual([]);
    w.g.forget(P);
    expect(w.got).toEqual(["state"]);
    expect(w.pins.at(-1)).toMatchObject({ how: "first_use", kid: otherKey.kid });
  });

  it("provisioned: nothing before a pin (no_identity), the refused state goes through once pinned", async () => {
    const w = gate("provisioned");
    w.g.receive(P, "state", state());
    await tick();
    expect(w.forged).toMatchObject([{ channel: "state", reason: "no_identity" }]);
    w.g.pin(P, panelKey.publicRaw);
    expect(w.got).toEqual(["state"]);
    expect(w.pins).toMatchObject([{ how: "provisioned" }]);
  });

  it("keeps at most 1000 held messages per panel (the oldest go, with a warning)", async () => {
    const w = gate();
    for (let i = 1; i <= 1001; i++) w.g.receive(P, "evt", evt(i));
    await tick();
    expect(w.warnings).toEqual(["held_overflow"]);
    w.g.receive(P, "state", state());
    expect(w.got.filter((c) => c === "evt")).toHaveLength(1000);
  });
});
