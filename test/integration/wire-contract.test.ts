/**
 * protocol/README.md on a real mosquitto, where a cloud team would otherwise guess: a redelivery
 * whose command has expired since still gets its stored result (sequencing decides first); the
 * agent's default client id is its panel id, so the ACL's %c holds without the broker forcing it;
 * the state says `agent: "panel-agent/<version>"`.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import mqtt from "mqtt";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { decodeState, encodeCommand, panelTopics, type State } from "../../protocol/index.js";
import { Agent } from "../../src/agent.js";
import { Secret } from "../../src/domain/index.js";
import { AGENT_VERSION } from "../../src/version.js";
import { CloudClient, type AppliedOutcome } from "../../src/cloud/index.js";
import { agentConfig, CloudPeer } from "../helpers/agent-harness.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { tempDirs } from "../helpers/tmp.js";

const dirs = tempDirs();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  dirs.cleanup();
});

const ACL = fileURLToPath(new URL("../../protocol/acl/mosquitto.acl", import.meta.url));
const actor = { kind: "cloud" as const, id: "ops" };

describe("the wire contract as documented", () => {
  it("a redelivery after its command expired gets the stored result (dup), never command_expired; a new command that late is expired", async () => {
    const m = await new Mosquitto().start();
    cleanups.push(() => m.dispose());
    const peer = await new CloudPeer(m.url, "panel-1").connect();
    cleanups.push(() => peer.close());
    let clock = Date.now();
    const agent = new Agent(agentConfig(dirs.make(), m.url, peer.signingKey), { logger: pino({ level: "silent" }), now: () => clock });
    await agent.start();
    cleanups.push(() => agent.stop());
    const sealKey = await peer.sealKey();
    const expiresAt = clock + 60_000;
    const bytes = encodeCommand("panel-1", { seq: 1, expiresAt, command: { kind: "set_code", id: "late-1", actor, slot: 2, code: new Secret("4711") } }, { signingKey: peer.signingKey, agentPublicKey: sealKey });
    await peer.publishRaw(bytes);
    expect(await peer.until(() => peer.outcome("late-1"))).toMatchObject({ ok: true, seq: 1 });

    clock = expiresAt + 1;
    await peer.publishRaw(bytes);
    await peer.until(() => peer.acks.length >= 2);
    expect(peer.acks[1]).toMatchObject({ t: "ack", ack: { ok: true, id: "late-1", seq: 1, dup: true } });

    const fresh = encodeCommand("panel-1", { seq: 2, expiresAt, command: { kind: "set_label", id: "late-2", actor, slot: 2, label: "x" } }, { signingKey: peer.signingKey, agentPublicKey: sealKey });
    await peer.publishRaw(fresh);
    expect(await peer.until(() => peer.outcome("late-2"))).toMatchObject({ ok: false, seq: 2, error: { code: "command_expired" } });
  });

  it("with the ACL and no use_username_as_clientid the agent's default client id (its panel id) passes %c; its state names panel-agent/<version>", async () => {
    const dir = dirs.make();
    const pw = join(dir, "passwd");
    execFileSync("mosquitto_passwd", ["-c", "-b", pw, "panel-7", "p7"]);
    execFileSync("mosquitto_passwd", ["-b", pw, "panel-consumer", "pk"]);
    const m = await new Mosquitto({ extra: [`password_file ${pw}`, `acl_file ${ACL}`], listenerLines: (port) => [`listener ${port} 127.0.0.1`, "allow_anonymous false"] }).start();
    cleanups.push(() => m.dispose());
    const consumer = await mqtt.connectAsync(m.url, { username: "panel-consumer", password: "pk", clientId: "consumer", reconnectPeriod: 0 });
    cleanups.push(() => consumer.endAsync());
    const got = new Promise<State>((resolve) => consumer.on("message", (_t, payload) => {
      const d = decodeState(payload);
      if (d.ok) resolve(d.value);
    }));
    await consumer.subscribeAsync(panelTopics("panel-7").state, { qos: 1 });
    const config = agentConfig(dir, m.url, new CloudPeer(m.url, "panel-7").signingKey, { panelId: "panel-7", broker: { url: m.url, username: "panel-7", password: "p7" } });
    const agent = new Agent(config, { logger: pino({ level: "silent" }) });
    await agent.start();
    cleanups.push(() => agent.stop());
    const state = await Promise.race([got, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))]);
    expect(state).toMatchObject({ panel: "panel-7", agent: `panel-agent/${AGENT_VERSION}` });
  });

  it("result shapes (section 4.2): list_users rows with their '-' placeholders, action-log rows, a snapshot's three lists only, a dealer grant's empty slots", async () => {
    const m = await new Mosquitto().start();
    cleanups.push(() => m.dispose());
    const peer = new CloudPeer(m.url, "panel-1");
    const agent = new Agent(agentConfig(dirs.make(), m.url, peer.signingKey), { logger: pino({ level: "silent" }) });
    await agent.start();
    cleanups.push(() => agent.stop());
    const client = new CloudClient({ url: m.url, signingKey: peer.signingKey });
    await client.connect();
    cleanups.push(() => client.close());
    const applied = async (input: Parameters<CloudClient["send"]>[1]) => {
      const o = await client.send("panel-1", input);
      expect(o.status).toBe("applied");
      return (o as AppliedOutcome).result!;
    };
    await applied({ kind: "set_code", slot: 1, code: new Secret("8264") });
    await applied({ kind: "assign_account", slot: 1, account: { id: "a1", email: "owner@example.com", createdAt: 1_700_000_000_000, status: "Active" } });
    const users = (await applied({ kind: "list_users", page: 1, perPage: 10 })).page!;
    expect({ ...users, rows: users.rows.length }).toEqual({ rows: 10, page: 1, perPage: 10, total: 1000, pages: 100, range: "1-10 of 1000" });
    expect(users.rows[0]).toEqual({ number: 1, label: "User 1", role: "Master", codeSet: true, partitions: [1, 2, 3, 4, 5, 6, 7, 8], account: "owner@example.com", created: 1_700_000_000_000, status: "Active" });
    expect(users.rows[1]).toEqual({ number: 2, label: "User 2", role: "-", codeSet: false, partitions: [], account: "-", created: "-", status: "Unknown" });
    expect((await applied({ kind: "list_users", page: 9999, perPage: 10, onlyActive: true })).page).toMatchObject({ page: 1, pages: 1, total: 1, range: "1-1 of 1" });

    const log = (await applied({ kind: "read_action_log", perPage: 10 })).page!;
    expect(Object.keys(log.rows[0]!).sort()).toEqual(["action", "actor", "after", "at", "before", "commandId", "id", "result", "slot"]);
    expect(log.rows[0]).toMatchObject({ action: "assign_account", slot: 1, result: "ok" });
    expect(log.rows.every((r) => !JSON.stringify(r).includes("8264"))).toBe(true);

    expect(Object.keys(await applied({ kind: "snapshot", users: [{ slot: 1, code: "keep" }, { slot: 3, code: new Secret("5938") }] })).sort()).toEqual(["added", "changed", "removed"]);
    expect(await applied({ kind: "grant_dealer_access", actor: { kind: "master", id: "m", slot: 1 } })).toEqual({ slots: [] });
  });
});
