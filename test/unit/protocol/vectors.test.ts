import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { decodeAck, decodeCbor, decodeEvent, decodeState, encodeCbor, openEnvelope, panelIdentity, TrustedKeys, verifyAgentPayload } from "../../../protocol/index.js";
import { buildVectors, digestVector, vectorAgentKey, vectorJson, vectorSigningKey, VECTOR_NOW, VECTOR_PANEL_ID } from "../../../protocol/vectors/vectors.js";

const dir = join(dirname(fileURLToPath(import.meta.url)), "../../../protocol/vectors");
const vectors = buildVectors();
const fileHex = (name: string) => readFileSync(join(dir, `${name}.hex`), "utf8").trim();

describe("golden vectors", () => {
  it.each(vectors.map((v) => [v.name, v] as const))("%s: the file matches a deterministic regeneration", (name, v) => {
    expect(fileHex(name)).toBe(v.bytes.toString("hex"));
    expect(JSON.parse(readFileSync(join(dir, `${name}.json`), "utf8"))).toEqual(JSON.parse(JSON.stringify(vectorJson(v))));
  });

  it.each(vectors.map((v) => [v.name] as const))("%s: decodes and re-encodes byte for byte", (name) => {
    const bytes = Buffer.from(fileHex(name), "hex");
    const d = decodeCbor(bytes);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(encodeCbor(d.value).equals(bytes)).toBe(true);
    const value = d.value as { body?: Uint8Array };
    if (value.body) {
      const body = decodeCbor(value.body);
      expect(body.ok && encodeCbor(body.value).equals(Buffer.from(value.body))).toBe(true);
    }
  });

  it("the command vectors open with the published test keys", () => {
    const opts = { panelId: VECTOR_PANEL_ID, trustedKeys: new TrustedKeys([vectorSigningKey.publicRaw]), agentPrivateKey: vectorAgentKey, now: VECTOR_NOW };
    for (const name of ["command-set-label", "command-set-code", "batch-3"]) {
      const r = openEnvelope(Buffer.from(fileHex(name), "hex"), opts);
      expect(r.ok && r.commands.every((c) => c.ok)).toBe(true);
    }
    const code = openEnvelope(Buffer.from(fileHex("command-set-code"), "hex"), opts);
    const c = code.ok ? code.commands[0] : undefined;
    expect(c?.ok && c.command.kind === "set_code" && c.command.code.reveal()).toBe("4711");
  });

  it("the agent message vectors decode with their schemas", () => {
    expect(decodeAck(Buffer.from(fileHex("ack"), "hex")).ok).toBe(true);
    expect(decodeAck(Buffer.from(fileHex("batch-ack"), "hex")).ok).toBe(true);
    expect(decodeEvent(Buffer.from(fileHex("event-resync"), "hex")).ok).toBe(true);
    expect(decodeState(Buffer.from(fileHex("state"), "hex")).ok).toBe(true);
  });

  it.each(["ack", "batch-ack", "event-resync", "state"])("%s-signed: verifies with the test identity's public key, and its body is the bare message", (name) => {
    const json = JSON.parse(readFileSync(join(dir, `${name}-signed.json`), "utf8")) as { keys: { identityPublic: string; kid: string } };
    const identity = panelIdentity(json.keys.identityPublic);
    expect(identity.kid).toBe(json.keys.kid);
    const v = verifyAgentPayload(Buffer.from(fileHex(`${name}-signed`), "hex"), identity);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    if (name !== "state") expect(Buffer.from(v.body).toString("hex")).toBe(fileHex(name));
    const flipped = Buffer.from(fileHex(`${name}-signed`), "hex");
    flipped[flipped.length - 1]! ^= 1;
    expect(verifyAgentPayload(flipped, identity)).toMatchObject({ ok: false });
  });

  it("state-signed names the identity that signed it, and its digest is the digest vector's", () => {
    const d = decodeState(Buffer.from(fileHex("state-signed"), "hex"));
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    const json = JSON.parse(readFileSync(join(dir, "state-signed.json"), "utf8")) as { keys: { identityPublic: string } };
    expect(Buffer.from(d.value.identityKey!).toString("hex")).toBe(json.keys.identityPublic);
    const digest = JSON.parse(readFileSync(join(dir, "digest.json"), "utf8")) as { digest: string };
    expect(d.value.digest).toBe(digest.digest);
  });

  it("digest.json matches a regeneration; its canonical text is the views with sorted keys and no whitespace, and the digest its SHA-256", () => {
    const file = JSON.parse(readFileSync(join(dir, "digest.json"), "utf8")) as { views: { number: number }[]; canonical: string; digest: string };
    expect(file).toEqual(JSON.parse(JSON.stringify(digestVector())));
    const sorted = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(sorted) : v !== null && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])])) : v;
    expect(file.canonical).toBe(JSON.stringify(sorted([...file.views].sort((a, b) => a.number - b.number))));
    expect(createHash("sha256").update(file.canonical, "utf8").digest("hex")).toBe(file.digest);
  });
});
