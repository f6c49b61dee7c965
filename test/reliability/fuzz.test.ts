import { afterAll, describe, expect, it } from "vitest";
import { runFuzz } from "./fuzz.js";
import { killStrays } from "./harness.js";

afterAll(killStrays);

describe("input faults (short fuzz)", () => {
  it("survives hostile payloads through the broker (128 MB heap) and in-process, and keeps applying good commands", async () => {
    const f = await runFuzz({ brokerCases: 400, engineCases: 4000 });
    const summary = JSON.stringify({ ...f, details: f.details.slice(0, 10) });
    expect(f.good_commands_applied, summary).toBeGreaterThan(0);
    expect(f.crashes, summary).toBe(0);
    expect(f.uncoded, summary).toBe(0);
    expect(f.secret_hits, summary).toBe(0);
  }, 150_000);
});
