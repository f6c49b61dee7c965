import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileSchedule, LocalClock, scheduleVerdict, type ScheduleVerdict } from "../../../src/access/index.js";
import type { Schedule, WeeklyWindow } from "../../../src/domain/index.js";

/**
 * The reference model: deliberately naive. Formats every instant with Intl and reads the windows
 * as the design states them, with no compilation, no caching and no week arithmetic.
 */
const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
function naiveLocal(at: number, timeZone: string): { weekday: number; minute: number; day: string } {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone, weekday: "short", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(at);
  const get = (type: string) => parts.find((p) => p.type === type)!.value;
  return { weekday: WEEKDAYS.indexOf(get("weekday")), minute: Number(get("hour")) * 60 + Number(get("minute")), day: `${get("year")}-${get("month")}-${get("day")}` };
}
function naiveVerdict(schedule: Schedule, at: number, timeZone: string): ScheduleVerdict {
  if (schedule.kind === "always") return null;
  if (schedule.kind === "temporary") return at < schedule.from ? "not_yet_valid" : at >= schedule.to ? "expired" : null;
  const { weekday, minute } = naiveLocal(at, timeZone);
  const yesterday = (weekday + 6) % 7;
  for (const w of schedule.windows) {
    if (w.start < w.end) {
      if (w.days.includes(weekday) && minute >= w.start && minute < w.end) return null;
    } else {
      if (w.days.includes(weekday) && minute >= w.start) return null;
      if (w.days.includes(yesterday) && minute < w.end) return null;
    }
  }
  return "outside_schedule";
}

const ZONES = ["America/New_York", "Europe/Berlin", "UTC", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe", "America/St_Johns", "Pacific/Chatham"];
/** DST switches (UTC): New York 2025/2026 spring and fall, Berlin 2025/2026 spring and fall. */
const TRANSITIONS: { zone: string; at: number }[] = [
  { zone: "America/New_York", at: Date.UTC(2025, 2, 9, 7) },
  { zone: "America/New_York", at: Date.UTC(2025, 10, 2, 6) },
  { zone: "America/New_York", at: Date.UTC(2026, 2, 8, 7) },
  { zone: "America/New_York", at: Date.UTC(2026, 10, 1, 6) },
  { zone: "Europe/Berlin", at: Date.UTC(2025, 2, 30, 1) },
  { zone: "Europe/Berlin", at: Date.UTC(2025, 9, 26, 1) },
  { zone: "Europe/Berlin", at: Date.UTC(2026, 2, 29, 1) },
  { zone: "Europe/Berlin", at: Date.UTC(2026, 9, 25, 1) },
];
const HOUR = 3_600_000;

/** Minutes biased towards the hours DST moves (01:00-04:00) and towards midnight. */
const minuteArb = fc.oneof(fc.integer({ min: 0, max: 1439 }), fc.integer({ min: 55, max: 245 }), fc.integer({ min: 1380, max: 1439 }), fc.integer({ min: 0, max: 60 }));
const windowArb: fc.Arbitrary<WeeklyWindow> = fc
  .record({ days: fc.uniqueArray(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 7 }), start: minuteArb, end: fc.oneof(minuteArb, fc.constant(1440)) })
  .map((w) => ({ ...w, end: Math.max(1, w.end) }));
const weeklyArb: fc.Arbitrary<Schedule> = fc.array(windowArb, { minLength: 1, maxLength: 5 }).map((windows) => ({ kind: "weekly" as const, windows }));

/** A case: a zone and an instant, often within hours of one of that zone's DST switches. */
const caseArb = fc.oneof(
  fc.record({ zone: fc.constantFrom(...ZONES), at: fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2030, 0, 1) }) }),
  fc.record({ t: fc.constantFrom(...TRANSITIONS), offset: fc.integer({ min: -30 * HOUR, max: 30 * HOUR }) }).map(({ t, offset }) => ({ zone: t.zone, at: t.at + offset })),
);
const temporaryArb: fc.Arbitrary<Schedule> = fc
  .tuple(fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2030, 0, 1) }), fc.integer({ min: 1, max: 90 * 24 * HOUR }))
  .map(([from, length]) => ({ kind: "temporary" as const, from, to: from + length }));

/** One clock per zone for the whole run: the per-minute cache is exercised across cases. */
const clocks = new Map<string, LocalClock>();
const clockFor = (zone: string) => clocks.get(zone) ?? clocks.set(zone, new LocalClock(zone)).get(zone)!;

describe("compiled schedules against the naive reference", () => {
  it("weekly windows: no false accepts and no false rejects, across zones, DST days and midnight", () => {
    fc.assert(
      fc.property(weeklyArb, caseArb, fc.integer({ min: 0, max: 59_999 }), (schedule, { zone, at }, jitter) => {
        const compiled = compileSchedule(schedule);
        const clock = clockFor(zone);
        expect(scheduleVerdict(compiled, at, clock)).toBe(naiveVerdict(schedule, at, zone));
        // A second instant in the same UTC minute is answered from the cache.
        const sameMinute = Math.floor(at / 60_000) * 60_000 + jitter;
        expect(scheduleVerdict(compiled, sameMinute, clock)).toBe(naiveVerdict(schedule, sameMinute, zone));
      }),
      { numRuns: 400 },
    );
  });

  it("temporary and always schedules, at and around their edges", () => {
    const scheduleArb = fc.oneof(temporaryArb, fc.constant<Schedule>({ kind: "always" }));
    fc.assert(
      fc.property(scheduleArb, caseArb, fc.integer({ min: -2, max: 2 }), (schedule, { zone, at }, edge) => {
        const instants = schedule.kind === "temporary" ? [at, schedule.from + edge, schedule.to + edge] : [at];
        for (const t of instants) expect(scheduleVerdict(compileSchedule(schedule), t, clockFor(zone))).toBe(naiveVerdict(schedule, t, zone));
      }),
      { numRuns: 200 },
    );
  });

  it("the local clock gives the reference weekday, minute and local day", () => {
    fc.assert(
      fc.property(caseArb, ({ zone, at }) => {
        const clock = clockFor(zone);
        const ref = naiveLocal(at, zone);
        expect([clock.weekday(at), clock.minuteOfDay(at), clock.localDay(at)]).toEqual([ref.weekday, ref.minute, ref.day]);
      }),
      { numRuns: 300 },
    );
  });

  it("a clock read minute after minute through a DST switch (and its cache) agrees with the reference at every step", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...TRANSITIONS),
        fc.integer({ min: -3 * HOUR, max: 0 }),
        fc.array(fc.integer({ min: 1_000, max: 7 * 60_000 }), { minLength: 20, maxLength: 80 }),
        (t, startOffset, steps) => {
          const clock = new LocalClock(t.zone);
          let at = t.at + startOffset;
          for (const step of steps) {
            at += step;
            const ref = naiveLocal(at, t.zone);
            expect([clock.weekMinute(at), clock.localDay(at)]).toEqual([ref.weekday * 1440 + ref.minute, ref.day]);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("weekly windows at DST switches and midnight (examples)", () => {
  const weekly = (days: number[], start: number, end: number): Schedule => ({ kind: "weekly", windows: [{ days, start, end }] });
  const inside = (s: Schedule, at: number, zone: string) => scheduleVerdict(compileSchedule(s), at, new LocalClock(zone)) === null;
  const h = (hh: number, mm = 0) => hh * 60 + mm;

  it("New York spring forward (Sun 2026-03-08): a window in the skipped hour never opens; one across it closes at 03:00", () => {
    const ny = "America/New_York";
    const skipped = weekly([0], h(2), h(3));
    for (let t = Date.UTC(2026, 2, 8, 5); t < Date.UTC(2026, 2, 8, 9); t += 60_000) expect(inside(skipped, t, ny)).toBe(false);
    const across = weekly([0], h(1, 30), h(2, 30));
    expect(inside(across, Date.UTC(2026, 2, 8, 6, 29), ny)).toBe(false); // 01:29 EST
    expect(inside(across, Date.UTC(2026, 2, 8, 6, 30), ny)).toBe(true); // 01:30 EST
    expect(inside(across, Date.UTC(2026, 2, 8, 6, 59, 59), ny)).toBe(true); // 01:59:59 EST
    expect(inside(across, Date.UTC(2026, 2, 8, 7, 0), ny)).toBe(false); // 03:00 EDT
  });

  it("New York fall back (Sun 2026-11-01): a window in the repeated hour is open during both passes", () => {
    const ny = "America/New_York";
    const repeated = weekly([0], h(1), h(2));
    expect(inside(repeated, Date.UTC(2026, 10, 1, 4, 59), ny)).toBe(false); // 00:59 EDT
    expect(inside(repeated, Date.UTC(2026, 10, 1, 5, 0), ny)).toBe(true); // 01:00 EDT
    expect(inside(repeated, Date.UTC(2026, 10, 1, 5, 59), ny)).toBe(true); // 01:59 EDT
    expect(inside(repeated, Date.UTC(2026, 10, 1, 6, 0), ny)).toBe(true); // 01:00 EST
    expect(inside(repeated, Date.UTC(2026, 10, 1, 6, 59), ny)).toBe(true); // 01:59 EST
    expect(inside(repeated, Date.UTC(2026, 10, 1, 7, 0), ny)).toBe(false); // 02:00 EST
  });

  it("Berlin spring forward (Sun 2026-03-29) and fall back (Sun 2026-10-25)", () => {
    const berlin = "Europe/Berlin";
    expect(inside(weekly([0], h(2), h(2, 30)), Date.UTC(2026, 2, 29, 0, 59), berlin)).toBe(false); // 01:59 CET
    expect(inside(weekly([0], h(2), h(2, 30)), Date.UTC(2026, 2, 29, 1, 0), berlin)).toBe(false); // 03:00 CEST
    const repeated = weekly([0], h(2), h(3));
    expect(inside(repeated, Date.UTC(2026, 9, 25, 0, 0), berlin)).toBe(true); // 02:00 CEST
    expect(inside(repeated, Date.UTC(2026, 9, 25, 1, 30), berlin)).toBe(true); // 02:30 CET
    expect(inside(repeated, Date.UTC(2026, 9, 25, 2, 0), berlin)).toBe(false); // 03:00 CET
  });

  it("a window crossing midnight belongs to the day it starts, including Saturday into Sunday", () => {
    const utc = "UTC";
    const friNight = weekly([5], h(22), h(6));
    expect(inside(friNight, Date.UTC(2026, 10, 27, 21, 59), utc)).toBe(false); // Fri 21:59
    expect(inside(friNight, Date.UTC(2026, 10, 27, 22, 0), utc)).toBe(true); // Fri 22:00
    expect(inside(friNight, Date.UTC(2026, 10, 28, 5, 59), utc)).toBe(true); // Sat 05:59
    expect(inside(friNight, Date.UTC(2026, 10, 28, 6, 0), utc)).toBe(false); // Sat 06:00
    expect(inside(friNight, Date.UTC(2026, 10, 28, 22, 30), utc)).toBe(false); // Sat 22:30: Saturday is not listed
    const satNight = weekly([6], h(23), h(1));
    expect(inside(satNight, Date.UTC(2026, 10, 29, 0, 30), utc)).toBe(true); // Sun 00:30
    expect(inside(satNight, Date.UTC(2026, 10, 30, 0, 30), utc)).toBe(false); // Mon 00:30
  });

  it("end 1440 closes at midnight; start == end is a full 24 h", () => {
    const utc = "UTC";
    expect(inside(weekly([3], h(20), 1440), Date.UTC(2026, 10, 25, 23, 59), utc)).toBe(true); // Wed 23:59
    expect(inside(weekly([3], h(20), 1440), Date.UTC(2026, 10, 26, 0, 0), utc)).toBe(false); // Thu 00:00
    const fullDay = weekly([3], h(8), h(8));
    expect(inside(fullDay, Date.UTC(2026, 10, 26, 7, 59), utc)).toBe(true); // Thu 07:59
    expect(inside(fullDay, Date.UTC(2026, 10, 26, 8, 0), utc)).toBe(false); // Thu 08:00
  });

  it("an unknown time zone is refused when the clock is made", () => {
    expect(() => new LocalClock("Mars/Olympus_Mons")).toThrow(RangeError);
  });
});
