import { describe, expect, it } from "vitest";
import type { LockoutPolicy } from "../../../src/access/index.js";
import { keypad, NOW, Panel, prng } from "./fixtures.js";

/**
 * An attacker walks every 4-digit code, 0000..9999, at one DSC keypad holding 50 real users. One
 * attempt takes a second; when refused as locked out, the attacker tries one more code and one
 * real user's code during the lock (both must be refused), then waits the lock out and goes on.
 */
function bruteForce(policy: Partial<LockoutPolicy>) {
  const p = new Panel("DSC", policy);
  const random = prng(4242);
  const owners = new Map<string, number>();
  while (owners.size < 50) {
    const code = String(Math.floor(random() * 10_000)).padStart(4, "0");
    if (!owners.has(code)) owners.set(code, owners.size + 1);
  }
  for (const [code, slot] of owners) p.user(slot, code);
  const realCodes = [...owners.keys()];

  const point = keypad([1, 2, 3, 4, 5, 6, 7, 8], "kp-hall");
  let at = NOW;
  let attempts = 0;
  let failures = 0;
  let failuresBeforeFirstLock: number | null = null;
  let lockTimeMs = 0;
  let locks = 0;
  let refusedDuringLock = 0;
  const granted = new Map<string, number>();
  const falseAccepts: string[] = [];

  for (let n = 0; n < 10_000; n++) {
    const code = String(n).padStart(4, "0");
    for (;;) {
      attempts++;
      at += 1_000;
      const r = p.check(code, "disarm", point, at);
      if (r.granted) {
        if (owners.get(code) !== r.slot) falseAccepts.push(code);
        granted.set(code, r.slot!);
        break;
      }
      if (r.reason === "locked_out") {
        // Still locked: a real code must be refused too. Then wait until the lock ends.
        const real = realCodes[Math.floor(random() * realCodes.length)]!;
        const duringLock = p.check(real, "disarm", point, at);
        attempts++;
        if (duringLock.granted) falseAccepts.push("during lock");
        else if (duringLock.reason === "locked_out") refusedDuringLock++;
        at += r.lockedForMs!;
        continue; // retry the same code once free
      }
      failures++;
      if (r.lockedForMs !== undefined) {
        locks++;
        lockTimeMs += r.lockedForMs;
        failuresBeforeFirstLock ??= failures;
        // The next attempt comes a second later, inside the lock.
        const next = p.check(String((n + 1) % 10_000).padStart(4, "0"), "disarm", point, at + 1_000);
        attempts++;
        if (next.granted) falseAccepts.push("during lock");
        else if (next.reason === "locked_out") refusedDuringLock++;
      }
      break;
    }
  }
  return { owners, granted, falseAccepts, attempts, failures, failuresBeforeFirstLock, locks, lockTimeMs, refusedDuringLock, elapsedMs: at - NOW };
}

describe("brute force at one keypad: all 10,000 four-digit codes against 50 users", () => {
  for (const mode of [{ name: "default policy (10 attempts, 90 s, panel 30)", policy: {} as Partial<LockoutPolicy> }, { name: "strict policy (+90 s per further failure)", policy: { strict: true } as Partial<LockoutPolicy> }]) {
    it(`grants only the 50 real codes, to their own slots, and locks after 10 failures — ${mode.name}`, () => {
      const out = bruteForce(mode.policy);
      console.log(
        `brute force, ${mode.name}: failures before first lock ${out.failuresBeforeFirstLock}, locks ${out.locks}, ` +
          `attempts ${out.attempts} (${out.refusedDuringLock} refused during a lock), total lock time ${(out.lockTimeMs / 3_600_000).toFixed(1)} h, ` +
          `time to walk every code ${(out.elapsedMs / 86_400_000).toFixed(1)} days, grants ${out.granted.size}, false accepts ${out.falseAccepts.length}`,
      );
      expect(out.falseAccepts).toEqual([]);
      expect(out.granted).toEqual(out.owners);
      expect(out.failures).toBe(10_000 - 50);
      expect(out.failuresBeforeFirstLock).toBe(10);
      expect(out.refusedDuringLock).toBeGreaterThanOrEqual(out.locks);
      expect(out.lockTimeMs).toBeGreaterThanOrEqual(out.locks * 90_000);
      // Locks held the attacker: the walk took at least the whole lock time.
      expect(out.elapsedMs).toBeGreaterThanOrEqual(out.lockTimeMs);
      if (!mode.policy.strict) {
        // One lock per 10 failures, less at most one per grant (a grant clears a partial count).
        expect(out.locks).toBeLessThanOrEqual(995);
        expect(out.locks).toBeGreaterThanOrEqual(995 - 50);
        expect(out.lockTimeMs).toBe(out.locks * 90_000);
      }
    });
  }
});
