import { describe, expect, it } from "vitest";
import { RuleError } from "../../../src/domain/index.js";
import {
  appliedOutcome,
  decodeAck,
  decodeEvent,
  decodeState,
  decodeStatus,
  encodeAck,
  encodeBatchAck,
  encodeCbor,
  encodeEnvelopeFailure,
  encodeEvent,
  encodeState,
  encodeStatus,
  fleetFilter,
  panelTopics,
  parseTopic,
  rejectedOutcome,
  sharedFilter,
  WIRE_KINDS,
} from "../../../protocol/index.js";
import { actor, agent, NOW, PANEL } from "./helpers.js";
import { wireEvent } from "../../../src/sync/events.js";

describe("acks", () => {
  it("round-trips an ack and a batch ack", () => {
    const ok = appliedOutcome("c1", 4, { added: [2], changed: [], removed: [3] });
    const a = decodeAck(encodeAck(PANEL, NOW, ok));
    expect(a).toEqual({ ok: true, value: { v: 1, t: "ack", panel: PANEL, at: NOW, ack: ok } });
    const outcomes = [ok, rejectedOutcome(new RuleError("version_conflict", { slot: 2, version: 9 }), "c2", 5), appliedOutcome("c3", 6, undefined, true)];
    const b = decodeAck(encodeBatchAck(PANEL, NOW, "b1", outcomes));
    expect(b.ok && b.value.t === "batch_ack" && b.value.acks).toEqual([ok, { ok: false, id: "c2", seq: 5, error: { code: "version_conflict", detail: { slot: 2, version: 9 } } }, { ok: true, id: "c3", seq: 6, dup: true }]);
  });

  it("answers a failed envelope with an ack, or a batch ack carrying the error", () => {
    const single = decodeAck(encodeEnvelopeFailure(PANEL, NOW, { ok: false, id: "c1", error: new RuleError("bad_signature", { kid: "00" }) }));
    expect(single.ok && single.value).toMatchObject({ t: "ack", ack: { ok: false, id: "c1", error: { code: "bad_signature" } } });
    const batch = decodeAck(encodeEnvelopeFailure(PANEL, NOW, { ok: false, batchId: "b1", error: new RuleError("wrong_panel") }));
    expect(batch.ok && batch.value).toMatchObject({ t: "batch_ack", id: "b1", acks: [], error: { code: "wrong_panel" } });
    const anon = decodeAck(encodeEnvelopeFailure(PANEL, NOW, { ok: false, error: new RuleError("malformed_payload") }));
    expect(anon.ok && anon.value).toMatchObject({ t: "ack", ack: { ok: false, error: { code: "malformed_payload" } } });
  });

  it("refuses to encode an invalid ack (a bug) with internal_error", () => {
    expect(() => encodeAck(PANEL, NOW, { ok: true, id: "", seq: 1 })).toThrow(RuleError);
  });

  it("decodes an ack with an error code it does not know yet (newer agent)", () => {
    const bytes = encodeCbor({ v: 1, t: "ack", panel: PANEL, at: NOW, ack: { ok: false, id: "c", error: { code: "some_future_code" } } });
    expect(decodeAck(bytes).ok).toBe(true);
  });
});

describe("events, state and status", () => {
  it("round-trips every domain event", () => {
    const events = [
      { type: "local_change" as const, at: NOW, actor, action: "set_label", slot: 2, after: { label: "Bob", version: 3 } },
      { type: "one_time_consumed" as const, at: NOW, slot: 4, localDay: "2024-03-31" },
      { type: "snapshot_applied" as const, at: NOW, added: [1], changed: [2], removed: [3] },
    ];
    events.forEach((e, i) => {
      const w = wireEvent(e);
      const d = decodeEvent(encodeEvent(PANEL, i + 1, w.at, w.type, w.data));
      expect(d).toEqual({ ok: true, value: { v: 1, t: "evt", panel: PANEL, n: i + 1, at: NOW, type: w.type, data: w.data } });
    });
  });

  it("round-trips a resync request and refuses an unknown event type", () => {
    const d = decodeEvent(encodeEvent(PANEL, 9, NOW, "resync_request", { lastSeq: 10, gotSeq: 12, reason: "sequence_gap" }));
    expect(d.ok && d.value.data).toEqual({ lastSeq: 10, gotSeq: 12, reason: "sequence_gap" });
    const bad = decodeEvent(encodeCbor({ v: 1, t: "evt", panel: PANEL, n: 1, at: NOW, type: "nope", data: {} }));
    expect(bad.ok ? "ok" : bad.error.code).toBe("schema_violation");
  });

  it("round-trips the retained state with the sealing key", () => {
    const state = {
      panel: PANEL,
      at: NOW,
      sealKey: agent.publicRaw,
      lastSeq: 0,
      proto: { v: [1], kinds: [...WIRE_KINDS] },
      agent: "panel-agent/0.1.0",
      panelType: "Qolsys IQ" as const,
      codeLength: 6,
      capacity: 242,
      users: 0,
      timeZone: "America/New_York",
      dealerAccess: { until: NOW + 7_200_000, hours: 2 as const },
      tableVersion: 3,
      digest: "ab".repeat(32),
    };
    const d = decodeState(encodeState(state));
    expect(d.ok && Buffer.from(d.value.sealKey).equals(agent.publicRaw)).toBe(true);
    expect(d.ok && { ...d.value, sealKey: null }).toEqual({ v: 1, t: "state", ...state, sealKey: null });
  });

  it("round-trips online, offline and the last will", () => {
    for (const s of [{ panel: PANEL, status: "online" as const, at: NOW }, { panel: PANEL, status: "offline" as const, reason: "connection_lost" as const }]) {
      expect(decodeStatus(encodeStatus(s))).toEqual({ ok: true, value: { v: 1, t: "status", ...s } });
    }
  });
});

describe("topics", () => {
  it("builds and parses the per-panel topics", () => {
    expect(panelTopics("p-1")).toEqual({ cmd: "panels/p-1/cmd", ack: "panels/p-1/ack", evt: "panels/p-1/evt", state: "panels/p-1/state", status: "panels/p-1/status" });
    expect(panelTopics("p-1", "acme/eu").ack).toBe("acme/eu/p-1/ack");
    expect(parseTopic("panels/p-1/evt")).toEqual({ panelId: "p-1", channel: "evt" });
    expect(parseTopic("acme/eu/p-1/cmd", "acme/eu")).toEqual({ panelId: "p-1", channel: "cmd" });
    expect(parseTopic("panels/p-1/other")).toBeNull();
    expect(parseTopic("panels/+/ack")).toBeNull();
    expect(parseTopic("other/p-1/ack")).toBeNull();
  });

  it("refuses panel ids that are not one safe topic level", () => {
    for (const id of ["", "a/b", "+", "#", "$SYS", "a b", "x".repeat(65)]) expect(() => panelTopics(id)).toThrow();
  });

  it("builds fleet and shared subscriptions", () => {
    expect(fleetFilter("ack")).toBe("panels/+/ack");
    expect(sharedFilter("acks", "ack")).toBe("$share/acks/panels/+/ack");
    expect(() => sharedFilter("a/b", "ack")).toThrow();
  });
});
