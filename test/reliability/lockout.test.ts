import { afterAll, describe, expect, it } from "vitest";
import { killStrays } from "./harness.js";
import { runLockout } from "./lockout.js";

afterAll(killStrays);

describe("brute force and lockout across kill -9", () => {
  it("keeps the keypad lock, its counter and the panel-wide counter through restarts", async () => {
    const f = await runLockout();
    expect(f.details).toEqual([]);
    expect(f.counter_survived_restart).toBe(1);
    expect(f.lock_survived_restart).toBe(1);
    expect(f.panel_lock_survived_restart).toBe(1);
    expect(f.crashes).toBe(0);
    expect(f.secret_hits).toBe(0);
  }, 90_000);
});
