/**
 * Publishing can crash and resume: a worker publishes a panel's commands and dies before their
 * acks come back; the panel applies them meanwhile. The next worker must not send them again at new
 * seqs (the cloud client would number from the panel's lastSeq): it supersedes them (`ack_lost`)
 * and reconciles by snapshot, and the stream goes on at the journal's seqs.
 */
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeState } from "../../protocol/index.js";
import { Secret } from "../../src/domain/index.js";
import { CodeVault } from "../../src/fleet/code-vault.js";
import type { Db } from "../../src/fleet/db.js";
import { enrolPanel } from "../../src/fleet/enrol.js";
import { KeypadTestClient, lastDisplay } from "../helpers/keypad-client.js";
import { DATABASES } from "./databases.js";
import { AgentFleet, captureLog, fleetWorker, until } from "./fixture.js";

async function retainedLastSeq(url: string, panelId: string): Promise<number> {
  const c = await mqtt.connectAsync(url, { clientId: `probe-${Math.random().toString(36).slice(2)}` });
  try {
    const got = new Promise<number>((resolve) => c.on("message", (_t, payload) => {
      const d = decodeState(payload);
      if (d.ok) resolve(d.value.lastSeq);
    }));
    await c.subscribeAsync(`panels/${panelId}/state`, { qos: 1 });
    return await Promise.race([got, new Promise<number>((r) => setTimeout(() => r(-1), 1000))]);
  } finally {
    await c.endAsync();
  }
}

describe.each(DATABASES)("a worker dies between publishing and recording acks (fleet on $name)", (database) => {
  const agents = new AgentFleet();
  const log = captureLog();
  const vault = new CodeVault(Buffer.alloc(32, 3));
  let db: Db;
  let closeDb: () => Promise<void>;
  const stops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    await agents.start(["res-1"]);
    ({ db, close: closeDb } = await database.open());
  }, 60_000);

  afterAll(async () => {
    for (const s of stops) await s();
    await closeDb?.();
    await agents.stop();
  });

  it("supersedes what the panel consumed unseen, reconciles by snapshot and goes on at the journal's seqs", async () => {
    const a = await fleetWorker(db, agents.broker.url, agents.signingKey, vault, log.logger, "wA");
    stops.push(() => a.stop());
    await enrolPanel(a.store, a.client, { id: "res-1" });
    a.dispatcher.start();
    const person = await a.store.createPerson({ firstName: "Rosalind", lastName: "Franklin" });
    await a.store.setCode(person.id, new Secret("8146"));

    await agents.restart("res-1", {
      whileDown: async () => {
        // the panel is offline: worker A publishes (the broker queues them for the panel) and dies
        await a.store.setAccess(person.id, "res-1", { enabled: true });
        a.dispatcher.kick();
        await until(async () => (await a.store.commandsOfPanel("res-1")).every((c) => c.sentAt !== null));
        await new Promise((r) => setTimeout(r, 200));
        await a.stop();
      },
    });
    // the panel applied them from the broker's queue; nobody recorded an ack
    await until(async () => (await retainedLastSeq(agents.broker.url, "res-1")) === 5);
    expect((await a.store.commandsOfPanel("res-1")).map((c) => c.status)).toEqual(["pending", "pending", "pending", "pending", "pending"]);

    const b = await fleetWorker(db, agents.broker.url, agents.signingKey, vault, log.logger, "wB");
    stops.push(() => b.stop());
    b.dispatcher.start();
    const journal = await until(async () => {
      const j = await b.store.commandsOfPanel("res-1");
      return j.length === 6 && j.every((c) => c.status !== "pending") && j;
    });
    expect(journal.map((c) => [c.seq, c.kind, c.status, c.error?.code ?? null])).toEqual([
      [1, "set_code", "superseded", "ack_lost"],
      [2, "set_label", "superseded", "ack_lost"],
      [3, "set_role", "superseded", "ack_lost"],
      [4, "set_partitions", "superseded", "ack_lost"],
      [5, "set_schedule", "superseded", "ack_lost"],
      [6, "snapshot", "applied", null],
    ]);
    expect(journal[5]!.wireSeq).toBe(6);
    const c = await KeypadTestClient.connect(agents.agent("res-1").config.keypadSocket);
    try {
      await c.hello("kp-res", [1]);
      c.send({ t: "entry", action: "arm_away", code: "8146" });
      expect(lastDisplay(await c.sync())?.line2).toBe("Access granted — Rosalind Frank");
    } finally {
      c.close();
    }
    const next = await b.store.setAccess(person.id, "res-1", { enabled: true, role: "Supervisor" });
    b.dispatcher.kick();
    const fate = await until(async () => {
      const f = await b.store.command(next.commands[0]!);
      return f && f.status !== "pending" && f;
    });
    expect(fate).toMatchObject({ status: "applied", seq: 7, wireSeq: 7 });
    expect(log.lines.filter((l) => l.includes("seq_mismatch"))).toEqual([]);
  });
});
