/**
 * A subscription the broker refuses (SUBACK 0x80) is retried until granted. nats-server refuses
 * one while its JetStream cluster elects leaders after a node went down ("Unable to add JetStream
 * consumer"), and mqtt.js drops a refused filter from its own resubscribe list: a client that left
 * it there never heard that panel's acks again. Here a real aedes broker refuses the cloud
 * client's ack subscription until it is told to allow it (mosquitto 2.0 grants a filter its ACL
 * denies and only withholds the messages, so it cannot show a refusal): the commands go
 * unanswered meanwhile; once allowed, the client's retry subscribes, with no reconnect, and the
 * pending command and a new one are applied.
 */
import { Aedes } from "aedes";
import { createServer, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { generateSigningKey } from "../../protocol/index.js";
import { CloudClient } from "../../src/cloud/index.js";
import { Secret } from "../../src/domain/index.js";
import { cloudAgentConfig, runAgent, waitFor } from "../helpers/cloud-harness.js";
import { tempDirs } from "../helpers/tmp.js";

const dirs = tempDirs();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  dirs.cleanup();
});

/** aedes on loopback; `allowAcks` decides whether the client "ops" may subscribe to acks. */
async function refusingBroker(gate: { allowAcks: boolean }): Promise<{ url: string; subscribeAttempts: () => number }> {
  let attempts = 0;
  const aedes = await Aedes.createBroker({
    authorizeSubscribe(client, sub, done) {
      if (client?.id !== "ops" || !sub.topic.endsWith("/ack")) return done(null, sub);
      attempts++;
      done(null, gate.allowAcks ? sub : null); // null: refused, SUBACK 0x80
    },
  });
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    aedes.handle(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    await new Promise<void>((r) => aedes.close(() => r()));
  });
  const address = server.address();
  return { url: `mqtt://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`, subscribeAttempts: () => attempts };
}

describe("cloud client: a subscription the broker refused", () => {
  it("is retried while connected and granted once the broker allows it; the panel's acks then arrive", async () => {
    const gate = { allowAcks: false };
    const broker = await refusingBroker(gate);
    const cloudKey = generateSigningKey();
    const agent = await runAgent(cloudAgentConfig(dirs.make(), broker.url, "rt1", cloudKey));
    cleanups.push(() => agent.stop());

    const refused: string[] = [];
    const client = new CloudClient({ url: broker.url, clientId: "ops", signingKey: cloudKey, protocolVersion: 4, ackTimeoutMs: 1500, logger: { info() {}, warn: (o: object) => refused.push((o as { filter: string }).filter) } });
    await client.connect();
    cleanups.push(() => client.close());
    await client.watch("rt1");
    expect(await client.panelState("rt1", 10_000)).toBeDefined();
    expect(refused).toContain("panels/rt1/ack");

    // No ack subscription: the command reaches the panel, its answer reaches no one.
    const unanswered = await client.send("rt1", { kind: "set_code", slot: 1, code: new Secret("4711") });
    expect(unanswered.status).toBe("pending");
    await waitFor(() => broker.subscribeAttempts() >= 2, 10_000, "a second subscribe attempt while refused");

    gate.allowAcks = true;
    await waitFor(async () => (await client.send("rt1", { kind: "set_label", slot: 1, label: "After" })).status === "applied", 30_000, "a command applied once acks are allowed");
    if (unanswered.status === "pending") expect((await unanswered.later).status).toBe("applied");
    expect(agent.core!.table.slot(1)).toMatchObject({ label: "After" });
    expect(agent.core!.table.slot(1).codeDigest).not.toBeNull();
  }, 60_000);
});
