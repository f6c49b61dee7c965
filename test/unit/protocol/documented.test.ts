/**
 * Behaviours protocol/README.md states that a cloud team could otherwise only guess (issue 13):
 * the type of a sealed code, the answer to a body outside the CBOR profile, which envelope
 * failures carry an id (none a seq), whose panel `wrong_panel` names, a new user's defaults and
 * set_label's rules.
 */
import { describe, expect, it } from "vitest";
import {
  decodeAck, encodeCbor, encodeCommand, encodeEnvelopeFailure, openEnvelope, seal, signBytes,
  type OpenResult,
} from "../../../protocol/index.js";
import { Secret } from "../../../src/domain/index.js";
import { Panel, pin } from "../access/fixtures.js";
import { actor, agent, EXP, keys, openOpts, PANEL, signer } from "./helpers.js";

/** A signed envelope around a hand-made body (bytes as given, so they may break the profile). */
function envelope(body: Uint8Array): Buffer {
  return encodeCbor({ v: 1, kid: signer.kid, body, sig: signBytes(body, signer) });
}

/** The ack the agent publishes for an envelope that failed as a whole. */
function failureAck(r: OpenResult) {
  expect(r.ok).toBe(false);
  if (r.ok) throw new Error("opened");
  const d = decodeAck(encodeEnvelopeFailure(PANEL, 1, r));
  if (!d.ok) throw d.error;
  return d.value;
}

describe("protocol/README.md, as the agent does it", () => {
  it("a sealed code is text of digits: an integer is schema_violation at cmd.sealed.code", () => {
    const id = "int-code";
    const sealed = seal(encodeCbor({ code: 4711 }), agent.publicRaw, PANEL, id);
    const body = encodeCbor({ v: 1, t: "cmd", panel: PANEL, cmd: { seq: 1, exp: EXP, kind: "set_code", id, actor, slot: 2, sealed } });
    const r = openEnvelope(envelope(body), openOpts());
    expect(r.ok && r.commands[0]).toMatchObject({ ok: false, seq: 1, id, error: { code: "schema_violation", detail: { path: "cmd.sealed.code", issue: "invalid_secrets" } } });
  });

  it("a signed body outside the CBOR profile is malformed_payload, answered without an id", () => {
    const good = encodeCbor({ v: 1, t: "cmd", panel: PANEL, cmd: { seq: 1, exp: EXP, kind: "disable_user", id: "x1", actor, slot: 2 } });
    const ack = failureAck(openEnvelope(envelope(Buffer.concat([good, Buffer.from([0x00])])), openOpts()));
    expect(ack).toMatchObject({ t: "ack", panel: PANEL, ack: { ok: false, error: { code: "malformed_payload", detail: { reason: "trailing_bytes" } } } });
    expect(ack.t === "ack" && ack.ack.id).toBeUndefined();
  });

  it("envelope failures never carry a seq; v: 2 carries no id; bad_signature and wrong_panel carry the command's id", () => {
    const body = (over: Record<string, unknown>) => encodeCbor({ v: 1, t: "cmd", panel: PANEL, cmd: { seq: 7, exp: EXP, kind: "disable_user", id: "c7", actor, slot: 2 }, ...over });
    const v2 = failureAck(openEnvelope(envelope(body({ v: 2 })), openOpts()));
    expect(v2.t === "ack" && v2.ack).toEqual({ ok: false, error: { code: "schema_violation", detail: { path: "body.v", issue: "unsupported_version", v: 2 } } });

    const tampered = envelope(body({}));
    tampered[tampered.length - 1]! ^= 1;
    const bad = failureAck(openEnvelope(tampered, openOpts()));
    expect(bad.t === "ack" && bad.ack).toEqual({ ok: false, error: { code: "bad_signature", detail: { kid: signer.kid } }, id: "c7" });

    // wrong_panel: the ack is the agent's own (panel), the detail names the panel the command was for
    const elsewhere = failureAck(openEnvelope(encodeCommand("panel-9999", { seq: 7, expiresAt: EXP, command: { kind: "disable_user", id: "c7", actor, slot: 2 } }, keys), openOpts()));
    expect(elsewhere).toMatchObject({ panel: PANEL, ack: { ok: false, id: "c7", error: { code: "wrong_panel", detail: { panel: "panel-9999" } } } });
    expect(elsewhere.t === "ack" && elsewhere.ack.seq).toBeUndefined();
  });

  it("a code set on an empty slot makes a user: label User N, the type's role, every partition, always", () => {
    const p = new Panel("DSC");
    const out = p.apply({ kind: "set_code", slot: 5, code: pin("4829") });
    expect(out.result.slots).toEqual([
      { number: 5, label: "User 5", role: "User", codeSet: true, partitions: p.table.allPartitions(), schedule: { kind: "always" }, doorLocks: [], tags: [], account: null, version: expect.any(Number) },
    ]);
    expect(p.table.allPartitions()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("set_label: label beats the names, names are trimmed, joined with a space and cut; a long label and no text are refused", () => {
    const p = new Panel("DSC"); // labels of 14 characters
    p.apply({ kind: "set_code", slot: 2, code: pin("4829") });
    const label = (input: Record<string, unknown>) => p.apply({ kind: "set_label", slot: 2, ...input }).result.slots![0]!.label;
    expect(label({ label: "Front", firstName: "Ada", lastName: "Lovelace" })).toBe("Front");
    expect(label({ firstName: "  Ada ", lastName: " Lovelace" })).toBe("Ada Lovelace");
    expect(label({ lastName: "Lovelace" })).toBe("Lovelace");
    expect(label({ firstName: "Augusta Ada", lastName: "King-Noel" })).toBe("Augusta Ada Ki");
    const refused = (input: Record<string, unknown>) => {
      try {
        p.apply({ kind: "set_label", slot: 2, ...input });
        return "applied";
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(refused({ label: "A label longer than 14" })).toBe("command refused: label_too_long");
    expect(refused({})).toBe("command refused: invalid_label");
    expect(refused({ firstName: "  ", lastName: "" })).toBe("command refused: invalid_label");
    expect(refused({ label: "tab\there" })).toBe("command refused: invalid_label");
  });

  it("the cloud encoder refuses an unsealed Secret in the clear (a code can only travel sealed)", () => {
    expect(() => encodeCbor({ code: new Secret("4711") })).toThrow();
  });
});
