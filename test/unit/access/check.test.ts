import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AccessIndex, accessAnswer, accessRecord, DENIAL_REASONS, type AccessResult, type DenialReason } from "../../../src/access/index.js";
import { PanelTable, oneTimeKey, type Slot } from "../../../src/domain/index.js";
import { door, hash, keypad, NO_LOCKOUT, NOW, Panel, pin } from "./fixtures.js";

const HOUR = 3_600_000;
const reasonOf = (r: AccessResult) => (r.granted ? "granted" : r.reason);

describe("access check: reasons", () => {
  const seen = new Set<DenialReason>();
  const expectReason = (r: AccessResult, reason: DenialReason) => {
    expect(r.granted).toBe(false);
    expect(r.reason).toBe(reason);
    seen.add(reason);
  };

  it("grants a known code with its slot, label and role", () => {
    const p = new Panel();
    p.user(4, "1234", { label: "Anna" });
    const r = p.check("1234");
    expect(r).toMatchObject({ granted: true, reason: null, slot: 4, label: "Anna", role: "User", duress: false });
    expect(r.events).toEqual([]);
  });

  it("unknown_credential for a code nobody has", () => {
    const p = new Panel();
    p.user(4, "1234");
    const r = p.check("4321");
    expectReason(r, "unknown_credential");
    expect(r.slot).toBeUndefined();
  });

  it("no_code for a tag whose slot has no code (the slot does not exist on the panel)", () => {
    const table = new PanelTable({ panelId: "p", type: "DSC", codeLength: 4, timeZone: "Europe/Berlin", doorLocks: [] }, [
      { number: 7, label: "User 7", role: "User", codeDigest: null, partitions: [1], schedule: { kind: "always" }, doorLocks: [], tags: [{ kind: "keypad", digest: hash("TAG-7777") }], account: null, version: 1, updatedAt: 0 },
    ]);
    const index = new AccessIndex(table, { hash, lockoutPolicy: NO_LOCKOUT });
    expectReason(index.check({ credential: { kind: "tag", value: pin("TAG-7777") }, point: keypad(), action: "disarm", at: NOW }), "no_code");
  });

  it("outside_schedule for a weekly user outside their window (panel local time)", () => {
    const p = new Panel();
    // NOW is Wednesday 13:00 Berlin; window Wednesday 08:00-12:00.
    p.user(4, "1234", { schedule: { kind: "weekly", windows: [{ days: [3], start: 480, end: 720 }] } });
    expectReason(p.check("1234"), "outside_schedule");
    expect(p.check("1234", "disarm", keypad(), NOW - 2 * HOUR).granted).toBe(true); // 11:00 Berlin
  });

  it("not_yet_valid before a temporary schedule starts, expired at and after its end", () => {
    const p = new Panel();
    p.user(4, "1234", { schedule: { kind: "temporary", from: NOW + HOUR, to: NOW + 2 * HOUR } });
    expectReason(p.check("1234"), "not_yet_valid");
    expect(p.check("1234", "disarm", keypad(), NOW + HOUR).granted).toBe(true);
    expectReason(p.check("1234", "disarm", keypad(), NOW + 2 * HOUR), "expired");
  });

  it("partition_not_allowed unless every partition the keypad acts on is the user's; Master passes any", () => {
    const p = new Panel();
    p.user(1, "9999");
    p.user(4, "1234", { partitions: [1, 2] });
    expect(p.check("1234", "arm", keypad([1])).granted).toBe(true);
    expect(p.check("1234", "arm", keypad([1, 2])).granted).toBe(true);
    expectReason(p.check("1234", "arm", keypad([2, 3])), "partition_not_allowed");
    expectReason(p.check("1234", "arm", keypad([3])), "partition_not_allowed");
    expectReason(p.check("1234", "arm", keypad([])), "partition_not_allowed");
    expect(p.check("9999", "arm", keypad([1, 2, 3, 8])).granted).toBe(true);
  });

  it("lock_not_assigned unless the door lock is the user's; Master opens any lock linked to the panel", () => {
    const p = new Panel();
    p.user(1, "9999");
    p.user(4, "1234", { doorLocks: ["front"] });
    expect(p.check("1234", "open", door("front")).granted).toBe(true);
    expectReason(p.check("1234", "open", door("back")), "lock_not_assigned");
    expect(p.check("9999", "open", door("back")).granted).toBe(true);
    expectReason(p.check("9999", "open", door("garage")), "lock_not_assigned");
  });

  it("role_not_permitted by the role table, and for actions that do not fit the point", () => {
    const q = new Panel("Qolsys IQ");
    q.user(5, "5555", { role: "Installer" });
    expectReason(q.check("5555", "arm"), "role_not_permitted");
    const p = new Panel();
    p.user(6, "6666", { role: "One-time User", doorLocks: ["front"] });
    expectReason(p.check("6666", "open", door("front")), "role_not_permitted");
    p.user(4, "1234", { doorLocks: ["front"] });
    expectReason(p.check("1234", "arm", door("front")), "role_not_permitted");
    expectReason(p.check("1234", "open", keypad()), "role_not_permitted");
  });

  it("one_time_used on a One-time User's second disarm of the local day", () => {
    const p = new Panel();
    p.user(6, "6666", { role: "One-time User" });
    const first = p.check("6666", "disarm");
    expect(first.oneTimeUse).toEqual({ slot: 6, localDay: "2026-11-25" });
    expectReason(p.check("6666", "disarm"), "one_time_used");
  });

  it("locked_out while the keypad is locked, even for a correct code", () => {
    const p = new Panel("DSC", { maxAttempts: 3 });
    p.user(4, "1234");
    for (let i = 0; i < 3; i++) p.check("0000");
    expectReason(p.check("1234"), "locked_out");
  });

  it("has covered every reason code", () => {
    expect([...seen].sort()).toEqual([...DENIAL_REASONS].sort());
  });
});

describe("one-time users", () => {
  it("arm any number of times, disarm once per local day, allowance back after local midnight", () => {
    const p = new Panel();
    p.user(6, "6666", { role: "One-time User" });
    for (let i = 0; i < 3; i++) {
      const arm = p.check("6666", "arm");
      expect(arm.granted).toBe(true);
      expect(arm.oneTimeUse).toBeUndefined();
    }
    const disarm = p.check("6666", "disarm");
    expect(disarm.granted).toBe(true);
    expect(disarm.oneTimeUse).toEqual({ slot: 6, localDay: "2026-11-25" });
    p.apply({ kind: "record_one_time_use", slot: 6, localDay: disarm.oneTimeUse!.localDay });
    expect(p.table.meta(oneTimeKey(6))).toBe("2026-11-25");

    // Berlin midnight is 23:00 UTC in November.
    const beforeMidnight = Date.UTC(2026, 10, 25, 22, 59, 59);
    const afterMidnight = Date.UTC(2026, 10, 25, 23, 0, 0);
    expect(reasonOf(p.check("6666", "disarm", keypad(), beforeMidnight))).toBe("one_time_used");
    expect(p.check("6666", "arm", keypad(), beforeMidnight).granted).toBe(true);
    const nextDay = p.check("6666", "disarm", keypad(), afterMidnight);
    expect(nextDay.granted).toBe(true);
    expect(nextDay.oneTimeUse).toEqual({ slot: 6, localDay: "2026-11-26" });
  });

  it("a second disarm racing the commit is refused; releasing a failed commit gives the allowance back", () => {
    const p = new Panel();
    p.user(6, "6666", { role: "One-time User" });
    const first = p.check("6666", "disarm");
    expect(reasonOf(p.check("6666", "disarm"))).toBe("one_time_used");
    p.index.releaseOneTimeUse(first.oneTimeUse!);
    expect(p.check("6666", "disarm").granted).toBe(true);
  });

  it("the rule exists only on panel types that have it", () => {
    const p = new Panel("Qolsys IQ");
    p.user(4, "1234", { role: "Guest" });
    expect(p.check("1234", "disarm").oneTimeUse).toBeUndefined();
    expect(p.check("1234", "disarm").granted).toBe(true);
  });
});

describe("duress", () => {
  it("grants with a silent duress event carrying slot and point; the keypad shows an ordinary grant", () => {
    const p = new Panel();
    p.user(8, "8888", { role: "Duress", label: "Front desk" });
    p.user(4, "1234", { label: "Front desk" });
    const point = keypad([1], "hall");
    const r = p.check("8888", "disarm", point);
    expect(r).toMatchObject({ granted: true, duress: true, slot: 8 });
    expect(r.events).toEqual([{ type: "duress", at: NOW, slot: 8, point }]);
    const ordinary = p.check("1234", "disarm", point);
    // The keypad gets the same answer as for an ordinary grant: nothing tells the two apart.
    expect(accessAnswer(r)).toEqual({ ...accessAnswer(ordinary), slot: 8 });
    expect(Object.keys(accessAnswer(r)).sort()).toEqual(["granted", "label", "slot"]);
  });
});

describe("proximity tags", () => {
  it("keypad tags work at keypads, doorlock tags at their door locks, and not the other way round", () => {
    const p = new Panel();
    p.user(4, "1234", { doorLocks: ["front"] });
    p.apply({ kind: "set_proximity_tags", slot: 4, tags: [{ kind: "keypad", tag: pin("KP-TAG-4") }, { kind: "doorlock", tag: pin("DOOR-TAG-4") }] });
    expect(p.tag("KP-TAG-4", keypad())).toMatchObject({ granted: true, slot: 4 });
    expect(p.tag("DOOR-TAG-4", door("front"))).toMatchObject({ granted: true, slot: 4 });
    expect(reasonOf(p.tag("DOOR-TAG-4", door("back")))).toBe("lock_not_assigned");
    expect(reasonOf(p.tag("KP-TAG-4", door("front")))).toBe("unknown_credential");
    expect(reasonOf(p.tag("DOOR-TAG-4", keypad()))).toBe("unknown_credential");
    // A tag is not a PIN.
    expect(reasonOf(p.check("KP-TAG-4"))).toBe("unknown_credential");
  });
});

describe("incremental updates", () => {
  it("follows set code, change code (old code unknown), label, role and disable (code unknown)", () => {
    const p = new Panel();
    expect(reasonOf(p.check("1234"))).toBe("unknown_credential");
    p.user(4, "1234");
    expect(p.check("1234").slot).toBe(4);
    p.apply({ kind: "set_code", slot: 4, code: pin("5678") });
    expect(reasonOf(p.check("1234"))).toBe("unknown_credential");
    expect(p.check("5678").slot).toBe(4);
    p.apply({ kind: "set_label", slot: 4, label: "Ben" });
    expect(p.check("5678").label).toBe("Ben");
    p.apply({ kind: "set_role", slot: 4, role: "Duress" });
    expect(p.check("5678").duress).toBe(true);
    p.apply({ kind: "disable_user", slot: 4 });
    expect(reasonOf(p.check("5678"))).toBe("unknown_credential");
    expect(p.index.size).toBe(0);
  });

  it("a snapshot moving a code from one slot to another leaves it on the new slot", () => {
    const p = new Panel();
    p.user(4, "1234");
    p.user(5, "5555");
    p.apply({ kind: "snapshot", users: [{ slot: 1, code: pin("9999") }, { slot: 5, code: pin("1234") }] });
    expect(p.check("1234").slot).toBe(5);
    expect(reasonOf(p.check("5555"))).toBe("unknown_credential");
  });

  it("an index kept in step by applyChanges answers exactly like one rebuilt from the table", () => {
    const codes = ["1111", "2222", "3333", "4444", "5555"];
    const op = fc.oneof(
      fc.record({ kind: fc.constant("set_code" as const), slot: fc.integer({ min: 2, max: 6 }), code: fc.constantFrom(...codes) }),
      fc.record({ kind: fc.constant("disable_user" as const), slot: fc.integer({ min: 2, max: 6 }) }),
      fc.record({ kind: fc.constant("set_label" as const), slot: fc.integer({ min: 2, max: 6 }), label: fc.constantFrom("Anna", "Ben", "Front desk") }),
      fc.record({ kind: fc.constant("set_role" as const), slot: fc.integer({ min: 2, max: 6 }), role: fc.constantFrom("User", "Supervisor", "One-time User", "Duress") }),
      fc.record({ kind: fc.constant("set_partitions" as const), slot: fc.integer({ min: 2, max: 6 }), partitions: fc.uniqueArray(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }) }),
      fc.record({ kind: fc.constant("set_schedule" as const), slot: fc.integer({ min: 2, max: 6 }), schedule: fc.constantFrom({ kind: "always" }, { kind: "temporary", from: NOW + HOUR, to: NOW + 2 * HOUR }, { kind: "weekly", windows: [{ days: [3], start: 600, end: 900 }] }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
        const p = new Panel();
        for (const o of ops) {
          try {
            p.apply(o.kind === "set_code" ? { ...o, code: pin(o.code) } : o);
          } catch {
            // Refused commands (code in use, no code set) change nothing.
          }
        }
        const rebuilt = new AccessIndex(p.table, { hash, lockoutPolicy: NO_LOCKOUT });
        for (const c of codes) {
          for (const action of ["arm", "disarm"] as const) {
            const req = { credential: { kind: "pin" as const, value: pin(c) }, point: keypad([1, 2]), action, at: NOW };
            const a = p.index.check(req);
            const b = rebuilt.check(req);
            expect([a.granted, a.reason, a.slot, a.role, a.label]).toEqual([b.granted, b.reason, b.slot, b.role, b.label]);
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe("what leaves the check", () => {
  it("answers the keypad a grant with its label, a denial with no more than its reason, a lock with its time", () => {
    const p = new Panel("DSC", { maxAttempts: 2, lockMs: 90_000 });
    p.user(4, "1234", { partitions: [1] });
    expect(accessAnswer(p.check("1234"))).toMatchObject({ granted: true, slot: 4 });
    const denials = [p.check("1234", "arm", keypad([2]))];
    const locking = p.check("0000");
    // The reason (and a known slot) go to the agent's log; the session shows neither.
    expect(accessAnswer(locking)).toEqual({ granted: false, lockedForMs: 90_000, reason: "unknown_credential" });
    expect(accessAnswer(denials[0]!)).toEqual({ granted: false, reason: "partition_not_allowed", slot: 4 });
  });

  it("never carries the plaintext in results, events, effects or records", () => {
    const p = new Panel("DSC", { maxAttempts: 2 });
    p.user(8, "8642", { role: "Duress" });
    const reqs = [
      { credential: { kind: "pin" as const, value: pin("8642") }, point: keypad(), action: "disarm" as const, at: NOW },
      { credential: { kind: "pin" as const, value: pin("7531") }, point: keypad(), action: "disarm" as const, at: NOW },
      { credential: { kind: "pin" as const, value: pin("7531") }, point: keypad(), action: "disarm" as const, at: NOW },
    ];
    for (const req of reqs) {
      const r = p.index.check(req);
      const text = JSON.stringify([r, accessRecord(req, r), accessAnswer(r)]);
      expect(text).not.toContain("8642");
      expect(text).not.toContain("7531");
    }
  });

  it("a plain grant shares the frozen empty events and effects arrays", () => {
    const p = new Panel();
    p.user(4, "1234");
    const a = p.check("1234");
    const b = p.check("1234");
    expect(a.events).toBe(b.events);
    expect(a.lockoutEffects).toBe(b.lockoutEffects);
    expect(Object.isFrozen(a.events) && Object.isFrozen(a.lockoutEffects)).toBe(true);
  });
});

describe("weekly schedule storage", () => {
  it("stays correct after many schedule changes force the interval pool to compact", () => {
    const p = new Panel();
    p.user(2, "2222");
    p.user(3, "3333");
    p.user(4, "4444");
    const wed = (start: number, end: number) => ({ kind: "weekly", windows: [0, 1, 2, 3, 4, 5, 6].map((d) => ({ days: [d], start: d === 3 ? start : 0, end: d === 3 ? end : 1 })) });
    // NOW is Wednesday 13:00 Berlin (minute 780).
    for (let i = 0; i < 400; i++) {
      const open = i % 2 === 0;
      p.apply({ kind: "set_schedule", slot: 2 + (i % 3), schedule: open ? wed(700, 900) : wed(900, 1000) });
    }
    const rebuilt = new AccessIndex(p.table, { hash, lockoutPolicy: NO_LOCKOUT });
    for (const code of ["2222", "3333", "4444"]) {
      const req = { credential: { kind: "pin" as const, value: pin(code) }, point: keypad(), action: "disarm" as const, at: NOW };
      expect(reasonOf(p.index.check(req))).toBe(reasonOf(rebuilt.check(req)));
    }
    // Last writes: i=399 (slot 2, closed), 398 (slot 4, open), 397 (slot 3, closed).
    expect(reasonOf(p.check("2222"))).toBe("outside_schedule");
    expect(reasonOf(p.check("4444"))).toBe("granted");
    expect(reasonOf(p.check("3333"))).toBe("outside_schedule");
  });
});

describe("index built from a table", () => {
  it("indexes stored slots and one-time meta at construction", () => {
    const slot: Slot = { number: 6, label: "Cleaner", role: "One-time User", codeDigest: hash("6666"), partitions: [1], schedule: { kind: "always" }, doorLocks: [], tags: [], account: null, version: 1, updatedAt: 0 };
    const table = new PanelTable({ panelId: "p", type: "DSC", codeLength: 4, timeZone: "Europe/Berlin", doorLocks: [] }, [slot], [[oneTimeKey(6), "2026-11-25"]]);
    const index = new AccessIndex(table, { hash, lockoutPolicy: NO_LOCKOUT });
    const check = (action: "arm" | "disarm") => index.check({ credential: { kind: "pin", value: pin("6666") }, point: keypad(), action, at: NOW });
    expect(check("arm").granted).toBe(true);
    expect(check("disarm").reason).toBe("one_time_used");
  });
});
