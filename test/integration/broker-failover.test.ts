/**
 * Broker failover (`broker.failoverUrls` for the agent, `failoverUrls` for the cloud client): with
 * the node they are on gone, both move to the next URL and commands flow again without the node
 * coming back. Two real mosquittos stand in for two nodes of a cluster (the new node holds no
 * session: the agent subscribes again there and republishes its state, the client resends).
 */
import { afterEach, describe, expect, it } from "vitest";
import { generateSigningKey } from "../../protocol/index.js";
import { CloudClient } from "../../src/cloud/index.js";
import { Secret } from "../../src/domain/index.js";
import { cloudAgentConfig, runAgent, waitFor } from "../helpers/cloud-harness.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { tempDirs } from "../helpers/tmp.js";

const dirs = tempDirs();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  dirs.cleanup();
});

describe("broker failover", () => {
  it("the agent and the cloud client move to the next node when theirs goes down; the next commands are applied there", async () => {
    const a = await new Mosquitto().start();
    const b = await new Mosquitto().start();
    cleanups.push(() => a.dispose(), () => b.dispose());
    const cloudKey = generateSigningKey();
    const agent = await runAgent(cloudAgentConfig(dirs.make(), a.url, "fo1", cloudKey, { broker: { url: a.url, failoverUrls: [b.url], protocolVersion: 4 } }));
    cleanups.push(() => agent.stop());
    const client = new CloudClient({ url: a.url, failoverUrls: [b.url], signingKey: cloudKey, ackTimeoutMs: 1500 });
    await client.connect();
    cleanups.push(() => client.close());
    expect((await client.send("fo1", { kind: "set_code", slot: 1, code: new Secret("4711") })).status).toBe("applied");

    await a.stop();
    await waitFor(() => agent.link?.connected === true && client.connected, 30_000, "agent and client connected again (to the other node)");
    await waitFor(async () => (await client.send("fo1", { kind: "set_label", slot: 1, label: "On B" })).status === "applied", 30_000, "a command applied through the other node");
    expect(agent.core!.table.slot(1).label).toBe("On B");
    expect(agent.core!.table.slot(1).codeDigest).not.toBeNull();
  }, 60_000);

  it("refuses a WebSocket failover URL in the agent's config, naming the field", async () => {
    const { parseConfig } = await import("../../src/config.js");
    const base = cloudAgentConfig(dirs.make(), "mqtt://127.0.0.1:1883", "fo2", generateSigningKey());
    expect(() => parseConfig({ ...base, broker: { url: "mqtt://127.0.0.1:1883", failoverUrls: ["ws://127.0.0.1:9001/mqtt"] } })).toThrow(/broker\.failoverUrls\.0/);
  });
});
