/**
 * Snapshots of many panels written together (writeSnapshots): one per panel at its next seq, the
 * same table and sealed codes as one panel's snapshot, one pending snapshot per panel even when
 * two workers write the same panels at once, and an unknown panel left out.
 */
import { describe, expect, it } from "vitest";
import { Secret } from "../../src/domain/index.js";
import { CodeVault } from "../../src/fleet/code-vault.js";
import type { Db } from "../../src/fleet/db.js";
import { writeSnapshot, writeSnapshots } from "../../src/fleet/snapshot.js";
import { FleetStore } from "../../src/fleet/store.js";
import { DATABASES, migratedStore } from "./databases.js";
import { leaks } from "./leaks.js";

describe.each(DATABASES)("snapshots of many panels on $name", (database) => {
  let db: Db;
  let store: FleetStore;
  const vault = new CodeVault(Buffer.alloc(32, 3));
  const sealKey = Buffer.alloc(32, 2);
  let n = 0;
  migratedStore(database, vault, (o) => ({ db, store } = o));

  const enrol = async () => (await store.enrolPanel({ id: `snap-${++n}`, type: "DSC", codeLength: 4, timeZone: "Europe/Berlin", sealKey, lastSeq: 0, digest: "0".repeat(64) })).id;

  async function snapshotRow(id: string) {
    const r = await db.query<{ panel_id: string; seq: unknown; body: { users: { slot: number; label: string }[] }; secret_ct: Uint8Array; status: string }>(
      "SELECT panel_id, seq, body, secret_ct, status FROM commands WHERE id = $1",
      [id],
    );
    const row = r.rows[0]!;
    return { ...row, seq: Number(row.seq), codes: JSON.parse(vault.decrypt(row.secret_ct, `command:${id}`).reveal()) as Record<string, string> };
  }

  it("writes one snapshot per panel at its next seq, the same as one panel's, and returns the pending one the second time", async () => {
    const panels = [await enrol(), await enrol(), await enrol(), await enrol()];
    const codes = ["4821", "5932", "6043"];
    const people = [];
    for (const [i, code] of codes.entries()) {
      const p = await store.createPerson({ firstName: `Snap${i}`, lastName: "Many" });
      await store.setCode(p.id, new Secret(code));
      people.push(p.id);
    }
    // panel 0: all three; panel 1: the first two; panel 2: none; panel 3: one, written alone for comparison
    for (const p of people) await store.setAccess(p, panels[0]!, { enabled: true });
    for (const p of people.slice(0, 2)) await store.setAccess(p, panels[1]!, { enabled: true });
    await store.setAccess(people[2]!, panels[3]!, { enabled: true });
    const next = new Map(await Promise.all(panels.map(async (id) => [id, (await store.panel(id))!.nextSeq] as const)));

    const written = await writeSnapshots(store, [...panels.slice(0, 3), "snap-unknown", panels[0]!]);
    expect([...written.keys()].sort()).toEqual(panels.slice(0, 3).sort());
    for (const id of panels.slice(0, 3)) {
      expect(written.get(id)!.created).toBe(true);
      const row = await snapshotRow(written.get(id)!.id);
      expect(row).toMatchObject({ panel_id: id, seq: next.get(id), status: "pending" });
      expect((await store.panel(id))!.nextSeq).toBe(next.get(id)! + 1);
    }
    const s0 = await snapshotRow(written.get(panels[0]!)!.id);
    expect(Object.values(s0.codes).sort()).toEqual([...codes].sort());
    expect(s0.body.users).toHaveLength(3);
    expect(Object.values((await snapshotRow(written.get(panels[1]!)!.id)).codes).sort()).toEqual(codes.slice(0, 2).sort());
    expect((await snapshotRow(written.get(panels[2]!)!.id)).body.users).toEqual([]);
    expect(leaks(JSON.stringify(s0.body), codes)).toEqual([]);

    // the batch writes what one panel's snapshot writes
    const alone = await writeSnapshot(store, panels[3]!);
    const one = await snapshotRow(alone.id);
    const same = s0.body.users.find((u) => u.label === "Snap2 Many")!;
    const oneUser = one.body.users[0]!;
    expect({ ...oneUser, slot: 0 }).toEqual({ ...same, slot: 0 });
    expect(Object.values(one.codes)).toEqual(["6043"]);

    // pending already: the same snapshots back, none new
    const again = await writeSnapshots(store, panels);
    for (const id of panels) expect(again.get(id)).toEqual({ id: id === panels[3] ? alone.id : written.get(id)!.id, created: false });
    await expect(writeSnapshot(store, "snap-unknown")).rejects.toMatchObject({ code: "panel_not_found" });
  });

  it("keeps one pending snapshot per panel when two writers take the same panels at once", async () => {
    const panels = [await enrol(), await enrol(), await enrol()];
    const [a, b] = await Promise.all([writeSnapshots(store, panels), writeSnapshots(store, [...panels].reverse())]);
    for (const id of panels) {
      expect(a.get(id)!.id).toBe(b.get(id)!.id);
      expect([a.get(id)!.created, b.get(id)!.created].sort()).toEqual([false, true]);
      const pending = await db.query("SELECT id FROM commands WHERE panel_id = $1 AND kind = 'snapshot' AND status = 'pending'", [id]);
      expect(pending.rows).toHaveLength(1);
    }
  });

  it.runIf(database.name.startsWith("PostgreSQL"))("writes the panels it can lock at once and a panel whose row an API call holds once it commits", async () => {
    const [held, free] = [await enrol(), await enrol()];
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const api = db.transaction(async (tx) => {
      await tx.query("SELECT id FROM panels WHERE id = $1 FOR UPDATE", [held]);
      locked();
      await released;
    });
    await isLocked;
    const writing = writeSnapshots(store, [held, free]);
    const pendingSnapshots = async (id: string) => (await db.query("SELECT id FROM commands WHERE panel_id = $1 AND kind = 'snapshot'", [id])).rows.length;
    // the free panel's snapshot is written (committed) while the other row is held
    const deadline = Date.now() + 15_000;
    while ((await pendingSnapshots(free)) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await pendingSnapshots(free)).toBe(1);
    expect(await pendingSnapshots(held)).toBe(0);
    release();
    await api;
    const written = await writing;
    expect([...written.keys()].sort()).toEqual([held, free].sort());
    expect(await pendingSnapshots(held)).toBe(1);
  });
});
