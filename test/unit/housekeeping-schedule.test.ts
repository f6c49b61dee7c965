import { validate } from "node-cron";
import { describe, expect, it } from "vitest";
import { minuteSchedule } from "../../src/housekeeping.js";

describe("the minute job's schedule", () => {
  it("runs every minute at a second taken from the panel id, the same on every start", () => {
    const s = minuteSchedule("panel-0001");
    expect(validate(s)).toBe(true);
    expect(s).toMatch(/^([0-9]|[1-5][0-9]) \* \* \* \* \*$/);
    expect(minuteSchedule("panel-0001")).toBe(s);
  });

  it("spreads the agents of a host over the minute instead of all at :00", () => {
    const perSecond = new Array<number>(60).fill(0);
    for (let i = 0; i < 1200; i++) perSecond[Number(minuteSchedule(`fleet-${String(i).padStart(4, "0")}`).split(" ")[0])]!++;
    // 20 per second on average; no second holds more than a few times that, and every one is used
    expect(Math.max(...perSecond)).toBeLessThanOrEqual(45);
    expect(Math.min(...perSecond)).toBeGreaterThan(0);
  });
});
