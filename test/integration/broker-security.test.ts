import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { panelTopics } from "../../protocol/index.js";
import type { Agent } from "../../src/agent.js";
import { Secret } from "../../src/domain/index.js";
import type { WireCommandInput } from "../../protocol/index.js";
import { agentConfig, CloudPeer, startAgent } from "../helpers/agent-harness.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { makeCertificates } from "../helpers/tls.js";
import { tempDirs } from "../helpers/tmp.js";

const dirs = tempDirs();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  dirs.cleanup();
});

const ACL = fileURLToPath(new URL("../../protocol/acl/mosquitto.acl", import.meta.url));
const cloud = { kind: "cloud" as const, id: "ops" };
let n = 0;
const cmd = (input: Record<string, unknown>): WireCommandInput => ({ id: `sec-${++n}`, actor: cloud, ...input }) as WireCommandInput;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("broker access control (protocol/acl/mosquitto.acl on a real mosquitto)", () => {
  it("lets a panel read only its own commands and publish only as itself", async () => {
    const dir = dirs.make();
    const pw = join(dir, "passwd");
    for (const [user, pass] of [["panel-a", "pa"], ["panel-b", "pb"], ["panel-commander", "pc"], ["panel-consumer", "pk"]]) {
      execFileSync("mosquitto_passwd", [...(user === "panel-a" ? ["-c"] : []), "-b", pw, user!, pass!]);
    }
    const m = await new Mosquitto({ extra: [`password_file ${pw}`, `acl_file ${ACL}`, "use_username_as_clientid true"], listenerLines: (port) => [`listener ${port} 127.0.0.1`, "allow_anonymous false"] }).start();
    cleanups.push(() => m.dispose());
    const connect = (username: string, password: string) => mqtt.connectAsync(m.url, { username, password, clientId: username, reconnectPeriod: 0 });
    const a = await connect("panel-a", "pa");
    const commander = await connect("panel-commander", "pc");
    const consumer = await connect("panel-consumer", "pk");
    cleanups.push(() => a.endAsync(), () => commander.endAsync(), () => consumer.endAsync());

    const seenByA: string[] = [];
    a.on("message", (topic) => seenByA.push(topic));
    await a.subscribeAsync([panelTopics("panel-a").cmd, panelTopics("panel-b").cmd], { qos: 1 });
    const seenByConsumer: string[] = [];
    consumer.on("message", (topic) => seenByConsumer.push(topic));
    await consumer.subscribeAsync(["panels/+/ack"], { qos: 1 });

    await commander.publishAsync(panelTopics("panel-a").cmd, Buffer.from("for a"), { qos: 1 });
    await commander.publishAsync(panelTopics("panel-b").cmd, Buffer.from("for b"), { qos: 1 });
    await a.publishAsync(panelTopics("panel-a").ack, Buffer.from("ack from a"), { qos: 1 });
    await a.publishAsync(panelTopics("panel-b").ack, Buffer.from("posing as b"), { qos: 1 });
    await sleep(400);
    expect(seenByA).toEqual([panelTopics("panel-a").cmd]);
    expect(seenByConsumer).toEqual([panelTopics("panel-a").ack]);
  });
});

describe("TLS with a client certificate", () => {
  it("connects the agent to mosquitto over TLS and applies a command", async () => {
    const certs = makeCertificates(dirs.make(), ["panel-1", "cloud"]);
    const m = await new Mosquitto({
      listenerLines: (port) => [`listener ${port} 127.0.0.1`, `cafile ${certs.ca}`, `certfile ${certs.serverCert}`, `keyfile ${certs.serverKey}`, "require_certificate true", "use_identity_as_username true", "allow_anonymous false"],
    }).start();
    cleanups.push(() => m.dispose());
    const url = `mqtts://127.0.0.1:${m.port}`;
    const peer = await new CloudPeer(url, "panel-1").connect({ ca: readFileSync(certs.ca), cert: readFileSync(certs.clients.cloud!.cert), key: readFileSync(certs.clients.cloud!.key) });
    cleanups.push(() => peer.close());
    const dir = dirs.make();
    const tls = { caFile: certs.ca, certFile: certs.clients["panel-1"]!.cert, keyFile: certs.clients["panel-1"]!.key, rejectUnauthorized: true };
    const agent: Agent = await startAgent(agentConfig(dir, url, peer.signingKey, { broker: { url, tls } }));
    cleanups.push(() => agent.stop());
    expect(agent.link!.connected).toBe(true);
    const c = cmd({ kind: "set_code", slot: 2, code: new Secret("7531") });
    await peer.send({ seq: 1, expiresAt: Date.now() + 60_000, command: c });
    expect(await peer.until(() => peer.outcome(c.id))).toMatchObject({ ok: true });
  });

  it("is refused without a client certificate", async () => {
    const certs = makeCertificates(dirs.make(), []);
    const m = await new Mosquitto({
      listenerLines: (port) => [`listener ${port} 127.0.0.1`, `cafile ${certs.ca}`, `certfile ${certs.serverCert}`, `keyfile ${certs.serverKey}`, "require_certificate true", "use_identity_as_username true", "allow_anonymous false"],
    }).start();
    cleanups.push(() => m.dispose());
    await expect(mqtt.connectAsync(`mqtts://127.0.0.1:${m.port}`, { ca: readFileSync(certs.ca), reconnectPeriod: 0, connectTimeout: 3000 })).rejects.toThrow();
  });
});

describe("fleet scale: shared subscriptions", () => {
  it("delivers every ack and event of several panels to exactly one consumer of a $share group", async () => {
    const m = await new Mosquitto().start();
    cleanups.push(() => m.dispose());
    const panels = ["panel-1", "panel-2", "panel-3"];
    const consumers = await Promise.all([0, 1].map(async (i) => {
      const c = await mqtt.connectAsync(m.url, { clientId: `consumer-${i}`, protocolVersion: 5 });
      const got: string[] = [];
      c.on("message", (topic, payload) => got.push(`${topic}:${createHash("sha256").update(payload).digest("hex")}`));
      await c.subscribeAsync(["$share/cloud/panels/+/ack", "$share/cloud/panels/+/evt"], { qos: 1 });
      cleanups.push(() => c.endAsync());
      return got;
    }));
    const observer = await mqtt.connectAsync(m.url, { clientId: "observer" });
    const all: string[] = [];
    observer.on("message", (topic, payload) => all.push(`${topic}:${createHash("sha256").update(payload).digest("hex")}`));
    await observer.subscribeAsync(["panels/+/ack", "panels/+/evt"], { qos: 1 });
    cleanups.push(() => observer.endAsync());
    const PER_PANEL = 40;
    for (const panelId of panels) {
      const peer = new CloudPeer(m.url, panelId);
      await peer.connect();
      cleanups.push(() => peer.close());
      const agent = await startAgent(agentConfig(dirs.make(), m.url, peer.signingKey, { panelId }));
      cleanups.push(() => agent.stop());
      for (let i = 0; i < PER_PANEL; i++) {
        await peer.send({ seq: i + 1, expiresAt: Date.now() + 60_000, command: cmd({ kind: "set_code", slot: i + 2, code: new Secret(String(2000 + i)) }) });
      }
      await agent.core!.access({ keypadId: "kp", partitions: [1] }, { kind: "pin", value: new Secret("2000") }, "disarm");
      await peer.until(() => peer.acks.length >= PER_PANEL && peer.events.length >= 1);
    }
    const expected = panels.length * (PER_PANEL + 1);
    const start = Date.now();
    while (consumers[0]!.length + consumers[1]!.length < expected && Date.now() - start < 10_000) await sleep(50);
    await sleep(200);
    const received = [...consumers[0]!, ...consumers[1]!];
    expect(received).toHaveLength(expected);
    expect(new Set(received).size).toBe(expected);
    expect(new Set(received)).toEqual(new Set(all));
    expect(consumers[0]!.length).toBeGreaterThan(0);
    expect(consumers[1]!.length).toBeGreaterThan(0);
  });
});
