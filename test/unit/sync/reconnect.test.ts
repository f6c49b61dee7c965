import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF, ReconnectBackoff, type OutageNotice } from "../../../src/sync/reconnect.js";

describe("reconnect backoff", () => {
  it("doubles from 1 s to a 60 s cap, with jitter inside [min/2, ceiling]", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 0.999999, noNaN: true }), { minLength: 1, maxLength: 40 }), (randoms) => {
        const b = new ReconnectBackoff();
        randoms.forEach((r, i) => {
          const ceiling = Math.min(60_000, 1_000 * 2 ** i);
          const d = b.nextDelay(r);
          expect(d).toBeGreaterThanOrEqual(500);
          expect(d).toBeLessThanOrEqual(ceiling);
        });
      }),
    );
    const top = new ReconnectBackoff();
    const delays = Array.from({ length: 10 }, () => top.nextDelay(0.999999));
    expect(delays.slice(0, 4)).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(delays.at(-1)).toBe(60_000);
  });

  it("logs an outage when it starts, reminds every 5 minutes, and says when it ends; then starts over at 1 s", () => {
    const b = new ReconnectBackoff();
    const notices: OutageNotice[] = [];
    for (let t = 0; t <= 11 * 60_000; t += 1_000) {
      b.nextDelay(0.5);
      const n = b.failed(t, "ECONNREFUSED");
      if (n) notices.push(n);
    }
    expect(notices.map((n) => n.kind)).toEqual(["down", "still_down", "still_down"]);
    expect(notices[1]).toMatchObject({ forMs: DEFAULT_BACKOFF.remindEveryMs, error: "ECONNREFUSED" });
    expect(b.connected(11 * 60_000 + 500)).toMatchObject({ kind: "up", downForMs: 11 * 60_000 + 500 });
    expect(b.connected(12 * 60_000)).toBeUndefined();
    expect(b.nextDelay(0.999999)).toBe(1_000);
  });
});
