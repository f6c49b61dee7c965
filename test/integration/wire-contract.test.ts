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
});
