import { afterAll, describe, expect, it } from "vitest";
import { runCrash } from "./crash.js";
import { killStrays } from "./harness.js";

afterAll(killStrays);

describe("crash suite (short)", () => {
  it("loses nothing acked, applies nothing twice and keeps the database, index, outbox and secrets intact across ~20 SIGKILLs", async () => {
    const f = await runCrash({ kills: 20, maxMs: 90_000 });
    const summary = { ...f, details: f.details.slice(0, 20) };
    expect(f.kills, JSON.stringify(summary)).toBeGreaterThanOrEqual(10);
    expect(f.acked).toBeGreaterThan(0);
    expect(f.lost, JSON.stringify(summary)).toBe(0);
    expect(f.unapplied, JSON.stringify(summary)).toBe(0);
    expect(f.duplicated, JSON.stringify(summary)).toBe(0);
    expect(f.integrity_failures, JSON.stringify(summary)).toBe(0);
    expect(f.table_mismatches, JSON.stringify(summary)).toBe(0);
    expect(f.index_mismatches, JSON.stringify(summary)).toBe(0);
    expect(f.crashes, JSON.stringify(summary)).toBe(0);
    expect(f.events_lost, JSON.stringify(summary)).toBe(0);
    expect(f.events_out_of_order, JSON.stringify(summary)).toBe(0);
    expect(f.secret_hits, JSON.stringify(summary)).toBe(0);
  }, 170_000);
});
