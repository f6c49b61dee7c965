import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  agentPayload, decodeAck, decodeEvent, decodeState, encodeAck, encodeCbor, encodeEvent, loadSigningKey, panelIdentity, rejectedOutcome,
  signAgentMessage, unverifiedBody, verifyAgentPayload,
} from "../../../protocol/index.js";
import { RuleError } from "../../../src/domain/index.js";
import { PANEL } from "./helpers.js";

const identity = loadSigningKey(Buffer.alloc(32, 0x31));
const other = loadSigningKey(Buffer.alloc(32, 0x32));
const pinned = panelIdentity(identity.publicRaw);
const ack = encodeAck(PANEL, 5, rejectedOutcome(new RuleError("replayed", { seq: 3 }), "c3", 3));

describe("the signed form of agent messages (protocol/README.md 4.1)", () => {
  it("signs the exact message bytes; the pinned identity verifies them and gets them back", () => {
    const signed = signAgentMessage(ack, identity);
    const v = verifyAgentPayload(signed, pinned);
    expect(v.ok && Buffer.from(v.body).equals(ack)).toBe(true);
    expect(pinned.kid).toBe(identity.kid);
    expect(panelIdentity(identity.publicRaw.toString("hex")).kid).toBe(identity.kid);
  });

  it("says why a payload is not believed: unsigned, another key, a bad signature, malformed", () => {
    expect(verifyAgentPayload(ack, pinned)).toEqual({ ok: false, reason: "unsigned" });
    expect(verifyAgentPayload(signAgentMessage(ack, other), pinned)).toEqual({ ok: false, reason: "unknown_key", kid: other.kid });
    const forged = encodeCbor({ v: 1, kid: identity.kid, body: ack, sig: Buffer.alloc(64, 1) });
    expect(verifyAgentPayload(forged, pinned)).toEqual({ ok: false, reason: "bad_signature", kid: identity.kid });
    const changed = signAgentMessage(ack, identity);
    changed[changed.length - 70]! ^= 1; // inside the body
    expect(verifyAgentPayload(changed, pinned)).toMatchObject({ ok: false });
    expect(verifyAgentPayload(Buffer.from([0xff]), pinned)).toEqual({ ok: false, reason: "malformed" });
    expect(verifyAgentPayload(encodeCbor({ kid: identity.kid, body: ack }), pinned)).toEqual({ ok: false, reason: "malformed" });
  });

  it("a map with a signed form's fields must be a whole signed form; any other map is a bare message", () => {
    expect(agentPayload(encodeCbor({ v: 1, body: ack })).ok).toBe(false);
    expect(agentPayload(ack)).toMatchObject({ ok: true, value: { signed: false } });
    expect(agentPayload(signAgentMessage(ack, identity))).toMatchObject({ ok: true, value: { signed: true, kid: identity.kid } });
  });

  it("the decoders read the content of either form, without believing it (the cloud client verifies first)", () => {
    const evt = encodeEvent(PANEL, 1, 5, "duress", { slot: 3, point: { kind: "keypad", id: "kp" } });
    expect(decodeAck(signAgentMessage(ack, other))).toMatchObject({ ok: true, value: { t: "ack", ack: { error: { code: "replayed" } } } });
    expect(decodeEvent(signAgentMessage(evt, other))).toMatchObject({ ok: true, value: { type: "duress" } });
    expect(decodeEvent(evt).ok).toBe(true);
    expect(unverifiedBody(signAgentMessage(evt, other))).toMatchObject({ ok: true });
  });

  it("refuses a key that is not 32 bytes as an identity", () => {
    expect(() => panelIdentity(Buffer.alloc(31))).toThrow(TypeError);
  });

  it("never throws and never believes bytes it was not given by the identity: random payloads, random signed forms", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.boolean(), (junk, sig, wrap) => {
        const payload = wrap ? encodeCbor({ v: 1, kid: identity.kid, body: junk, sig }) : junk;
        expect(verifyAgentPayload(payload, pinned).ok).toBe(false);
        for (const decode of [decodeAck, decodeEvent, decodeState]) expect(typeof decode(payload).ok).toBe("boolean");
      }),
      { numRuns: 300 },
    );
  });
});
