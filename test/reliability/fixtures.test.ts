/**
 * Regression fixtures: inputs that once broke the command path (found by the fuzz suite, kept
 * under fixtures/). Each must be answered with exactly one ack row and must never throw out of
 * CommandEngine.process — a throw there is taken by SyncLink for a store failure: no PUBACK, the
 * connection dropped, the same message redelivered after reconnecting, forever.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decodeCbor, generateSigningKey, signBytes, type WireCommandInput } from "../../protocol/index.js";
import { Secret } from "../../src/domain/index.js";
import { CloudPeer } from "../helpers/agent-harness.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { cbor, CMap, engineRig, FIXTURES } from "./fuzz.js";
import { AgentProcess, killStrays, PANEL_ID, removeTempDir, tempDir, waitFor, writeAgentConfig } from "./harness.js";
import { cloudActor } from "./verify.js";

afterAll(killStrays);

const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith(".bin")).sort();

describe("fuzz regression fixtures", () => {
  it.each(fixtures)("CommandEngine.process answers %s with a coded ack and does not throw", (name) => {
    const r = engineRig();
    try {
      const before = r.core.outboxCount();
      expect(() => r.engine.process(readFileSync(join(FIXTURES, name)))).not.toThrow();
      expect(r.core.outboxCount()).toBe(before + 1);
    } finally {
      r.close();
    }
  });

  it("keeps applying commands after an unsigned envelope whose v is NaN (poison message: regression of nan-version-envelope.bin)", async () => {
    const mosq = await new Mosquitto().start();
    const dir = tempDir("rel-fix-");
    const key = generateSigningKey();
    const agent = new AgentProcess(writeAgentConfig(dir, mosq.url, key.publicRaw.toString("hex")));
    const peer = new CloudPeer(mosq.url, PANEL_ID, key);
    try {
      await agent.start();
      await peer.connect();
      await peer.publishRaw(readFileSync(join(FIXTURES, "nan-version-envelope.bin")));
      const good = { id: "after-nan", actor: cloudActor, kind: "set_code", slot: 2, code: new Secret("4821") } as WireCommandInput;
      await peer.send({ seq: 1, expiresAt: Date.now() + 60_000, command: good });
      const out = await waitFor(() => peer.outcome("after-nan"), 8000);
      expect(out).toMatchObject({ ok: true });
    } finally {
      await agent.close();
      await mosq.dispose();
      await Promise.race([peer.client?.endAsync(true), new Promise((r) => setTimeout(r, 1000))]).catch(() => {});
      removeTempDir(dir);
    }
  }, 30_000);

  it("acks a signed body that fails its schema with the command id it could read (README §4)", () => {
    const r = engineRig();
    try {
      const body = cbor(new CMap([["v", 1], ["t", "cmd"], ["panel", 7], ["cmd", new CMap([["seq", 1], ["exp", Date.now() + 60_000], ["id", "readable-1"], ["kind", "set_label"], ["actor", new CMap([["kind", "cloud"], ["id", "ops"]])], ["slot", 2], ["label", "X"]])]]));
      const env = cbor(new CMap([["v", 1], ["kid", r.key.kid], ["body", body], ["sig", signBytes(body, r.key)]]));
      r.engine.process(env);
      const row = r.core.outboxPeek(10).at(-1)!;
      const ack = (decodeRow(row.body) as { ack: { id?: string; error: { code: string } } }).ack;
      expect(ack.error.code).toBe("schema_violation");
      expect(ack.id).toBe("readable-1");
    } finally {
      r.close();
    }
  });
});

function decodeRow(b: Uint8Array): unknown {
  const d = decodeCbor(b);
  if (!d.ok) throw new Error("undecodable ack row");
  return d.value;
}
