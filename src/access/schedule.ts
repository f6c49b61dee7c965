import type { Schedule } from "../domain/model.js";

/**
 * Schedules, compiled once per change and read on every check without parsing or allocating.
 *
 * Semantics (the contract the property tests hold this file to):
 * - `always`: every instant is inside.
 * - `temporary {from, to}`: inside when `from <= at < to` (epoch ms). Before `from` the verdict is
 *   `not_yet_valid`, at or after `to` it is `expired`. No time zone is involved.
 * - `weekly {windows}`: windows are in the panel's local wall-clock time (its IANA zone). Let
 *   (D, M) be the local weekday (0 = Sunday .. 6) and the local minute of the day (0..1439) of the
 *   instant, seconds dropped. The instant is inside when some window lists D and
 *     - `start < end` (same-day window): start <= M < end, or
 *     - `end <= start` (crosses midnight): M >= start (the evening part);
 *   or when some window with `end <= start` lists the previous weekday (D + 6) % 7 and M < end
 *   (the tail after midnight of a window that started the previous local day).
 *   `end == 1440` ends at midnight without crossing; `start == end` is a full 24 h from `start`.
 *   Otherwise the verdict is `outside_schedule`.
 *
 * Consequences across DST, which follow from "local wall clock" and are intended:
 * - Spring forward (New York 02:00 -> 03:00, Berlin 02:00 -> 03:00): the skipped local minutes
 *   never occur, so a window lying wholly inside the skipped hour grants nobody that day, and a
 *   window 01:30-02:30 closes at 03:00 local (01:59 is followed by 03:00, already outside).
 * - Fall back (New York 02:00 -> 01:00, Berlin 03:00 -> 02:00): the repeated local minutes occur
 *   twice, so a window inside the repeated hour is open during both passes.
 * - Midnight is the local midnight: a window 22:00-06:00 on Friday covers Friday 22:00 to
 *   Saturday 06:00 local, whatever the UTC offsets on either side.
 *
 * A compiled weekly schedule is a sorted list of disjoint half-open intervals of "minute of the
 * week" (weekday * 1440 + minute of day, 0..10079); a check is a binary search over at most 64
 * numbers. The local weekday/minute come from a LocalClock, which runs Intl at most once per UTC
 * minute.
 */

export type ScheduleVerdict = null | "outside_schedule" | "not_yet_valid" | "expired";

const MINUTES_PER_DAY = 1440;
export const MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY;
const MS_PER_MINUTE = 60_000;

const KIND_ALWAYS = 0;
const KIND_WEEKLY = 1;
const KIND_TEMPORARY = 2;

/** A schedule in the form checks read. Immutable; build with compileSchedule. */
export class CompiledSchedule {
  constructor(
    readonly kind: 0 | 1 | 2,
    /** Temporary: first valid instant (inclusive), epoch ms. */
    readonly from: number,
    /** Temporary: first invalid instant (exclusive end), epoch ms. */
    readonly to: number,
    /** Weekly: [start0, end0, start1, end1, ...] minutes of the week, sorted, disjoint, half-open. */
    readonly intervals: Int32Array,
  ) {}

  static readonly ALWAYS = new CompiledSchedule(KIND_ALWAYS, 0, 0, new Int32Array(0));

  get needsClock(): boolean {
    return this.kind === KIND_WEEKLY;
  }
}

function clampMinute(m: number): number {
  if (!Number.isFinite(m)) return 0;
  return Math.min(MINUTES_PER_DAY, Math.max(0, Math.trunc(m)));
}

export function compileSchedule(schedule: Schedule): CompiledSchedule {
  if (schedule.kind === "always") return CompiledSchedule.ALWAYS;
  if (schedule.kind === "temporary") return new CompiledSchedule(KIND_TEMPORARY, schedule.from, schedule.to, new Int32Array(0));

  const raw: [number, number][] = [];
  for (const w of schedule.windows) {
    const start = clampMinute(w.start);
    const end = clampMinute(w.end);
    if (start >= MINUTES_PER_DAY) continue; // starts at midnight of the next day: not a window of this day
    for (const day of new Set(w.days)) {
      if (!Number.isInteger(day) || day < 0 || day > 6) continue;
      const base = day * MINUTES_PER_DAY;
      if (start < end) {
        raw.push([base + start, base + end]);
      } else {
        raw.push([base + start, base + MINUTES_PER_DAY]);
        if (end > 0) {
          const next = ((day + 1) % 7) * MINUTES_PER_DAY;
          raw.push([next, next + end]);
        }
      }
    }
  }
  raw.sort((a, b) => a[0] - b[0]);
  const merged: number[] = [];
  for (const [s, e] of raw) {
    const n = merged.length;
    if (n > 0 && s <= merged[n - 1]!) merged[n - 1] = Math.max(merged[n - 1]!, e);
    else merged.push(s, e);
  }
  return new CompiledSchedule(KIND_WEEKLY, 0, 0, Int32Array.from(merged));
}

/** True when the minute of the week lies in one of the intervals. No allocation. */
export function weekMinuteInside(intervals: Int32Array, weekMinute: number): boolean {
  // Find the last interval whose start <= weekMinute.
  let lo = 0;
  let hi = (intervals.length >> 1) - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (intervals[mid << 1]! <= weekMinute) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found >= 0 && weekMinute < intervals[(found << 1) + 1]!;
}

/**
 * weekMinuteInside over intervals stored in a pool: pool[offset] is the number of intervals, then
 * start/end pairs. Lets an index keep every weekly schedule in one compact array.
 */
export function weekMinuteInsidePool(pool: Int32Array, offset: number, weekMinute: number): boolean {
  let lo = 0;
  let hi = pool[offset]! - 1;
  const base = offset + 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (pool[base + (mid << 1)]! <= weekMinute) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found >= 0 && weekMinute < pool[base + (found << 1) + 1]!;
}

/** The verdict of a compiled schedule at an instant, read in the clock's zone. */
export function scheduleVerdict(schedule: CompiledSchedule, at: number, clock: LocalClock): ScheduleVerdict {
  switch (schedule.kind) {
    case KIND_ALWAYS:
      return null;
    case KIND_TEMPORARY:
      if (at < schedule.from) return "not_yet_valid";
      if (at >= schedule.to) return "expired";
      return null;
    default:
      return weekMinuteInside(schedule.intervals, clock.weekMinute(at)) ? null : "outside_schedule";
  }
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`);

/**
 * The panel's local wall clock in one IANA zone: weekday, minute of the day and local day
 * ("YYYY-MM-DD") of an instant. Intl formatting costs microseconds, so the result is cached per
 * UTC minute: offsets of today's zones are whole minutes, so every instant of one UTC minute has
 * the same local minute (historic offsets with seconds, before ~1900, are not supported).
 * Reads within the cached minute compare one number and allocate nothing.
 */
export class LocalClock {
  readonly timeZone: string;
  readonly #format: Intl.DateTimeFormat;
  #utcMinute = Number.NaN;
  #weekday = 0;
  #minuteOfDay = 0;
  #localDay = "";

  constructor(timeZone: string) {
    // Throws RangeError for an unknown zone: a configuration error, found at start.
    this.#format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
    });
    this.timeZone = this.#format.resolvedOptions().timeZone;
  }

  /** Local weekday, 0 = Sunday .. 6 = Saturday. */
  weekday(at: number): number {
    this.#refresh(at);
    return this.#weekday;
  }

  /** Local minutes since local midnight, 0..1439. */
  minuteOfDay(at: number): number {
    this.#refresh(at);
    return this.#minuteOfDay;
  }

  /** weekday * 1440 + minute of the day. */
  weekMinute(at: number): number {
    this.#refresh(at);
    return this.#weekday * MINUTES_PER_DAY + this.#minuteOfDay;
  }

  /** The local calendar day, "YYYY-MM-DD". */
  localDay(at: number): string {
    this.#refresh(at);
    return this.#localDay;
  }

  #refresh(at: number): void {
    const utcMinute = Math.floor(at / MS_PER_MINUTE);
    if (utcMinute === this.#utcMinute) return;
    let year = 0;
    let month = 0;
    let day = 0;
    let hour = 0;
    let minute = 0;
    // Format the start of the UTC minute: seconds are dropped on both sides anyway.
    for (const part of this.#format.formatToParts(utcMinute * MS_PER_MINUTE)) {
      switch (part.type) {
        case "year":
          year = Number(part.value);
          break;
        case "month":
          month = Number(part.value);
          break;
        case "day":
          day = Number(part.value);
          break;
        case "hour":
          hour = Number(part.value);
          break;
        case "minute":
          minute = Number(part.value);
          break;
        default:
          break;
      }
    }
    const days = daysFromCivil(year, month, day);
    // 1970-01-01 was a Thursday (4).
    this.#weekday = (((days + 4) % 7) + 7) % 7;
    this.#minuteOfDay = (hour % 24) * 60 + minute;
    this.#localDay = `${String(year).padStart(4, "0")}-${pad2(month)}-${pad2(day)}`;
    this.#utcMinute = utcMinute;
  }
}
