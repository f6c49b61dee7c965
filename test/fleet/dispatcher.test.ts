import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Secret } from "../../src/domain/index.js";
import { CodeVault } from "../../src/fleet/code-vault.js";
import type { Db } from "../../src/fleet/db.js";
import { enrolPanel } from "../../src/fleet/enrol.js";
import { AgentFleet, captureLog, fleetWorker, until } from "./fixture.js";
import { leaks } from "./leaks.js";
import { DATABASES } from "./databases.js";

const PANELS = ["disp-a", "disp-b", "disp-c"];

describe.each(DATABASES)("dispatcher, two workers on $name", (database) => {
  const closers: (() => Promise<void>)[] = [];
  const fleet = new AgentFleet();
  const log = captureLog();
  const vault = new CodeVault(Buffer.alloc(32, 5));
  let db: Db;
  let w1: Awaited<ReturnType<typeof fleetWorker>>;
  let w2: Awaited<ReturnType<typeof fleetWorker>>;

  beforeAll(async () => {
    await fleet.start(PANELS);
    let closeDb: () => Promise<void>;
    ({ db, close: closeDb } = await database.open());
    closers.push(closeDb);
    w1 = await fleetWorker(db, fleet.broker.url, fleet.signingKey, vault, log.logger, "w1");
    w2 = await fleetWorker(db, fleet.broker.url, fleet.signingKey, vault, log.logger, "w2");
    for (const id of PANELS.slice(0, 2)) await enrolPanel(w1.store, w1.client, { id });
    // disp-c enrolled with a sealing key that is not the panel's: its codes must never be sealed to another key
    const state = (await w1.client.panelState("disp-c"))!;
    await w1.store.enrolPanel({ id: "disp-c", type: "DSC", codeLength: 4, timeZone: "Europe/Berlin", sealKey: Buffer.alloc(32, 1), lastSeq: state.lastSeq });
    w1.dispatcher.start();
    w2.dispatcher.start();
  }, 60_000);

  afterAll(async () => {
    await w1?.stop();
    await w2?.stop();
    for (const c of closers.splice(0)) await c();
    await fleet.stop();
  });

    it("publishes each panel's commands in seq order, one worker per panel, and records every fate once", async () => {
      const people = await Promise.all(["Ada", "Bob", "Cy"].map((n) => w1.store.createPerson({ firstName: n, lastName: "Test" })));
      const codes = ["2957", "3068", "4179"];
      for (const [i, p] of people.entries()) {
        await w1.store.setCode(p.id, new Secret(codes[i]!));
        for (const panel of PANELS.slice(0, 2)) await w1.store.setAccess(p.id, panel, { enabled: true });
      }
      w1.dispatcher.kick();
      w2.dispatcher.kick();
      for (const panel of PANELS.slice(0, 2)) {
        const journal = await until(async () => {
          const j = await w1.store.commandsOfPanel(panel);
          return j.every((c) => c.status !== "pending") && j;
        });
        expect(journal).toHaveLength(15);
        expect(journal.every((c) => c.status === "applied" && c.wireSeq === c.seq)).toBe(true);
        expect(journal.map((c) => c.seq)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
        const state = await until(async () => {
          const s = await w1.client.panelState(panel);
          return s && s.lastSeq === 15 && s;
        });
        expect(state.users).toBe(3);
        const owner = await w1.store.journal.leaseOwner(panel);
        expect(["w1", "w2"]).toContain(owner);
        // only the lease holder handed this panel's commands to its client
        const publishers = new Set(log.lines.map((l) => JSON.parse(l) as { panelId?: string; worker?: string; msg: string }).filter((l) => l.panelId === panel && l.msg === "commands handed to the cloud client").map((l) => l.worker));
        expect([...publishers]).toEqual([owner]);
      }
      expect(log.lines.filter((l) => l.includes("seq_mismatch"))).toEqual([]);
      // a repeated ack (another worker, a redelivery) changes nothing
      const first = (await w1.store.commandsOfPanel("disp-a"))[0]!;
      expect(await w2.store.journal.recordOutcome("disp-a", first.seq, { status: "rejected", code: "replayed" })).toBe(false);
      expect(log.lines.join("\n")).toContain("command outcome");
      expect(leaks(log.lines.join("\n"), codes)).toEqual([]);
    });

    it("records a panel's refusal with its code and sentence, and the next command still applies", async () => {
      const before = (await w1.store.panel("disp-a"))!.nextSeq;
      // a change the agent refuses (label of a slot without a code), written as any change is: seq allocated in the transaction
      await db.transaction(async (tx) => {
        const seq = await w1.store.allocateSeq(tx, "disp-a");
        await tx.query("INSERT INTO commands (id, panel_id, seq, kind, body) VALUES ($1, 'disp-a', $2, 'set_label', $3)", [`refused-${seq}`, seq, JSON.stringify({ kind: "set_label", slot: 77, label: "Nobody" })]);
        // a kind this agent does not advertise: the client would refuse it locally, using no seq
        const seq2 = await w1.store.allocateSeq(tx, "disp-a");
        await tx.query("INSERT INTO commands (id, panel_id, seq, kind, body) VALUES ($1, 'disp-a', $2, 'record_one_time_use', $3)", [`unadvertised-${seq2}`, seq2, JSON.stringify({ kind: "record_one_time_use", slot: 2, localDay: "2026-12-01" })]);
      });
      const person = await w1.store.createPerson({ firstName: "Dee", lastName: "Late" });
      await w1.store.setCode(person.id, new Secret("5280"));
      await w1.store.setAccess(person.id, "disp-a", { enabled: true });
      w1.dispatcher.kick();
      const refused = await until(async () => {
        const c = await w1.store.command(`refused-${before}`);
        return c && c.status !== "pending" && c;
      });
      expect(refused).toMatchObject({ status: "rejected", seq: before, wireSeq: before, error: { code: "code_required", message: "The user has no code set; set a code before changing its label, partitions, role, schedule, door locks, tags or account." } });
      const unadvertised = await until(async () => {
        const c = await w1.store.command(`unadvertised-${before + 1}`);
        return c && c.status !== "pending" && c;
      });
      // sent as a filler read at its own seq, recorded as the client's refusal
      expect(unadvertised).toMatchObject({ status: "rejected", seq: before + 1, wireSeq: before + 1, error: { code: "unknown_command" } });
      const after = await until(async () => {
        const j = (await w1.store.commandsOfPanel("disp-a")).filter((c) => c.seq > before + 1);
        return j.length === 5 && j.every((c) => c.status !== "pending") && j;
      });
      expect(after.map((c) => [c.status, c.wireSeq === c.seq])).toEqual(Array.from({ length: 5 }, () => ["applied", true]));
      expect(log.lines.filter((l) => l.includes("seq_mismatch"))).toEqual([]);
    });

    it("holds the commands of a panel whose sealing key is not the one pinned at enrolment", async () => {
      const person = await w1.store.createPerson({ firstName: "Eve", lastName: "Held" });
      await w1.store.setCode(person.id, new Secret("6391"));
      await w1.store.setAccess(person.id, "disp-c", { enabled: true });
      w1.dispatcher.kick();
      w2.dispatcher.kick();
      await until(async () => log.lines.some((l) => l.includes("disp-c") && l.includes("pinned at enrolment")));
      await new Promise((r) => setTimeout(r, 300));
      const journal = await w1.store.commandsOfPanel("disp-c");
      expect(journal.every((c) => c.status === "pending" && c.sentAt === null)).toBe(true);
      expect((await w1.client.panelState("disp-c"))!.lastSeq).toBe(0);
    });

  it("a worker whose lease was taken never publishes to that panel again; the new holder goes on at the journal's seqs", async () => {
    const panel = "disp-b";
    const holder = (await w1.store.journal.leaseOwner(panel))!;
    const next = holder === "w1" ? w2 : w1;
    const nextId = holder === "w1" ? "w2" : "w1";
    // the holder stalled past its lease and another worker took the panel
    await db.query("UPDATE panels SET lease_owner = $2, lease_until = now() + interval '1 minute' WHERE id = $1", [panel, nextId]);
    const parsed = () => log.lines.map((l) => JSON.parse(l) as { panelId?: string; worker?: string; msg: string; fromSeq?: number });
    await until(async () => parsed().some((l) => l.worker === holder && l.panelId === panel && l.msg.startsWith("publisher lease lost")));
    const firstNew = (await w1.store.panel(panel))!.nextSeq;
    const person = await w1.store.createPerson({ firstName: "Fay", lastName: "Moved" });
    await w1.store.setCode(person.id, new Secret("7413"));
    await w1.store.setAccess(person.id, panel, { enabled: true });
    next.dispatcher.kick();
    const journal = await until(async () => {
      const j = (await w1.store.commandsOfPanel(panel)).filter((c) => c.seq >= firstNew);
      return j.length === 5 && j.every((c) => c.status !== "pending") && j;
    });
    expect(journal.every((c) => c.status === "applied" && c.wireSeq === c.seq)).toBe(true);
    const handedBy = new Set(parsed().filter((l) => l.panelId === panel && l.msg === "commands handed to the cloud client" && l.fromSeq! >= firstNew).map((l) => l.worker));
    expect([...handedBy]).toEqual([nextId]);
    expect(log.lines.filter((l) => l.includes("seq_mismatch"))).toEqual([]);
  });
});
