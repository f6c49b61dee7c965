import { describe, expect, it } from "vitest";
import { AccessIndex, Lockout, snapshotFromEffects, type AccessResult, type LockoutEffect, type LockoutSnapshot } from "../../../src/access/index.js";
import { hash, keypad, door, NOW, Panel, pin } from "./fixtures.js";

const reasonOf = (r: AccessResult) => (r.granted ? "granted" : r.reason);

describe("lockout machine", () => {
  it("locks a keypad on the configured failure count, for the configured time", () => {
    const l = new Lockout({ maxAttempts: 5, lockMs: 60_000, panelMaxAttempts: 100 });
    for (let i = 1; i <= 4; i++) {
      const out = l.recordFailure("keypad", "kp1", NOW + i);
      expect(out.lockedForMs).toBe(0);
      expect(out.effects[0]).toEqual({ kind: "lockout_state", scope: "keypad", id: "kp1", failures: i, lockedUntil: 0 });
    }
    const locking = l.recordFailure("keypad", "kp1", NOW + 5);
    expect(locking.lockedForMs).toBe(60_000);
    expect(locking.events).toEqual([{ type: "lockout", at: NOW + 5, scope: "keypad", id: "kp1", failures: 5, lockedForMs: 60_000 }]);
    expect(l.lockedForMs("keypad", "kp1", NOW + 5 + 59_999)).toBe(1);
    expect(l.lockedForMs("keypad", "kp1", NOW + 5 + 60_000)).toBe(0);
    expect(l.lockedForMs("keypad", "kp2", NOW + 6)).toBe(0);
    expect(l.lockedForMs("door", "kp1", NOW + 6)).toBe(0);
  });

  it("normal mode: after a lock a full set of attempts is allowed again", () => {
    const l = new Lockout({ maxAttempts: 3, lockMs: 1_000, panelMaxAttempts: 100 });
    let at = NOW;
    for (let i = 0; i < 3; i++) l.recordFailure("keypad", "kp1", ++at);
    at += 1_000;
    expect(l.recordFailure("keypad", "kp1", ++at).lockedForMs).toBe(0);
    expect(l.recordFailure("keypad", "kp1", ++at).lockedForMs).toBe(0);
    expect(l.recordFailure("keypad", "kp1", ++at).lockedForMs).toBe(1_000);
  });

  it("strict mode: every failure after a lock re-locks, 90 s longer each time", () => {
    const l = new Lockout({ maxAttempts: 3, lockMs: 90_000, strict: true, panelMaxAttempts: 100 });
    l.recordFailure("keypad", "kp1", NOW);
    l.recordFailure("keypad", "kp1", NOW + 1);
    let at = NOW + 2;
    expect(l.recordFailure("keypad", "kp1", at).lockedForMs).toBe(90_000);
    at += 90_000;
    expect(l.recordFailure("keypad", "kp1", at).lockedForMs).toBe(180_000);
    at += 180_000;
    expect(l.recordFailure("keypad", "kp1", at).lockedForMs).toBe(270_000);
  });

  it("panel-wide: failures spread over keypads and doors lock every point", () => {
    const l = new Lockout({ maxAttempts: 10, panelMaxAttempts: 12, panelLockMs: 120_000 });
    for (let i = 0; i < 6; i++) l.recordFailure("keypad", "a", NOW + i);
    for (let i = 0; i < 5; i++) l.recordFailure("keypad", "b", NOW + 10 + i);
    expect(l.lockedForMs("keypad", "c", NOW + 20)).toBe(0);
    const out = l.recordFailure("door", "front", NOW + 20);
    expect(out.lockedForMs).toBe(120_000);
    expect(out.events.map((e) => e.scope)).toEqual(["panel"]);
    expect(l.lockedForMs("keypad", "c", NOW + 21)).toBe(119_999);
    expect(l.lockedForMs("door", "back", NOW + 20 + 120_000)).toBe(0);
  });

  it("a success after the lock ends clears the point and panel counters", () => {
    const l = new Lockout({ maxAttempts: 3, lockMs: 1_000, strict: true });
    for (let i = 0; i < 3; i++) l.recordFailure("keypad", "kp1", NOW);
    const effects = l.recordSuccess("keypad", "kp1", NOW + 1_000);
    expect(effects).toEqual([
      { kind: "lockout_state", scope: "keypad", id: "kp1", failures: 0, lockedUntil: 0 },
      { kind: "lockout_state", scope: "panel", id: "", failures: 0, lockedUntil: 0 },
    ]);
    // Strict escalation starts over: two failures do not lock.
    l.recordFailure("keypad", "kp1", NOW + 2_000);
    expect(l.recordFailure("keypad", "kp1", NOW + 2_001).lockedForMs).toBe(0);
    expect(l.snapshot().keypads.kp1).toEqual({ failures: 2, lockedUntil: 0 });
  });

  it("snapshot and the persisted effects both restore counters and running locks", () => {
    const l = new Lockout({ maxAttempts: 4, lockMs: 90_000 });
    const persisted: LockoutEffect[] = [];
    for (let i = 0; i < 4; i++) persisted.push(...l.recordFailure("keypad", "kp1", NOW).effects);
    for (let i = 0; i < 2; i++) persisted.push(...l.recordFailure("door", "front", NOW).effects);
    const snap = JSON.parse(JSON.stringify(l.snapshot())) as LockoutSnapshot;
    expect(snapshotFromEffects(persisted)).toEqual(snap);
    const restored = new Lockout({ maxAttempts: 4, lockMs: 90_000 }, snap);
    expect(restored.lockedForMs("keypad", "kp1", NOW + 30_000)).toBe(60_000);
    restored.recordFailure("door", "front", NOW + 100_000);
    expect(restored.recordFailure("door", "front", NOW + 100_001).lockedForMs).toBe(90_000);
  });

  it("refuses a policy that could never be enforced", () => {
    expect(() => new Lockout({ maxAttempts: 0 })).toThrow(RangeError);
    expect(() => new Lockout({ lockMs: Number.NaN })).toThrow(RangeError);
  });
});

describe("lockout through the access check", () => {
  it("a correct code is refused while locked, without counting; granted once the lock ends", () => {
    const p = new Panel("DSC", { maxAttempts: 3, lockMs: 90_000, panelMaxAttempts: 100 });
    p.user(4, "1234");
    for (let i = 0; i < 2; i++) expect(p.check("0000").lockedForMs).toBeUndefined();
    const third = p.check("0000");
    expect(third).toMatchObject({ granted: false, reason: "unknown_credential", lockedForMs: 90_000 });
    expect(third.events.map((e) => e.type)).toEqual(["lockout"]);
    const during = p.check("1234", "disarm", keypad(), NOW + 89_999);
    expect(during).toMatchObject({ granted: false, reason: "locked_out", lockedForMs: 1 });
    expect(during.lockoutEffects).toEqual([]);
    // Another keypad is not locked.
    expect(p.check("1234", "disarm", keypad([1], "kp2"), NOW + 1).granted).toBe(true);
    const after = p.check("1234", "disarm", keypad(), NOW + 90_000);
    expect(after.granted).toBe(true);
    expect(after.lockoutEffects).toContainEqual({ kind: "lockout_state", scope: "keypad", id: "kp1", failures: 0, lockedUntil: 0 });
  });

  it("every refusal of a presented credential counts, not only unknown codes", () => {
    const p = new Panel("DSC", { maxAttempts: 3, panelMaxAttempts: 100 });
    p.user(4, "1234", { partitions: [1] });
    p.check("0000");
    p.check("1234", "disarm", keypad([2]));
    expect(p.check("1234", "disarm", keypad([3])).lockedForMs).toBe(90_000);
  });

  it("door locks have their own counters", () => {
    const p = new Panel("DSC", { maxAttempts: 2, panelMaxAttempts: 100 });
    p.user(4, "1234", { doorLocks: ["front"] });
    p.check("0000", "open", door("front"));
    p.check("0000", "open", door("front"));
    expect(reasonOf(p.check("1234", "open", door("front")))).toBe("locked_out");
    expect(reasonOf(p.check("1234", "disarm"))).toBe("granted");
  });

  it("survives a restart: a new index built with the snapshot keeps the lock and the count", () => {
    const p = new Panel("DSC", { maxAttempts: 3, panelMaxAttempts: 100 });
    p.user(4, "1234");
    for (let i = 0; i < 3; i++) p.check("0000");
    p.check("0000", "disarm", keypad([1], "kp2"));
    const state = JSON.parse(JSON.stringify(p.index.lockout.snapshot())) as LockoutSnapshot;
    const restarted = new AccessIndex(p.table, { hash, lockoutPolicy: { maxAttempts: 3, panelMaxAttempts: 100 }, lockoutState: state });
    const check = (code: string, id: string, at: number) => restarted.check({ credential: { kind: "pin", value: pin(code) }, point: keypad([1], id), action: "disarm", at });
    expect(reasonOf(check("1234", "kp1", NOW + 1_000))).toBe("locked_out");
    check("0000", "kp2", NOW + 1_000);
    expect(check("0000", "kp2", NOW + 1_001).lockedForMs).toBe(90_000);
  });
});
