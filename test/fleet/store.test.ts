import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Secret } from "../../src/domain/index.js";
import { CodeVault } from "../../src/fleet/code-vault.js";
import type { Db } from "../../src/fleet/db.js";
import { FleetError } from "../../src/fleet/errors.js";
import { migrate, MIGRATIONS } from "../../src/fleet/schema.js";
import { FleetStore } from "../../src/fleet/store.js";
import { tempDirs } from "../helpers/tmp.js";
import { DATABASES, logicalDump, migratedStore } from "./databases.js";
import { leaks } from "./leaks.js";

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

const sealKey = Buffer.alloc(32, 7);
let panelN = 0;

async function rejects(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(FleetError);
  expect((err as FleetError).code).toBe(code);
}

describe("code vault", () => {
  it("creates its key file with mode 0600 and reads the same key back", () => {
    const path = join(dirs.make("vault-"), "code.key");
    const a = CodeVault.fromFile(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(path).size).toBe(32);
    const blob = a.encrypt(new Secret("4821"), "person:p1");
    expect(CodeVault.fromFile(path).decrypt(blob, "person:p1").reveal()).toBe("4821");
  });

  it("does not open a ciphertext moved to another row (AAD) or under another key", () => {
    const v = new CodeVault(Buffer.alloc(32, 1));
    const blob = v.encrypt(new Secret("4821"), "person:p1");
    expect(blob.includes(Buffer.from("4821"))).toBe(false);
    expect(() => v.decrypt(blob, "person:p2")).toThrow(FleetError);
    expect(() => new CodeVault(Buffer.alloc(32, 2)).decrypt(blob, "person:p1")).toThrow(FleetError);
  });

  it("narrows a key file others could read to 0600, and refuses a key of the wrong size", () => {
    const path = join(dirs.make("vault-"), "code.key");
    writeFileSync(path, Buffer.alloc(32, 3), { mode: 0o644 });
    // fromFile narrows the mode to 0600 itself; a key of the wrong size is refused.
    expect(() => CodeVault.fromFile(path)).not.toThrow();
    expect(statSync(path).mode & 0o077).toBe(0);
    const bad = join(dirs.make("vault-"), "code.key");
    writeFileSync(bad, Buffer.alloc(16, 3), { mode: 0o600 });
    expect(() => CodeVault.fromFile(bad)).toThrow(FleetError);
  });
});

describe.each(DATABASES)("fleet store on $name", (database) => {
  let db: Db;
  let store: FleetStore;
  const vault = new CodeVault(Buffer.alloc(32, 9));
  migratedStore(database, vault, (o) => ({ db, store } = o));

  const enrol = (lastSeq = 0, type: "DSC" | "Visonic" = "DSC") =>
    store.enrolPanel({ id: `p-${++panelN}`, type, codeLength: 4, timeZone: "Europe/Berlin", sealKey, lastSeq, digest: "0".repeat(64) });

  it("migrates once: a second run (another worker) changes nothing", async () => {
    expect(await migrate(db)).toBe(MIGRATIONS.length);
    const r = await db.query("SELECT version FROM schema_migrations ORDER BY version");
    expect(r.rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version })));
  });

  it("enrols a panel with its identity pinned and its next seq after the reported lastSeq", async () => {
    const p = await enrol(41);
    expect(p).toMatchObject({ type: "DSC", codeLength: 4, partitions: 8, capacity: 1000, nextSeq: 42, lastSeq: 41 });
    expect(p.sealKey.equals(sealKey)).toBe(true);
    await rejects(store.enrolPanel({ id: p.id, type: "DSC", codeLength: 4, timeZone: "UTC", sealKey, lastSeq: 0 }), "panel_exists");
    await rejects(store.enrolPanel({ id: "p-odd", type: "Visonic", codeLength: 6, timeZone: "UTC", sealKey, lastSeq: 0 }), "invalid_code_length");
  });

  it("switching a person on writes set_code, label, role, partitions and schedule with consecutive seqs in one transaction", async () => {
    const panel = await enrol(10);
    const person = await store.createPerson({ firstName: "Ada", lastName: "Lovelace", contacts: [{ kind: "mobile", value: "+4915112345678", country: "DE", carrier: "Telekom" }], accounts: [{ email: "ada@example.com" }] });
    await rejects(store.setAccess(person.id, panel.id, { enabled: true }), "code_required");
    expect(await store.commandsOfPanel(panel.id)).toEqual([]);
    await store.setCode(person.id, new Secret("5829"));
    const { access, commands } = await store.setAccess(person.id, panel.id, { enabled: true });
    expect(access).toMatchObject({ slot: 2, role: "User", partitions: [1, 2, 3, 4, 5, 6, 7, 8], schedule: { kind: "always" } });
    const journal = await store.commandsOfPanel(panel.id);
    expect(journal.map((c) => [c.seq, c.kind, c.status])).toEqual([
      [11, "set_code", "pending"],
      [12, "set_label", "pending"],
      [13, "set_role", "pending"],
      [14, "set_partitions", "pending"],
      [15, "set_schedule", "pending"],
    ]);
    expect(journal.map((c) => c.id)).toEqual(commands);
    expect((await store.panel(panel.id))!.nextSeq).toBe(16);
    // unchanged: nothing to send; a change: only what changed
    expect((await store.setAccess(person.id, panel.id, { enabled: true })).commands).toEqual([]);
    const change = await store.setAccess(person.id, panel.id, { enabled: true, role: "Supervisor", partitions: [2, 1] });
    expect((await Promise.all(change.commands.map((id) => store.command(id)))).map((c) => [c!.seq, c!.kind])).toEqual([[16, "set_role"], [17, "set_partitions"]]);
    const off = await store.setAccess(person.id, panel.id, { enabled: false });
    expect((await store.command(off.commands[0]!))).toMatchObject({ seq: 18, kind: "disable_user", status: "pending" });
  });

  it("the same schedule sent again writes nothing (jsonb gives its keys back in another order)", async () => {
    const panel = await enrol(0);
    const person = await store.createPerson({ firstName: "Grace", lastName: "Hopper" });
    await store.setCode(person.id, new Secret("7316"));
    const temporary = { kind: "temporary" as const, from: 1_800_000_000_000, to: 1_800_086_400_000 };
    expect((await store.setAccess(person.id, panel.id, { enabled: true, schedule: temporary })).commands).toHaveLength(5);
    expect((await store.setAccess(person.id, panel.id, { enabled: true, schedule: { ...temporary } })).commands).toEqual([]);
    const later = await store.setAccess(person.id, panel.id, { enabled: true, schedule: { ...temporary, to: 1_800_172_800_000 } });
    expect((await store.command(later.commands[0]!))?.kind).toBe("set_schedule");
  });

  it("assigns an account and door locks at a panel, and unassigns; a suspended or unknown account is refused", async () => {
    const panel = await enrol();
    const p = await store.createPerson({ firstName: "Acc", lastName: "Ount", accounts: [{ email: "a@example.com", status: "Active" }, { email: "s@example.com", status: "Suspended" }] });
    const other = await store.createPerson({ firstName: "Oth", lastName: "Er", accounts: [{ email: "o@example.com" }] });
    const active = p.accounts.find((a) => a.status === "Active");
    const suspended = p.accounts.find((a) => a.status === "Suspended");
    await store.setCode(p.id, new Secret("7352"));
    await rejects(store.setAccess(p.id, panel.id, { enabled: true, accountId: suspended!.id }), "account_suspended");
    await rejects(store.setAccess(p.id, panel.id, { enabled: true, accountId: "no-such-account" }), "account_not_found");
    expect(other.accounts).toHaveLength(1);
    const on = await store.setAccess(p.id, panel.id, { enabled: true, accountId: active!.id, doorLocks: ["front", "front"] });
    expect(on.access).toMatchObject({ accountId: active!.id, doorLocks: ["front"] });
    const kinds = await Promise.all(on.commands.map(async (id) => (await store.command(id))!.kind));
    expect(kinds).toEqual(["set_code", "set_label", "set_role", "set_partitions", "set_schedule", "set_door_locks", "assign_account"]);
    const body = (await db.query<{ body: { account: Record<string, unknown> } }>("SELECT body FROM commands WHERE id = $1", [on.commands[6]])).rows[0]!.body;
    expect(body.account).toMatchObject({ id: active!.id, email: "a@example.com", status: "Active" });
    expect(typeof body.account.createdAt).toBe("number");
    const off = await store.setAccess(p.id, panel.id, { enabled: true, accountId: null, doorLocks: [] });
    expect(await Promise.all(off.commands.map(async (id) => (await store.command(id))!.kind))).toEqual(["set_door_locks", "unassign_account"]);
  });

  it("a refused change writes no command and uses no seq", async () => {
    const panel = await enrol();
    const a = await store.createPerson({ firstName: "A", lastName: "One" });
    const b = await store.createPerson({ firstName: "B", lastName: "Two" });
    await store.setCode(a.id, new Secret("4711"));
    await store.setCode(b.id, new Secret("4711"));
    await store.setAccess(a.id, panel.id, { enabled: true });
    const before = (await store.panel(panel.id))!.nextSeq;
    await rejects(store.setAccess(b.id, panel.id, { enabled: true }), "code_in_use");
    // the same check when the slot is given (read with the free slot otherwise)
    await rejects(store.setAccess(b.id, panel.id, { enabled: true, slot: 5 }), "code_in_use");
    await rejects(store.setAccess(b.id, panel.id, { enabled: true, role: "Installer" }), "invalid_role_for_panel");
    await rejects(store.setAccess(b.id, panel.id, { enabled: true, partitions: [9] }), "partition_out_of_range");
    await rejects(store.setAccess(b.id, panel.id, { enabled: true, slot: 2 }), "slot_in_use");
    await rejects(store.setCode(b.id, new Secret("12a4")), "invalid_code");
    expect((await store.panel(panel.id))!.nextSeq).toBe(before);
    expect(await store.listUsers(panel.id, 1, 15)).toMatchObject({ total: 1, range: "1-1 of 1" });
    // changing a's code re-sends it to a's panel only, with the panel's next seq
    await rejects(store.setCode(a.id, new Secret("471")), "invalid_code_length");
    const { commands } = await store.setCode(a.id, new Secret("8530"));
    expect(await store.command(commands[0]!)).toMatchObject({ seq: before, kind: "set_code", panelId: panel.id });
  });

  it("concurrent changes on one panel get distinct slots and gap-free seqs", async () => {
    const panel = await enrol(100);
    const people = await Promise.all(Array.from({ length: 8 }, (_, i) => store.createPerson({ firstName: `P${i}`, lastName: "X" })));
    await Promise.all(people.map((p, i) => store.setCode(p.id, new Secret(String(3000 + i * 7)))));
    await Promise.all(people.map((p) => store.setAccess(p.id, panel.id, { enabled: true })));
    const journal = await store.commandsOfPanel(panel.id);
    expect(journal.map((c) => c.seq)).toEqual(Array.from({ length: 40 }, (_, i) => 101 + i));
    const page = await store.listUsers(panel.id, 1, 10);
    expect(page.rows.map((r) => r.number)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    // each person's five commands are contiguous: one transaction held the panel row
    const byPerson = new Map<string, number[]>();
    for (const c of journal) byPerson.set(c.personId!, [...(byPerson.get(c.personId!) ?? []), c.seq]);
    for (const seqs of byPerson.values()) expect(seqs.at(-1)! - seqs[0]!).toBe(4);
  });

  it("pages a panel's users 10/15/50/100/200 at a time with the grid's range text", async () => {
    const panel = await enrol();
    const people = await Promise.all(Array.from({ length: 17 }, (_, i) => store.createPerson({ firstName: `U${i}`, lastName: "Y" })));
    for (const [i, p] of people.entries()) {
      await store.setCode(p.id, new Secret(String(5000 + i * 13)));
      await store.setAccess(p.id, panel.id, { enabled: true });
    }
    expect(await store.listUsers(panel.id, 1, 15)).toMatchObject({ range: "1-15 of 17", pages: 2, total: 17 });
    const second = await store.listUsers(panel.id, 2, 15);
    expect(second.range).toBe("16-17 of 17");
    expect(second.rows[0]).toMatchObject({ number: 17, codeSet: true, enabled: true, role: "User" });
    expect((await store.listUsers(panel.id, 2, 10)).range).toBe("11-17 of 17");
    expect((await store.listUsers(panel.id, 9, 10)).range).toBe("11-17 of 17");
    expect((await store.listUsers(panel.id, 1, 50)).rows).toHaveLength(17);
  });

  it("records an outcome by (panel, seq) once: a repeated ack changes nothing", async () => {
    const panel = await enrol();
    const p = await store.createPerson({ firstName: "R", lastName: "Z" });
    await store.setCode(p.id, new Secret("6082"));
    const { commands } = await store.setAccess(p.id, panel.id, { enabled: true });
    const first = (await store.command(commands[0]!))!;
    expect(await store.journal.recordOutcome(panel.id, first.seq, { status: "applied", wireSeq: first.seq })).toBe(true);
    expect(await store.journal.recordOutcome(panel.id, first.seq, { status: "rejected", code: "replayed", sentence: "x" })).toBe(false);
    expect(await store.command(first.id)).toMatchObject({ status: "applied", error: null, wireSeq: first.seq });
    const second = (await store.command(commands[1]!))!;
    await store.journal.recordOutcome(panel.id, second.seq, { status: "rejected", code: "code_required", sentence: "The user has no code set." });
    expect(await store.command(second.id)).toMatchObject({ status: "rejected", error: { code: "code_required" } });
    expect((await store.journal.pending(panel.id, 10)).map((c) => c.seq)).toEqual([second.seq + 1, second.seq + 2, second.seq + 3]);
  });

  it("records many fates in one transaction: once each, in the action log, a snapshot superseding what it covers and a later gap refusal", async () => {
    const a = await enrol();
    const b = await enrol();
    const p = await store.createPerson({ firstName: "Batch", lastName: "Fates" });
    await store.setCode(p.id, new Secret("7193"));
    const onA = (await store.setAccess(p.id, a.id, { enabled: true })).commands;
    const onB = (await store.setAccess(p.id, b.id, { enabled: true })).commands;
    const snap = await store.writeSnapshot(a.id);
    const seqOf = async (id: string) => (await store.command(id))!.seq;
    const [a1, a2, a3] = [await seqOf(onA[0]!), await seqOf(onA[1]!), await seqOf(onA[2]!)];
    const snapSeq = await seqOf(snap.id);
    const b1 = await seqOf(onB[0]!);
    const acked = new Set<string>();
    const changed = await store.journal.recordOutcomes([
      { panelId: a.id, seq: a1, fate: { status: "applied", wireSeq: a1 } },
      { panelId: b.id, seq: b1, fate: { status: "rejected", code: "code_required", sentence: "The user has no code set.", wireSeq: b1 } },
      // a refusal for the gap across a reset, heard in the same batch as the snapshot that covers it
      { panelId: a.id, seq: a2, fate: { status: "rejected", code: "sequence_gap", sentence: "gap", wireSeq: a2 } },
      { panelId: a.id, seq: snapSeq, fate: { status: "applied", wireSeq: snapSeq } },
      // the same ack twice in one batch, and a command already decided
      { panelId: a.id, seq: a1, fate: { status: "rejected", code: "replayed", sentence: "x" } },
    ], acked);
    expect(changed).toEqual([true, true, false, true, false]);
    expect(await store.command(onA[0]!)).toMatchObject({ status: "applied", wireSeq: a1 });
    expect(await store.command(onB[0]!)).toMatchObject({ status: "rejected", error: { code: "code_required" } });
    // a2 and a3 never took effect before the snapshot: superseded (a2 before its gap refusal was recorded)
    expect((await store.command(onA[1]!))!.status).toBe("superseded");
    expect((await store.command(onA[2]!))!.status).toBe("superseded");
    expect(a3).toBeLessThan(snapSeq);
    expect(await store.journal.pending(a.id, 10)).toEqual([]);
    const log = await db.query<{ command_id: string; outcome: string; code: string | null }>(
      "SELECT command_id, outcome, code FROM action_log WHERE actor_kind = 'panel' AND panel_id = ANY($1::text[]) ORDER BY id",
      [[a.id, b.id]],
    );
    expect(log.rows).toEqual([
      { command_id: onA[0], outcome: "applied", code: null },
      { command_id: onB[0], outcome: "rejected", code: "code_required" },
      { command_id: snap.id, outcome: "applied", code: null },
    ]);
    expect([...acked].sort()).toEqual([a.id, b.id].sort());
    expect([...(await store.journal.markAcked([...acked]))].sort()).toEqual([a.id, b.id].sort());
    const times = await db.query<{ id: string; last_ack_at: unknown }>("SELECT id, last_ack_at FROM panels WHERE id = ANY($1::text[])", [[a.id, b.id]]);
    expect(times.rows.every((r) => r.last_ack_at !== null)).toBe(true);
  });

  // PGlite runs one statement at a time: a second connection holding a row is the server's case.
  it.runIf(database.name.startsWith("PostgreSQL"))("skips a panel row an API transaction holds (leases, states, last acks) and says so, instead of queueing behind it", async () => {
    const a = await enrol();
    const b = await enrol();
    let release!: () => void;
    const holding = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const tx = db.transaction(async (q) => {
      await q.query("SELECT 1 FROM panels WHERE id = $1 FOR UPDATE", [a.id]);
      locked();
      await holding;
    });
    await isLocked;
    try {
      const leases = await store.journal.acquireLeases([a.id, b.id], "w1", 60_000);
      expect([...leases.held.keys()]).toEqual([b.id]);
      expect([...leases.taken]).toEqual([]);
      const states = await store.journal.recordPanelStates(new Map([[a.id, { lastSeq: 1, digest: "e".repeat(64) }], [b.id, { lastSeq: 1, digest: "e".repeat(64) }]]));
      expect(states.recorded.map((r) => r.panel.id)).toEqual([b.id]);
      expect(states.busy).toEqual([a.id]);
      expect([...(await store.journal.markAcked([a.id, b.id]))]).toEqual([b.id]);
    } finally {
      release();
      await tx;
    }
    expect((await store.journal.recordPanelStates(new Map([[a.id, { lastSeq: 1, digest: "e".repeat(64) }]]))).recorded).toHaveLength(1);
    expect(await store.journal.acquireLease(a.id, "w1", 60_000)).toBe(true);
  });

  it("reads many panels' pending windows after a seq, takes many leases in one statement, and records states with the epoch before", async () => {
    const a = await enrol();
    const b = await enrol();
    const c = await enrol();
    const p = await store.createPerson({ firstName: "Many", lastName: "Panels" });
    await store.setCode(p.id, new Secret("6150"));
    for (const x of [a, b]) await store.setAccess(p.id, x.id, { enabled: true });
    const windows = await store.journal.pendingAfter([{ panelId: a.id, after: 0 }, { panelId: b.id, after: b.nextSeq + 1 }, { panelId: c.id, after: 0 }], 2);
    expect(windows.get(a.id)!.map((x) => x.seq)).toEqual([a.nextSeq, a.nextSeq + 1]);
    expect(windows.get(b.id)!.map((x) => x.seq)).toEqual([b.nextSeq + 2, b.nextSeq + 3]);
    expect(windows.has(c.id)).toBe(false);
    expect(await store.journal.panelsWithPending("w1")).toEqual(expect.arrayContaining([a.id, b.id]));

    expect([...(await store.journal.acquireLeases([b.id], "w2", 60_000)).held.keys()]).toEqual([b.id]);
    const { held, taken } = await store.journal.acquireLeases([a.id, b.id, c.id, "p-none"], "w1", 60_000);
    expect([...held.keys()].sort()).toEqual([a.id, c.id].sort());
    expect([...taken]).toEqual([b.id]);
    expect(held.get(a.id)!.sealKey.equals(sealKey)).toBe(true);
    // a panel whose lease another worker holds is not among those w1 may publish to
    expect(await store.journal.panelsWithPending("w1")).not.toContain(b.id);
    await store.journal.releaseLeases([a.id, b.id, c.id], "w1");
    expect(await store.journal.leaseOwner(a.id)).toBeNull();
    expect(await store.journal.leaseOwner(b.id)).toBe("w2");

    const until = Date.now() + 3600_000;
    const { recorded, busy } = await store.journal.recordPanelStates(new Map([
      [a.id, { lastSeq: 3, epoch: "e-new", digest: "d1".padEnd(64, "0") }],
      [c.id, { lastSeq: 0, digest: "d2".padEnd(64, "0"), dealerAccess: { until, hours: 2 } }],
      ["p-none", { lastSeq: 1, digest: "d3".padEnd(64, "0") }],
    ]));
    expect(busy).toEqual([]);
    const byId = new Map(recorded.map((r) => [r.panel.id, r]));
    expect([...byId.keys()].sort()).toEqual([a.id, c.id].sort());
    expect(byId.get(a.id)).toMatchObject({ previousEpoch: null, panel: { lastSeq: 3, epoch: "e-new" } });
    expect(byId.get(c.id)!.panel).toMatchObject({ lastSeq: 0, dealerHours: 2 });
    expect(byId.get(c.id)!.panel.dealerUntil!.getTime()).toBe(until);
    const again = await store.journal.recordPanelStates(new Map([[a.id, { lastSeq: 0, epoch: "e-newer", digest: "d4".padEnd(64, "0") }]]));
    expect(again.recorded[0]).toMatchObject({ previousEpoch: "e-new", panel: { epoch: "e-newer", lastSeq: 0 } });
  });

  it("leaves out a state older than the one recorded: a lower lastSeq in the same epoch, or an earlier report at the same lastSeq", async () => {
    const a = await enrol();
    const d = (x: string) => x.padEnd(64, "0");
    const record = async (state: { at?: number; lastSeq: number; epoch?: string; digest: string }) => (await store.journal.recordPanelStates(new Map([[a.id, state]])));
    const now = async () => (await store.panel(a.id))!;
    expect((await record({ at: 2000, lastSeq: 12, epoch: "e-1", digest: d("c1") })).recorded).toHaveLength(1);
    // a stale retained state served again (the panel's first, lastSeq 0): left out, neither recorded nor busy
    expect(await record({ at: 1000, lastSeq: 0, epoch: "e-1", digest: d("00") })).toEqual({ recorded: [], busy: [] });
    expect(await now()).toMatchObject({ lastSeq: 12, digest: d("c1") });
    // at the same lastSeq: an earlier report is left out, a later one (a change made at the keypad) recorded
    expect((await record({ at: 1500, lastSeq: 12, epoch: "e-1", digest: d("c0") })).recorded).toHaveLength(0);
    expect((await record({ at: 2500, lastSeq: 12, epoch: "e-1", digest: d("c2") })).recorded).toHaveLength(1);
    expect(await now()).toMatchObject({ lastSeq: 12, digest: d("c2") });
    // a new epoch (the panel reset) is recorded whatever its lastSeq and clock
    expect((await record({ at: 100, lastSeq: 0, epoch: "e-2", digest: d("00") })).recorded[0]).toMatchObject({ previousEpoch: "e-1", panel: { lastSeq: 0, epoch: "e-2" } });
  });

  it("gives a panel's publisher lease to one worker at a time until it expires", async () => {
    const panel = await enrol();
    expect(await store.journal.acquireLease(panel.id, "w1", 60_000)).toBe(true);
    expect(await store.journal.acquireLease(panel.id, "w2", 60_000)).toBe(false);
    expect(await store.journal.acquireLease(panel.id, "w1", 60_000)).toBe(true);
    expect(await store.journal.leaseOwner(panel.id)).toBe("w1");
    await store.journal.releaseLease(panel.id, "w2");
    expect(await store.journal.leaseOwner(panel.id)).toBe("w1");
    await store.journal.acquireLease(panel.id, "w1", 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(await store.journal.acquireLease(panel.id, "w2", 60_000)).toBe(true);
    expect(await store.journal.leaseOwner(panel.id)).toBe("w2");
  });

  it("keeps every code out of the database in clear (codes and commands encrypted, bound to their row)", async () => {
    const dump = await logicalDump(db);
    expect(dump).toContain("-- commands");
    const codes = ["5829", "4711", "8530", "6082", ...Array.from({ length: 8 }, (_, i) => String(3000 + i * 7)), ...Array.from({ length: 17 }, (_, i) => String(5000 + i * 13))];
    expect(leaks(dump, codes)).toEqual([]);
    // the scan finds a code stored in clear, as text or as bytes
    const probe = await db.transaction(async (tx) => {
      await tx.query("CREATE TEMP TABLE leak_probe (t text, b bytea) ON COMMIT DROP");
      await tx.query("INSERT INTO leak_probe VALUES ($1, $2)", ["label 4711", Buffer.from("8530")]);
      return (await tx.query<{ j: string }>("SELECT row_to_json(l)::text AS j FROM leak_probe l")).rows[0]!.j;
    });
    expect(leaks(probe, codes)).toEqual(["4711", "8530"]);
  });
});
