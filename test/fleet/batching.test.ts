/**
 * Commands queued for a panel go out in batches: what waited in the journal goes as ONE batch
 * envelope (counted on the panel's command topic by a plain MQTT subscriber), and commands written
 * one by one while the dispatcher runs go in far fewer envelopes than commands (what queues while
 * one is in flight goes in the next once its ack comes). Every command applied at its journal seq.
 */
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { panelTopics } from "../../protocol/index.js";
import { Secret } from "../../src/domain/index.js";
import { CodeVault } from "../../src/fleet/code-vault.js";
import type { Db } from "../../src/fleet/db.js";
import { enrolPanel } from "../../src/fleet/enrol.js";
import { AgentFleet, captureLog, fleetWorker, until } from "./fixture.js";
import { DATABASES } from "./databases.js";

const PANEL = "batch-1";
const pglite = DATABASES.find((d) => d.name === "PGlite")!;

describe("batches of queued commands", () => {
  const fleet = new AgentFleet();
  const log = captureLog();
  let db: Db;
  let closeDb: () => Promise<void>;
  let w: Awaited<ReturnType<typeof fleetWorker>>;
  let spy: mqtt.MqttClient;
  let envelopes = 0;

  beforeAll(async () => {
    await fleet.start([PANEL]);
    ({ db, close: closeDb } = await pglite.open());
    w = await fleetWorker(db, fleet.broker.url, fleet.signingKey, new CodeVault(Buffer.alloc(32, 4)), log.logger, "wb");
    await enrolPanel(w.store, w.client, { id: PANEL });
    spy = await mqtt.connectAsync(fleet.broker.url);
    await spy.subscribeAsync(panelTopics(PANEL).cmd, { qos: 1 });
    spy.on("message", () => envelopes++);
  }, 60_000);

  afterAll(async () => {
    await spy?.endAsync();
    await w?.stop();
    await closeDb?.();
    await fleet.stop();
  });

  const settled = () =>
    until(async () => {
      const j = await w.store.commandsOfPanel(PANEL);
      return j.every((c) => c.status !== "pending") && j;
    }, 30_000);

  it("sends what queued as one envelope, and what is written while the dispatcher runs in few", async () => {
    const person = await w.store.createPerson({ firstName: "Bat", lastName: "Ch" });
    await w.store.setCode(person.id, new Secret("6181"));
    await w.store.setAccess(person.id, PANEL, { enabled: true });
    for (let i = 0; i < 60; i++) await w.store.setAccess(person.id, PANEL, { enabled: true, label: `Batch ${i}` });
    const queued = (await w.store.commandsOfPanel(PANEL)).length;
    expect(queued).toBeGreaterThanOrEqual(60);
    w.dispatcher.start();
    const first = await settled();
    expect(first.every((c) => c.status === "applied" && c.wireSeq === c.seq)).toBe(true);
    expect(envelopes).toBe(1);

    // written while envelopes are in flight: 100 more, one transaction each, the dispatcher kicked after each
    envelopes = 0;
    for (let i = 0; i < 100; i++) {
      await w.store.setAccess(person.id, PANEL, { enabled: true, label: `Again ${i}` });
      w.dispatcher.kick();
    }
    const all = await settled();
    expect(all).toHaveLength(queued + 100);
    expect(all.every((c) => c.status === "applied" && c.wireSeq === c.seq)).toBe(true);
    // a command is about a millisecond to write here and an envelope's round trip several: they coalesce
    expect(envelopes).toBeLessThan(50);
    log.lines.length = 0;
  }, 90_000);
});
