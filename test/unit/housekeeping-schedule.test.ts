import { Writable } from "node:stream";
import { schedule, validate } from "node-cron";
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { cronLogger, minuteSchedule } from "../../src/housekeeping.js";

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

describe("node-cron's messages", () => {
  it("go to the agent's log as JSON, not to stderr: a tick missed while the event loop was blocked", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "info" }, new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) }));
    const stderr = vi.spyOn(process.stderr, "write");
    const warn = vi.spyOn(console, "warn");
    const task = schedule("* * * * * *", () => {}, { name: "blocked", logger: cronLogger(logger) });
    let printed: string[] = [];
    try {
      await new Promise((r) => setTimeout(r, 1100));
      const until = Date.now() + 2500;
      while (Date.now() < until) {
        /* the event loop is blocked: the ticks due meanwhile are missed */
      }
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      await task.destroy();
      // read before the restore, which clears the calls
      printed = [...stderr.mock.calls, ...warn.mock.calls].map((c) => String(c[0]));
      stderr.mockRestore();
      warn.mockRestore();
    }
    const missed = lines.map((l) => JSON.parse(l) as { level: number; component: string; msg: string }).filter((l) => /missed execution/.test(l.msg));
    expect(missed.length).toBeGreaterThan(0);
    expect(missed[0]).toMatchObject({ level: 30, component: "cron" });
    expect(printed.filter((t) => /missed execution/.test(t))).toEqual([]);
  }, 15_000);
});
