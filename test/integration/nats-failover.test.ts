/**
 * Broker failover on a three-node NATS cluster (Debian's nats-server 2.9, JetStream on, the MQTT
 * listener on every node): a panel given the other nodes as `broker.failoverUrls` moves to one of
 * them when its node is SIGKILLed, and applies there what the cloud sends while its node is down;
 * the code set before the kill still works at its keypad.
 *
 * A cluster of its own (not nats-cluster.test.ts's): there, this case followed a node's kill and
 * restart, and the second kill's leaders stayed on the dead node while the cluster was still
 * catching the restarted node up (60 s, once in CI). A fresh cluster has nothing to catch up.
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from "vitest";
import { generateSigningKey } from "../../protocol/index.js";
import { Agent } from "../../src/agent.js";
import { CloudClient, MemorySeqStore } from "../../src/cloud/index.js";
import { Secret } from "../../src/domain/index.js";
import { cloudAgentConfig } from "../helpers/cloud-harness.js";
import { NATS_BIN, NatsCluster } from "../helpers/nats.js";
import { tempDirs } from "../helpers/tmp.js";
import { waitFor } from "../helpers/wait.js";
import { keypadEntry } from "../reliability/harness.js";

const dirs = tempDirs();
let cluster: NatsCluster;
const key = generateSigningKey();
let client: CloudClient;
let agent: Agent;
let config: ReturnType<typeof cloudAgentConfig>;
const agentLog: string[] = [];

beforeEach(() => {
  onTestFailed(() => {
    const file = join(tmpdir(), `nats-failover-failure-${Date.now()}.log`);
    const nodes = Array.from({ length: cluster.size }, (_, i) => `=== node ${i}\n${cluster.log(i)}`);
    writeFileSync(file, [...nodes, "=== agent", ...agentLog].join("\n"));
    console.error(`nats-failover: logs in ${file}`);
  });
});

beforeAll(async () => {
  if (!NATS_BIN) throw new Error("nats-server missing: apt-get install nats-server (.ci/run installs it)");
  cluster = await new NatsCluster(3).start();
  // The panel on node 1 with nodes 3 and 2 as failover URLs; the cloud on node 3.
  config = cloudAgentConfig(dirs.make(), cluster.mqttUrl(0), "west", key, {
    broker: { url: cluster.mqttUrl(0), failoverUrls: [cluster.mqttUrl(2), cluster.mqttUrl(1)], protocolVersion: 4 },
  });
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (agentLog.push(chunk.toString().trim()), done()) });
  agent = new Agent(config, { logger: pino({ level: "info" }, sink) });
  await agent.start();
  client = new CloudClient({ url: cluster.mqttUrl(2), signingKey: key, ackTimeoutMs: 8000, seqStore: new MemorySeqStore() });
  await client.connect();
}, 60_000);

afterAll(async () => {
  await client?.close();
  await agent?.stop();
  await cluster?.dispose();
  dirs.cleanup();
});

describe("broker failover on a three-node NATS cluster", () => {
  it("moves a panel with failover URLs to a surviving node when its own is killed: it applies there while its node is down", async () => {
    expect((await client.send("west", { kind: "set_code", slot: 4, code: new Secret("5937") })).status).toBe("applied");
    await cluster.stop(0, "SIGKILL");
    // node 1 is dead: connected again means connected to another node
    await waitFor(() => agent.link?.connected === false, 30_000, "west to see its node gone");
    await cluster.leadersOff(0, 90_000);
    await waitFor(() => agent.link?.connected === true, 60_000, "west connected to another node");
    for (let i = 1; i <= 2; i++) {
      const outcome = client.send("west", { kind: "set_label", slot: 4, label: `Moved ${i}` });
      await waitFor(() => agent.core!.table.slot(4).label === `Moved ${i}`, 60_000, `west to apply change ${i} on another node\n${cluster.log(2).slice(-1500)}`, 100);
      expect((await outcome).status).toBe("applied");
    }
    expect(await keypadEntry(config.keypadSocket, "kp-1", "5937", "arm_away")).toMatch(/Access granted/);
  }, 240_000);
});
