import { afterAll, describe, expect, it } from "vitest";
import { runBrokerRestart, runModel, runOverflow } from "./delivery.js";
import { killStrays } from "./harness.js";

afterAll(killStrays);

describe("delivery faults", () => {
  it("a 10,000-command stream with ~30 % re-published duplicates ends in the digest of a clean delivery", async () => {
    const m = await runModel({ commands: 10_000, runs: 1 });
    expect(m.details).toEqual([]);
    expect(m.equal).toBe(1);
    expect(m.duplicates / m.commands).toBeGreaterThan(0.25);
  }, 170_000);

  it("applies every command once when mosquitto restarts mid-burst (agent online, then offline with a queued session)", async () => {
    const b = await runBrokerRestart();
    expect(b.details).toEqual([]);
    expect(b.lost).toBe(0);
    expect(b.duplicated).toBe(0);
    expect(b.integrity).toBe(0);
    expect(b.crashes).toBe(0);
    expect(b.secretHits).toBe(0);
  }, 120_000);

  it("detects the gap after the broker dropped queued commands, asks for a resync and converges on the snapshot", async () => {
    const c = await runOverflow();
    expect(c.details).toEqual([]);
    expect(c.dropped).toBeGreaterThan(0);
    expect(c.resyncRequests).toBeGreaterThanOrEqual(1);
    expect(c.converged).toBe(true);
    expect(c.integrity).toBe(0);
    expect(c.crashes).toBe(0);
    expect(c.secretHits).toBe(0);
  }, 120_000);
});
