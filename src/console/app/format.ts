/** Formats as the documents print them. */
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

const two = (n: number) => String(n).padStart(2, "0");

/** `4:24:55 PM Wed 13 May, 2026` (the Users grid's Created column), in the browser's time zone; `-` when absent. */
export function formatCreated(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === "") return "-";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return "-";
  const h24 = d.getHours();
  const h12 = h24 % 12 === 0 ? 12 : h24 % 12;
  return `${h12}:${two(d.getMinutes())}:${two(d.getSeconds())} ${h24 < 12 ? "AM" : "PM"} ${DAYS[d.getDay()]} ${d.getDate()} ${MONTHS[d.getMonth()]}, ${d.getFullYear()}`;
}

/** `1-15 of 1000`, from the page when the API did not send `range`. */
export function rangeText(page: { range?: string; page: number; perPage: number; total: number }, shown: number): string {
  if (page.range) return page.range;
  if (page.total === 0 || shown === 0) return `0 of ${page.total}`;
  const first = (page.page - 1) * page.perPage + 1;
  return `${first}-${first + shown - 1} of ${page.total}`;
}

/** Time left as `1 h 59 min 58 s`. */
export function formatRemaining(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const seconds = s % 60;
  return hours > 0 ? `${hours} h ${minutes} min ${seconds} s` : `${minutes} min ${seconds} s`;
}

export const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/** minutes of the day <-> "HH:MM" (an <input type=time> value); 1440 is "24:00", shown as the end of the day. */
export function minutesToTime(m: number): string {
  if (m >= 1440) return "23:59";
  return `${two(Math.floor(m / 60))}:${two(m % 60)}`;
}
export function timeToMinutes(v: string, isEnd = false): number | null {
  const m = /^(\d{2}):(\d{2})$/.exec(v);
  if (!m) return null;
  const total = Number(m[1]) * 60 + Number(m[2]);
  // An end of 23:59 means "until midnight": the schedule's windows end at 1440.
  return isEnd && total === 1439 ? 1440 : total;
}

/** ms <-> an <input type=datetime-local> value, in the browser's time zone. */
export function msToLocalInput(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}
export function localInputToMs(v: string): number | null {
  if (!v) return null;
  const t = new Date(v).getTime();
  return Number.isNaN(t) ? null : t;
}
