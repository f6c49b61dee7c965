import { describe, expect, it } from "vitest";
import {
  applyCommand, PanelTable, RuleError, Secret, type Applied, type Command, type PanelConfig, type PanelTypeId, ERROR_CODES, ERROR_SENTENCES,
} from "../../../src/domain/index.js";
import { testHash } from "../../helpers/hash.js";

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);
const cloud = { kind: "cloud" as const, id: "svc" };
let n = 0;

function table(type: PanelTypeId = "DSC", extra: Partial<PanelConfig> = {}): PanelTable {
  const codeLength = type === "Visonic" ? 4 : 4;
  return new PanelTable({ panelId: "p1", type, codeLength, timeZone: "Europe/Berlin", doorLocks: ["front", "back"], ...extra });
}

type CommandInput = { kind: Command["kind"] } & Record<string, unknown>;

function run(t: PanelTable, input: CommandInput) {
  const cmd = { id: `c${++n}`, actor: cloud, ...input } as Command;
  const out = applyCommand(t, cmd, { now: NOW, hash: testHash });
  if (out.ok) t.commit(out.changes);
  return out;
}

function ok(t: PanelTable, input: CommandInput): Applied {
  const out = run(t, input);
  if (!out.ok) throw new Error(`expected ok, got ${out.error.code}`);
  return out;
}

function code(t: PanelTable, input: CommandInput): string {
  const out = run(t, input);
  if (out.ok) throw new Error("expected a rejection");
  expect(out.error).toBeInstanceOf(RuleError);
  expect(out.log[0]?.result).toBe(out.error.code);
  return out.error.code;
}

const pin = (s: string) => new Secret(s);

describe("user table rules", () => {
  it("creates the user on the panel when a code is set, with the default label and all partitions", () => {
    const t = table();
    ok(t, { kind: "set_code", slot: 4, code: pin("1234") });
    const s = t.slot(4);
    expect(s.codeDigest).not.toBeNull();
    expect(s.label).toBe("User 4");
    expect(s.role).toBe("User");
    expect(s.partitions).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(t.activeSlotNumbers()).toEqual([4]);
  });

  it("refuses a label change while no code is set", () => {
    expect(code(table(), { kind: "set_label", slot: 3, label: "Anna" })).toBe("code_required");
  });

  it("refuses a partition change while no code is set", () => {
    expect(code(table(), { kind: "set_partitions", slot: 3, partitions: [1] })).toBe("code_required");
  });

  it("turns first and last name into a label cut to the panel's label length", () => {
    const t = table("Visonic");
    ok(t, { kind: "set_code", slot: 2, code: pin("2468") });
    ok(t, { kind: "set_label", slot: 2, firstName: "Maximilian", lastName: "Mustermann" });
    expect(t.slot(2).label).toBe("Maximilian");
    expect(code(t, { kind: "set_label", slot: 2, label: "Much too long a label" })).toBe("label_too_long");
    expect(code(t, { kind: "set_label", slot: 2, label: "  " })).toBe("invalid_label");
  });

  it("disabling removes the code and resets the label, account, tags and locks", () => {
    const t = table();
    ok(t, { kind: "set_code", slot: 5, code: pin("5555") });
    ok(t, { kind: "set_label", slot: 5, label: "Cleaner" });
    ok(t, { kind: "set_door_locks", slot: 5, doorLocks: ["front"] });
    ok(t, { kind: "assign_account", slot: 5, account: { id: "a1", email: "a@x.io", createdAt: NOW, status: "Active" } });
    ok(t, { kind: "disable_user", slot: 5 });
    const s = t.slot(5);
    expect(s.codeDigest).toBeNull();
    expect(s.label).toBe("User 5");
    expect(s.account).toBeNull();
    expect(s.doorLocks).toEqual([]);
    expect(t.slotByCodeDigest(testHash("5555"))).toBeUndefined();
    expect(code(t, { kind: "set_label", slot: 5, label: "Again" })).toBe("code_required");
  });

  it("never disables a Master user", () => {
    const t = table();
    ok(t, { kind: "set_code", slot: 1, code: pin("1111") });
    expect(code(t, { kind: "disable_user", slot: 1 })).toBe("master_cannot_be_disabled");
    expect(code(table(), { kind: "disable_user", slot: 1 })).toBe("master_cannot_be_disabled");
  });

  it("keeps a Master on all partitions", () => {
    const t = table();
    ok(t, { kind: "set_code", slot: 1, code: pin("1111") });
    expect(t.slot(1).role).toBe("Master");
    expect(t.slot(1).partitions).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(code(t, { kind: "set_partitions", slot: 1, partitions: [1] })).toBe("master_all_partitions");
  });

  it("gives Dual Path the Master role only", () => {
    const t = table("Dual Path");
    ok(t, { kind: "set_code", slot: 1, code: pin("1234") });
    expect(t.slot(1).role).toBe("Master");
    expect(code(t, { kind: "set_role", slot: 1, role: "User" })).toBe("invalid_role_for_panel");
    expect(code(t, { kind: "set_code", slot: 2, code: pin("1234") })).toBe("slot_out_of_range");
  });

  it("accepts only the roles of the panel type", () => {
    const t = table("Visonic");
    ok(t, { kind: "set_code", slot: 2, code: pin("2222") });
    expect(code(t, { kind: "set_role", slot: 2, role: "Supervisor" })).toBe("invalid_role_for_panel");
    const q = table("Qolsys IQ");
    ok(q, { kind: "set_code", slot: 2, code: pin("2222") });
    ok(q, { kind: "set_role", slot: 2, role: "Guest" });
    expect(q.slot(2).role).toBe("Guest");
    expect(code(q, { kind: "set_role", slot: 2, role: "One-time User" })).toBe("invalid_role_for_panel");
    expect(code(q, { kind: "set_role", slot: 2, role: "Master" })).toBe("master_role_fixed");
  });

  it("refuses a code another slot already has", () => {
    const t = table();
    ok(t, { kind: "set_code", slot: 2, code: pin("4321") });
    expect(code(t, { kind: "set_code", slot: 3, code: pin("4321") })).toBe("code_in_use");
    ok(t, { kind: "set_code", slot: 2, code: pin("4321") }); // its own code again is fine
  });

  it("checks code length, digits and refused codes per panel type", () => {
    expect(code(table(), { kind: "set_code", slot: 2, code: pin("12345") })).toBe("invalid_code_length");
    expect(code(table("DSC", { codeLength: 6 }), { kind: "set_code", slot: 2, code: pin("1234") })).toBe("invalid_code_length");
    expect(code(table(), { kind: "set_code", slot: 2, code: pin("12a4") })).toBe("invalid_code");
    expect(code(table("Visonic"), { kind: "set_code", slot: 2, code: pin("0000") })).toBe("weak_code");
  });

  it("refuses slot numbers beyond the panel's capacity", () => {
    expect(code(table("Visonic"), { kind: "set_code", slot: 49, code: pin("1234") })).toBe("slot_out_of_range");
    expect(code(table("Qolsys IQ"), { kind: "set_code", slot: 243, code: pin("1234") })).toBe("slot_out_of_range");
    ok(table("Qolsys IQ"), { kind: "set_code", slot: 242, code: pin("1234") });
  });

  it("refuses partitions the panel does not have", () => {
    const t = table("Visonic");
    ok(t, { kind: "set_code", slot: 2, code: pin("1234") });
    expect(code(t, { kind: "set_partitions", slot: 2, partitions: [4] })).toBe("partition_out_of_range");
    ok(t, { kind: "set_partitions", slot: 2, partitions: [3, 1, 3] });
    expect(t.slot(2).partitions).toEqual([1, 3]);
  });

  describe("accounts", () => {
    const account = { id: "acc-1", email: "anna@example.com", createdAt: NOW, status: "Active" as const };

    it("refuses a suspended account", () => {
      const t = table();
      ok(t, { kind: "set_code", slot: 2, code: pin("1234") });
      expect(code(t, { kind: "assign_account", slot: 2, account: { ...account, status: "Suspended" } })).toBe("account_suspended");
    });

    it("needs a code set before assigning", () => {
      expect(code(table(), { kind: "assign_account", slot: 2, account })).toBe("code_required");
    });

    it("unassign keeps the user and shows no account", () => {
      const t = table();
      ok(t, { kind: "set_code", slot: 2, code: pin("1234") });
      ok(t, { kind: "assign_account", slot: 2, account });
      ok(t, { kind: "unassign_account", slot: 2 });
      expect(t.slot(2).account).toBeNull();
      expect(t.slot(2).codeDigest).not.toBeNull();
      expect(code(t, { kind: "unassign_account", slot: 2 })).toBe("account_not_assigned");
    });

    it("remove deletes the account wherever it is assigned", () => {
      const t = table();
      ok(t, { kind: "set_code", slot: 2, code: pin("1234") });
      ok(t, { kind: "assign_account", slot: 2, account });
      ok(t, { kind: "remove_account", accountId: "acc-1" });
      expect(t.slot(2).account).toBeNull();
      expect(t.slotByAccount("acc-1")).toBeUndefined();
      expect(code(t, { kind: "remove_account", accountId: "acc-1" })).toBe("account_not_found");
    });

    it("one account is assigned to one user per panel", () => {
      const t = table();
      ok(t, { kind: "set_code", slot: 2, code: pin("1234") });
      ok(t, { kind: "set_code", slot: 3, code: pin("1235") });
      ok(t, { kind: "assign_account", slot: 2, account });
      expect(code(t, { kind: "assign_account", slot: 3, account })).toBe("account_already_assigned");
    });
  });

  it("checks door locks against the panel's locks and tags against the type", () => {
    const t = table("Visonic");
    ok(t, { kind: "set_code", slot: 2, code: pin("1234") });
    expect(code(t, { kind: "set_door_locks", slot: 2, doorLocks: ["garage"] })).toBe("unknown_door_lock");
    expect(code(t, { kind: "set_proximity_tags", slot: 2, tags: [{ kind: "doorlock", tag: pin("TAG-0001") }] })).toBe("tags_not_supported");
    ok(t, { kind: "set_proximity_tags", slot: 2, tags: [{ kind: "keypad", tag: pin("TAG-0001") }] });
    ok(t, { kind: "set_code", slot: 3, code: pin("1235") });
    expect(code(t, { kind: "set_proximity_tags", slot: 3, tags: [{ kind: "keypad", tag: pin("TAG-0001") }] })).toBe("tag_in_use");
    expect(t.slotByTagDigest(testHash("TAG-0001"))).toBe(2);
  });

  it("rejects a stale expectedVersion", () => {
    const t = table();
    ok(t, { kind: "set_code", slot: 2, code: pin("1234") });
    const v = t.slot(2).version;
    ok(t, { kind: "set_label", slot: 2, label: "A", expectedVersion: v });
    expect(code(t, { kind: "set_label", slot: 2, label: "B", expectedVersion: v })).toBe("version_conflict");
  });

  it("validates weekly and temporary schedules", () => {
    const t = table();
    ok(t, { kind: "set_code", slot: 2, code: pin("1234") });
    expect(code(t, { kind: "set_schedule", slot: 2, schedule: { kind: "temporary", from: NOW, to: NOW } })).toBe("invalid_schedule");
    ok(t, { kind: "set_schedule", slot: 2, schedule: { kind: "weekly", windows: [{ days: [5, 1, 1], start: 22 * 60, end: 6 * 60 }] } });
    expect(t.slot(2).schedule).toEqual({ kind: "weekly", windows: [{ days: [1, 5], start: 1320, end: 360 }] });
  });

  it("lets a Supervisor program users at the keypad but not the Master", () => {
    const t = table();
    ok(t, { kind: "set_code", slot: 1, code: pin("1111") });
    ok(t, { kind: "set_code", slot: 2, code: pin("2222") });
    ok(t, { kind: "set_role", slot: 2, role: "Supervisor" });
    ok(t, { kind: "set_code", slot: 3, code: pin("3333") });
    const sup = { kind: "keypad_user" as const, id: "keypad-1", slot: 2 };
    const user = { kind: "keypad_user" as const, id: "keypad-1", slot: 3 };
    const out = ok(t, { kind: "set_code", slot: 4, code: pin("4444"), actor: sup });
    expect(out.events.map((e) => e.type)).toEqual(["local_change"]);
    expect(code(t, { kind: "set_code", slot: 1, code: pin("9999"), actor: sup })).toBe("master_required");
    expect(code(t, { kind: "set_code", slot: 5, code: pin("5555"), actor: user })).toBe("permission_denied");
  });

  it("logs before/after of non-secret fields only, and the rejected attempts", () => {
    const t = table();
    const first = ok(t, { kind: "set_code", slot: 2, code: pin("8642") });
    expect(first.log[0]).toMatchObject({ action: "set_code", slot: 2, result: "ok", before: { codeSet: false }, after: { codeSet: true } });
    const again = ok(t, { kind: "set_code", slot: 2, code: pin("8643") });
    expect(again.log[0]?.after).toMatchObject({ codeSet: true, codeChanged: true });
    const text = JSON.stringify([first.log, first.events, first.result, again.log, again.events, again.result]);
    expect(text).not.toContain("8642");
    expect(text).not.toContain("8643");
    expect(text).not.toContain(t.slot(2).codeDigest!);
  });

  it("leaves the table untouched until the change set is committed, and revert undoes it", () => {
    const t = table();
    const cmd = { id: "x", actor: cloud, kind: "set_code", slot: 2, code: pin("1234") } as Command;
    const out = applyCommand(t, cmd, { now: NOW, hash: testHash });
    expect(out.ok).toBe(true);
    expect(t.slot(2).codeDigest).toBeNull();
    if (!out.ok) return;
    t.commit(out.changes);
    expect(t.slotByCodeDigest(testHash("1234"))).toBe(2);
    t.revert(out.changes);
    expect(t.slot(2).codeDigest).toBeNull();
    expect(t.slotByCodeDigest(testHash("1234"))).toBeUndefined();
  });

  it("has a sentence for every error code", () => {
    for (const c of ERROR_CODES) expect(ERROR_SENTENCES[c].length).toBeGreaterThan(10);
  });
});

describe("snapshot", () => {
  it("replaces the table and reports added, changed and removed slots", () => {
    const t = table();
    ok(t, { kind: "set_code", slot: 2, code: pin("2222") });
    ok(t, { kind: "set_code", slot: 3, code: pin("3333") });
    ok(t, { kind: "set_code", slot: 4, code: pin("4444") });
    const out = ok(t, {
      kind: "snapshot",
      users: [
        { slot: 2, code: "keep" },
        { slot: 3, code: "keep", label: "Renamed" },
        { slot: 5, code: pin("5555"), role: "Duress" },
      ],
    });
    expect(out.result).toMatchObject({ added: [5], changed: [3], removed: [4] });
    expect(t.activeSlotNumbers()).toEqual([2, 3, 5]);
    expect(t.slot(5).role).toBe("Duress");
    expect(t.slotByCodeDigest(testHash("4444"))).toBeUndefined();
  });

  it("is all or nothing: one bad user rejects the whole snapshot", () => {
    const t = table();
    ok(t, { kind: "set_code", slot: 2, code: pin("2222") });
    expect(code(t, { kind: "snapshot", users: [{ slot: 3, code: pin("3333") }, { slot: 4, code: pin("3333") }] })).toBe("code_in_use");
    expect(code(t, { kind: "snapshot", users: [{ slot: 3, code: "keep" }] })).toBe("snapshot_invalid");
    expect(t.activeSlotNumbers()).toEqual([2]);
  });
});
