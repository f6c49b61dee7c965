/**
 * The cloud client's `eventShareGroup` option on a real mosquitto 2 (MQTT 3.1.1 and 5): clients in
 * one group split the events between them (`$share/<group>/...`: each event reaches exactly one of
 * them), while acks and states stay unshared (each client still hears every panel's state); a
 * client without the option still hears every event. Two real agents produce the events (wrong
 * codes at their keypads: access records, then lockouts).
 */
import { afterEach, describe, expect, it } from "vitest";
import mqtt from "mqtt";
import { fleetFilter, generateSigningKey, sharedFilter } from "../../protocol/index.js";
import type { Agent } from "../../src/agent.js";
import { CloudClient, type CloudClientOptions } from "../../src/cloud/index.js";
import { Secret } from "../../src/domain/index.js";
import { cloudAgentConfig, runAgent, startBroker, waitFor } from "../helpers/cloud-harness.js";
import { tempDirs } from "../helpers/tmp.js";

const dirs = tempDirs();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  dirs.cleanup();
});

const PANELS = ["sh1", "sh2"];
const PER_PANEL = 15;

/** Every event a client heard, as `panel:n`, in the order heard. */
function listen(client: CloudClient): string[] {
  const heard: string[] = [];
  client.on("event", (panelId, e) => heard.push(`${panelId}:${e.n}`));
  return heard;
}

async function rig(protocolVersion: 4 | 5) {
  const broker = await startBroker("mosquitto");
  cleanups.push(() => broker.close());
  const cloudKey = generateSigningKey();
  const agents: Agent[] = [];
  for (const panelId of PANELS) {
    const agent = await runAgent(cloudAgentConfig(dirs.make(), broker.url, panelId, cloudKey));
    cleanups.push(() => agent.stop());
    agents.push(agent);
  }
  const client = async (extra: Partial<CloudClientOptions>) => {
    const c = new CloudClient({ url: broker.url, signingKey: cloudKey, protocolVersion, ...extra });
    await c.connect();
    cleanups.push(() => c.close());
    return c;
  };
  /** Wrong codes at each panel's keypads: every attempt is an access event, some lock out (more events). */
  const produce = async () => {
    for (const agent of agents) {
      for (let i = 0; i < PER_PANEL; i++) await agent.core!.access({ keypadId: `kp${i % 3}`, partitions: [1] }, { kind: "pin", value: new Secret("9999") }, "disarm");
    }
  };
  return { client, produce, url: broker.url, cloudKey };
}

/** Waits until `all` holds every event of every panel up to its highest number (numbers are gapless from 1). */
async function complete(all: string[]): Promise<Set<string>> {
  return waitFor(() => {
    const set = new Set(all);
    for (const panelId of PANELS) {
      const ns = [...set].filter((k) => k.startsWith(`${panelId}:`)).map((k) => Number(k.split(":")[1]));
      const top = Math.max(0, ...ns);
      if (top < PER_PANEL || ns.length !== top) return false;
    }
    return set;
  }, 30_000, "every event at the unshared client");
}

describe("cloud client: events through an MQTT shared subscription (eventShareGroup)", () => {
  for (const protocolVersion of [4, 5] as const) {
    it(`fleet subscription, MQTT ${protocolVersion === 4 ? "3.1.1" : "5"}: each event reaches exactly one client of the group; an unshared client gets them all; states reach every client`, async () => {
      const r = await rig(protocolVersion);
      const a = await r.client({ fleet: true, eventShareGroup: "workers" });
      const b = await r.client({ fleet: true, eventShareGroup: "workers" });
      const everyone = await r.client({ fleet: true });
      const heardA = listen(a);
      const heardB = listen(b);
      const heardAll = listen(everyone);
      // The retained states are not shared: every client has each panel's (and pins its identity from it).
      for (const c of [a, b, everyone]) for (const panelId of PANELS) expect(await c.panelState(panelId, 15_000)).toBeDefined();

      await r.produce();
      const all = await complete(heardAll);
      expect(all.size).toBeGreaterThanOrEqual(PANELS.length * PER_PANEL);
      await waitFor(() => heardA.length + heardB.length >= all.size, 30_000, "the group to hear every event");
      // Give a duplicate (the broker delivering one event to both members) time to show.
      await new Promise((res) => setTimeout(res, 500));
      const setA = new Set(heardA);
      const setB = new Set(heardB);
      expect(heardA.length).toBe(setA.size);
      expect(heardB.length).toBe(setB.size);
      expect([...setA].filter((k) => setB.has(k))).toEqual([]);
      expect(new Set([...setA, ...setB])).toEqual(all);
      // The group really splits them (mosquitto hands a group's messages round robin).
      expect(setA.size).toBeGreaterThan(0);
      expect(setB.size).toBeGreaterThan(0);
    }, 90_000);
  }

  it("per-panel subscription (watch): the group splits one panel's events too", async () => {
    const r = await rig(4);
    const a = await r.client({ eventShareGroup: "workers" });
    const b = await r.client({ eventShareGroup: "workers" });
    const everyone = await r.client({});
    const heardA = listen(a);
    const heardB = listen(b);
    const heardAll = listen(everyone);
    for (const c of [a, b, everyone]) for (const panelId of PANELS) await c.watch(panelId);
    for (const c of [a, b, everyone]) for (const panelId of PANELS) expect(await c.panelState(panelId, 15_000)).toBeDefined();

    await r.produce();
    const all = await complete(heardAll);
    await waitFor(() => heardA.length + heardB.length >= all.size, 30_000, "the group to hear every event");
    await new Promise((res) => setTimeout(res, 500));
    const setA = new Set(heardA);
    const setB = new Set(heardB);
    expect(heardA.length + heardB.length).toBe(all.size);
    expect([...setA].filter((k) => setB.has(k))).toEqual([]);
    expect(new Set([...setA, ...setB])).toEqual(all);
    expect(setA.size).toBeGreaterThan(0);
    expect(setB.size).toBeGreaterThan(0);
  }, 90_000);

  it("with a persistent session, the shared events have a connection of their own under the client id: a session left by an earlier version (events and every unshared filter in one) gives its queued events to it and loses its unshared filters", async () => {
    const r = await rig(4);
    // What a worker of the earlier version left at the broker: one persistent session holding the shared events and the acks/states/statuses.
    const old = await mqtt.connectAsync(r.url, { clientId: "worker-1", clean: false });
    await old.subscribeAsync([sharedFilter("workers", "evt"), fleetFilter("ack"), fleetFilter("state"), fleetFilter("status")], { qos: 1 });
    await old.endAsync();
    await r.produce();
    const split = new CloudClient({ url: r.url, signingKey: r.cloudKey, fleet: true, eventShareGroup: "workers", persistentSession: true, clientId: "worker-1" });
    const heard = listen(split);
    await split.connect();
    cleanups.push(() => split.close());
    // the events queued for the old session while nobody was connected reach the split client
    await complete(heard);
    expect(heard.length).toBe(new Set(heard).size);
    // the event connection's session no longer holds the unshared filters: away, it queues events only
    await split.close();
    const probe = await mqtt.connectAsync(r.url, { clientId: "probe", clean: true });
    await probe.publishAsync("panels/sh1/state", Buffer.from("not retained, for the session"), { qos: 1 });
    await probe.endAsync();
    // listening before the connect: what the session queued arrives right after CONNACK
    const back = mqtt.connect(r.url, { clientId: "worker-1", clean: false, reconnectPeriod: 0 });
    const got: string[] = [];
    back.on("message", (topic) => got.push(topic));
    await new Promise((res) => back.once("connect", res));
    await new Promise((res) => setTimeout(res, 1000));
    await back.endAsync();
    expect(got.filter((t) => t === "panels/sh1/state")).toEqual([]);
    // a split client needs a fixed id: two without one would share a session
    expect(() => new CloudClient({ url: r.url, signingKey: r.cloudKey, eventShareGroup: "workers", persistentSession: true })).toThrow(/fixed clientId/);
  }, 90_000);

  it("refuses a group name MQTT cannot carry, when the client is made", () => {
    const signingKey = generateSigningKey();
    for (const bad of ["", "a/b", "a+", "#", "x".repeat(65)]) expect(() => new CloudClient({ url: "mqtt://127.0.0.1:1", signingKey, eventShareGroup: bad })).toThrow(/share group/);
    expect(() => new CloudClient({ url: "mqtt://127.0.0.1:1", signingKey, eventShareGroup: "panel-fleet.events_1" })).not.toThrow();
  });
});
