import { describe, expect, it } from "vitest";
import { inspect } from "node:util";
import { commandSchema, RuleError, Secret } from "../../../src/domain/index.js";
import {
  decodeCbor,
  encodeBatch,
  encodeCbor,
  encodeCommand,
  loadSigningKey,
  openEnvelope,
  seal,
  signBytes,
  TrustedKeys,
  WIRE_COMMANDS,
  type OpenResult,
} from "../../../protocol/index.js";
import { actor, agent, everyKind, EXP, keys, NOW, openOpts, otherAgent, otherSigner, PANEL, revealed, signer, trusted } from "./helpers.js";

function errorOf(r: OpenResult): string {
  return r.ok ? "ok" : r.error.code;
}
function only(r: OpenResult) {
  if (!r.ok) throw new Error(`envelope failed: ${r.error.code}`);
  expect(r.commands).toHaveLength(1);
  return r.commands[0]!;
}
/** Re-signs an arbitrary body with the trusted key: exercises the checks behind the signature. */
function signed(body: unknown, key = signer): Buffer {
  const bodyBytes = encodeCbor(body);
  return encodeCbor({ v: 1, kid: key.kid, body: bodyBytes, sig: signBytes(bodyBytes, key) });
}
const setLabel = { kind: "set_label" as const, id: "c1", actor, slot: 3, label: "Bob" };

describe("round trips", () => {
  it.each(everyKind().map((c) => [c.kind, c] as const))("opens a signed %s into the same domain command", (_kind, command) => {
    const bytes = encodeCommand(PANEL, { seq: 9, expiresAt: EXP, command }, keys);
    const c = only(openEnvelope(bytes, openOpts()));
    expect(c.ok).toBe(true);
    if (!c.ok) return;
    expect({ seq: c.seq, id: c.id, expiresAt: c.expiresAt }).toEqual({ seq: 9, id: command.id, expiresAt: EXP });
    expect(commandSchema.safeParse(c.command).success).toBe(true);
    expect(revealed(c.command)).toEqual(revealed(command));
  });

  it("covers every wire kind in the kind table", () => {
    expect(new Set(everyKind().map((c) => c.kind))).toEqual(new Set(Object.keys(WIRE_COMMANDS)));
  });

  it("opens a batch into per-command results in order, with one signature", () => {
    const cmds = everyKind();
    const bytes = encodeBatch(PANEL, "b-1", cmds.map((command, i) => ({ seq: 100 + i, expiresAt: EXP, command })), keys);
    const r = openEnvelope(bytes, openOpts());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.batchId).toBe("b-1");
    expect(r.kid).toBe(signer.kid);
    expect(r.commands.map((c) => [c.ok, c.seq, c.id])).toEqual(cmds.map((c, i) => [true, 100 + i, c.id]));
  });

  it("accepts any trusted key during a rotation", () => {
    const both = new TrustedKeys([signer.publicRaw, otherSigner.publicRaw]);
    const a = encodeCommand(PANEL, { seq: 1, expiresAt: EXP, command: setLabel }, keys);
    const b = encodeCommand(PANEL, { seq: 1, expiresAt: EXP, command: setLabel }, { ...keys, signingKey: otherSigner });
    expect(errorOf(openEnvelope(a, openOpts({ trustedKeys: both })))).toBe("ok");
    expect(errorOf(openEnvelope(b, openOpts({ trustedKeys: both })))).toBe("ok");
    expect(errorOf(openEnvelope(b, openOpts()))).toBe("untrusted_key");
  });

  it("accepts the agent key as a bare KeyObject", () => {
    const bytes = encodeCommand(PANEL, { seq: 1, expiresAt: EXP, command: everyKind()[0]! }, keys);
    expect(only(openEnvelope(bytes, openOpts({ agentPrivateKey: agent.privateKey }))).ok).toBe(true);
  });
});

describe("secrets", () => {
  it("never carries a sealed code or tag in plaintext", () => {
    const code = "73914682";
    const tag = "TAGSECRET99";
    const bytes = encodeBatch(
      PANEL,
      "b",
      [
        { seq: 1, expiresAt: EXP, command: { kind: "set_code", id: "c1", actor, slot: 2, code: new Secret(code) } },
        { seq: 2, expiresAt: EXP, command: { kind: "set_proximity_tags", id: "c2", actor, slot: 2, tags: [{ kind: "keypad", tag: new Secret(tag) }] } },
        { seq: 3, expiresAt: EXP, command: { kind: "snapshot", id: "c3", actor, users: [{ slot: 2, code: new Secret(code) }] } },
      ],
      keys,
    );
    for (const s of [code, tag]) {
      expect(bytes.includes(Buffer.from(s))).toBe(false);
      expect(bytes.toString("hex").includes(Buffer.from(s).toString("hex"))).toBe(false);
    }
  });

  it("opened secrets are Secrets that redact themselves, also inside errors' output", () => {
    const bytes = encodeCommand(PANEL, { seq: 1, expiresAt: EXP, command: { kind: "set_code", id: "c1", actor, slot: 2, code: new Secret("2468") } }, keys);
    const r = openEnvelope(bytes, openOpts());
    expect(JSON.stringify(r)).not.toContain("2468");
    expect(inspect(r, { depth: 10 })).not.toContain("2468");
  });

  it("unseal_failed with another agent's key, without sinking the rest of the batch", () => {
    const bytes = encodeBatch(
      PANEL,
      "b",
      [
        { seq: 1, expiresAt: EXP, command: setLabel },
        { seq: 2, expiresAt: EXP, command: { kind: "set_code", id: "c2", actor, slot: 2, code: new Secret("1357") } },
        { seq: 3, expiresAt: EXP, command: { ...setLabel, id: "c3" } },
      ],
      { ...keys, agentPublicKey: otherAgent.publicRaw },
    );
    const r = openEnvelope(bytes, openOpts());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.commands.map((c) => (c.ok ? "ok" : c.error.code))).toEqual(["ok", "unseal_failed", "ok"]);
    const failed = r.commands[1]!;
    if (!failed.ok) expect(failed.error.detail).toEqual({ path: "cmds.1.sealed" });
  });

  it("binds a sealed field to its command id (AAD) and panel (HKDF info)", () => {
    const base = { seq: 1, expiresAt: EXP, command: { kind: "set_code" as const, id: "c1", actor, slot: 2, code: new Secret("1357") } };
    const decoded = decodeCbor(decodeCbor(encodeCommand(PANEL, base, keys)).ok ? (decodeCbor(encodeCommand(PANEL, base, keys)) as { value: { body: Uint8Array } }).value.body : Buffer.alloc(0));
    expect(decoded.ok).toBe(true);
    const body = (decoded as { value: { cmd: Record<string, unknown> } }).value;
    // The same sealed field moved under another command id does not open.
    const moved = signed({ ...body, cmd: { ...body.cmd, id: "c2" } });
    const c = only(openEnvelope(moved, openOpts()));
    expect(c.ok ? "ok" : c.error.code).toBe("unseal_failed");
    // Sealed for another panel id does not open here.
    const other = signed({ ...body, cmd: { ...body.cmd, sealed: seal(encodeCbor({ code: "1357" }), agent.publicRaw, "panel-0002", "c1") } });
    const c2 = only(openEnvelope(other, openOpts()));
    expect(c2.ok ? "ok" : c2.error.code).toBe("unseal_failed");
  });

  it("refuses sealed content that does not match the command", () => {
    const sealedTags = seal(encodeCbor({ tags: ["a", "b"] }), agent.publicRaw, PANEL, "c1");
    const bytes = signed({ v: 1, t: "cmd", panel: PANEL, cmd: { seq: 1, exp: EXP, id: "c1", actor, kind: "set_proximity_tags", slot: 2, tags: [{ kind: "keypad" }], sealed: sealedTags } });
    const c = only(openEnvelope(bytes, openOpts()));
    expect(c.ok ? "ok" : c.error.toJSON()).toMatchObject({ code: "schema_violation", detail: { path: "cmd.sealed.tags" } });
  });
});

describe("envelope errors", () => {
  const good = () => encodeCommand(PANEL, { seq: 5, expiresAt: EXP, command: setLabel }, keys);

  it("bad_signature when one bit of the body changes", () => {
    const env = (decodeCbor(good()) as { value: { v: number; kid: string; body: Buffer; sig: Buffer } }).value;
    const body = Buffer.from(env.body);
    body[body.length - 2]! ^= 0x01;
    const r = openEnvelope(encodeCbor({ ...env, body }), openOpts());
    expect(errorOf(r)).toBe("bad_signature");
    if (!r.ok) expect(r.id).toBe("c1");
  });

  it("bad_signature for a signature made by another key under a trusted kid", () => {
    const env = (decodeCbor(good()) as { value: { v: number; kid: string; body: Buffer; sig: Buffer } }).value;
    const r = openEnvelope(encodeCbor({ ...env, sig: signBytes(env.body, otherSigner) }), openOpts());
    expect(errorOf(r)).toBe("bad_signature");
  });

  it("untrusted_key for a key not in the list", () => {
    const bytes = encodeCommand(PANEL, { seq: 5, expiresAt: EXP, command: setLabel }, { ...keys, signingKey: loadSigningKey(Buffer.alloc(32, 1)) });
    expect(errorOf(openEnvelope(bytes, openOpts()))).toBe("untrusted_key");
    expect(errorOf(openEnvelope(good(), openOpts({ trustedKeys: new TrustedKeys() })))).toBe("untrusted_key");
  });

  it("wrong_panel for a command addressed to another panel, naming the command", () => {
    const r = openEnvelope(encodeCommand("panel-0002", { seq: 5, expiresAt: EXP, command: setLabel }, keys), openOpts());
    expect(errorOf(r)).toBe("wrong_panel");
    if (!r.ok) expect(r.id).toBe("c1");
    const b = openEnvelope(encodeBatch("panel-0002", "b9", [{ seq: 5, expiresAt: EXP, command: setLabel }], keys), openOpts());
    if (!b.ok) expect(b.batchId).toBe("b9");
  });

  it("command_expired when exp is not after now", () => {
    const c = only(openEnvelope(good(), openOpts({ now: EXP })));
    expect(c.ok ? "ok" : c.error.code).toBe("command_expired");
    expect(c.seq).toBe(5);
    expect(only(openEnvelope(good(), openOpts({ now: EXP - 1 }))).ok).toBe(true);
  });

  it("malformed_payload for garbage and truncation", () => {
    expect(errorOf(openEnvelope(Buffer.from("fffe00", "hex"), openOpts()))).toBe("malformed_payload");
    const g = good();
    expect(errorOf(openEnvelope(g.subarray(0, g.length - 1), openOpts()))).toBe("malformed_payload");
    expect(errorOf(openEnvelope(g.subarray(0, 10), openOpts()))).toBe("malformed_payload");
  });

  it("payload_too_large above maxBytes", () => {
    expect(errorOf(openEnvelope(good(), openOpts({ maxBytes: 100 })))).toBe("payload_too_large");
    expect(errorOf(openEnvelope(Buffer.alloc(300 * 1024), openOpts()))).toBe("payload_too_large");
  });

  it("malformed_payload for __proto__ keys, outside and inside the signed body", () => {
    const outer = Buffer.concat([Buffer.from("a5", "hex"), Buffer.from("695f5f70726f746f5f5f", "hex"), Buffer.from("a0", "hex"), good().subarray(1)]);
    expect(errorOf(openEnvelope(outer, openOpts()))).toBe("malformed_payload");
    const body = Buffer.concat([Buffer.from("a1695f5f70726f746f5f5fa1616101", "hex")]);
    const bytes = encodeCbor({ v: 1, kid: signer.kid, body, sig: signBytes(body, signer) });
    expect(errorOf(openEnvelope(bytes, openOpts()))).toBe("malformed_payload");
  });

  it("malformed_payload for 10,000 levels of nesting and a 4 GB length claim", () => {
    expect(errorOf(openEnvelope(Buffer.concat([Buffer.alloc(10_000, 0x81), Buffer.from([0])]), openOpts()))).toBe("malformed_payload");
    expect(errorOf(openEnvelope(Buffer.from("5affffffff00", "hex"), openOpts()))).toBe("malformed_payload");
    const body = Buffer.concat([Buffer.from("a1616b", "hex"), Buffer.from("5b00000001000000000000", "hex")]);
    const bytes = encodeCbor({ v: 1, kid: signer.kid, body, sig: signBytes(body, signer) });
    expect(errorOf(openEnvelope(bytes, openOpts()))).toBe("malformed_payload");
  });

  it("schema_violation for an unknown major version, outside or inside", () => {
    const env = (decodeCbor(good()) as { value: Record<string, unknown> }).value;
    const r = openEnvelope(encodeCbor({ ...env, v: 2 }), openOpts());
    expect(r.ok ? "ok" : r.error.toJSON()).toMatchObject({ code: "schema_violation", detail: { path: "v", issue: "unsupported_version", v: 2 } });
    const inner = openEnvelope(signed({ v: 2, t: "cmd", panel: PANEL, cmd: {} }), openOpts());
    expect(inner.ok ? "ok" : inner.error.detail).toMatchObject({ path: "body.v" });
  });

  it("schema_violation for unknown envelope fields and a missing addressing field", () => {
    const env = (decodeCbor(good()) as { value: Record<string, unknown> }).value;
    expect(errorOf(openEnvelope(encodeCbor({ ...env, extra: 1 }), openOpts()))).toBe("schema_violation");
    const r = openEnvelope(signed({ v: 1, t: "cmd", panel: PANEL, cmd: { exp: EXP, id: "c1", actor, kind: "disable_user", slot: 2 } }), openOpts());
    expect(r.ok ? "ok" : r.error.detail).toMatchObject({ path: "cmd.seq" });
  });

  it("answers a batch of one command whose batch id is unreadable under that command's id (found by the fuzz suite)", () => {
    const cmd = { seq: 1, exp: EXP, id: "c-only", actor, kind: "disable_user", slot: 2 };
    const one = openEnvelope(signed({ v: 1, t: "batch", panel: PANEL, id: 7, cmds: [cmd] }), openOpts());
    expect(one).toMatchObject({ ok: false, id: "c-only", error: { code: "schema_violation" } });
    // with several commands no single id stands for the envelope
    const two = openEnvelope(signed({ v: 1, t: "batch", panel: PANEL, id: 7, cmds: [cmd, { ...cmd, seq: 2, id: "c-two" }] }), openOpts());
    expect(two.ok ? "ok" : [two.id, two.batchId]).toEqual([undefined, undefined]);
  });

  it("schema_violation for a batch whose seqs do not increase or whose ids repeat", () => {
    const cmd = (seq: number, id: string) => ({ seq, exp: EXP, id, actor, kind: "disable_user", slot: 2 });
    const down = openEnvelope(signed({ v: 1, t: "batch", panel: PANEL, id: "b", cmds: [cmd(2, "a"), cmd(1, "b")] }), openOpts());
    expect(down.ok ? "ok" : down.error.detail).toMatchObject({ issue: "seq_not_increasing" });
    const dup = openEnvelope(signed({ v: 1, t: "batch", panel: PANEL, id: "b", cmds: [cmd(1, "a"), cmd(2, "a")] }), openOpts());
    expect(dup.ok ? "ok" : dup.error.detail).toMatchObject({ issue: "duplicate_id" });
    expect(() => encodeBatch(PANEL, "b", [{ seq: 2, expiresAt: EXP, command: setLabel }, { seq: 1, expiresAt: EXP, command: { ...setLabel, id: "x" } }], keys)).toThrow(RuleError);
  });
});

describe("per-command errors", () => {
  const cmd = (over: Record<string, unknown>) => ({ seq: 1, exp: EXP, id: "c1", actor, kind: "disable_user", slot: 2, ...over });
  const one = (c: Record<string, unknown>) => only(openEnvelope(signed({ v: 1, t: "cmd", panel: PANEL, cmd: c }), openOpts()));

  it("unknown_command for a kind the protocol does not define", () => {
    const c = one(cmd({ kind: "format_panel" }));
    expect(c.ok ? "ok" : c.error.toJSON()).toMatchObject({ code: "unknown_command", detail: { kind: "format_panel" } });
    expect(c.id).toBe("c1");
  });

  it("unknown_command for the agent-internal record_one_time_use sent over the wire", () => {
    const c = one(cmd({ kind: "record_one_time_use", localDay: "2024-01-01" }));
    expect(c.ok ? "ok" : c.error.code).toBe("unknown_command");
  });

  it("schema_violation names the path, never the value", () => {
    const c = one(cmd({ kind: "set_label", label: "x".repeat(300) }));
    expect(c.ok ? "ok" : c.error.toJSON()).toMatchObject({ code: "schema_violation", detail: { path: "cmd.label", issue: "too_big" } });
    const extra = one(cmd({ code: "1234" }));
    expect(extra.ok ? "ok" : extra.error.toJSON()).toMatchObject({ code: "schema_violation", detail: { field: "code" } });
    expect(JSON.stringify(extra)).not.toContain("1234");
  });

  it("schema_violation for a plaintext code where a sealed one is required", () => {
    const c = one(cmd({ kind: "set_code", code: "1234" }));
    expect(c.ok ? "ok" : c.error.code).toBe("schema_violation");
    expect(JSON.stringify(c)).not.toContain("1234");
  });

  it("one bad command does not sink the others of its batch", () => {
    const r = openEnvelope(
      signed({ v: 1, t: "batch", panel: PANEL, id: "b", cmds: [cmd({ seq: 1, id: "a" }), cmd({ seq: 2, id: "b", slot: -1 }), cmd({ seq: 3, id: "c", kind: "nope" }), cmd({ seq: 4, id: "d", exp: NOW })] }),
      openOpts(),
    );
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.commands.map((c) => (c.ok ? "ok" : c.error.code))).toEqual(["ok", "schema_violation", "unknown_command", "command_expired"]);
  });

  it("the cloud encoder refuses invalid commands at the source", () => {
    expect(() => encodeCommand(PANEL, { seq: 1, expiresAt: EXP, command: { ...setLabel, slot: 0 } }, keys)).toThrow(RuleError);
    expect(() => encodeCommand(PANEL, { seq: 0, expiresAt: EXP, command: setLabel }, keys)).toThrow(RuleError);
    expect(() => encodeCommand(PANEL, { seq: 1, expiresAt: EXP, command: { kind: "record_one_time_use", id: "x", actor, slot: 1, localDay: "2024-01-01" } as never }, keys)).toThrow(RuleError);
  });
});

describe("trusted keys", () => {
  it("loads raw, PEM and rejects non-Ed25519 keys", () => {
    const pem = signer.privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    expect(loadSigningKey(pem).kid).toBe(signer.kid);
    const t = new TrustedKeys();
    expect(t.add(signer.publicRaw)).toBe(signer.kid);
    expect(t.add(otherSigner.privateKey.export({ format: "pem", type: "pkcs8" }) && (loadSigningKey(Buffer.alloc(32, 8)).publicRaw))).toBe(otherSigner.kid);
    expect(t.kids().sort()).toEqual([signer.kid, otherSigner.kid].sort());
    expect(() => t.add(agent.publicRaw.subarray(0, 31))).toThrow();
    expect(trusted.size).toBe(1);
  });
});
