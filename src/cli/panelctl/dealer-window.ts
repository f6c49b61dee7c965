/** A dealer (Security Professional) access window, for people: until when, in UTC and in the panel's own time. */

export interface DealerWindowView {
  until: number;
  untilIso: string;
  /** The panel's local time of `until`, in its time zone. */
  untilLocal: string;
  timeZone: string;
  hours: 2 | 24;
  how: "direct" | "request";
  requestId?: string;
}

function localTime(ms: number, timeZone: string): string {
  try {
    const parts = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(new Date(ms));
    const get = (t: string) => parts.find((x) => x.type === t)?.value ?? "";
    return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")} ${timeZone}`;
  } catch {
    return new Date(ms).toISOString();
  }
}

/** A dealer window for people: until (ISO and panel-local), hours, how it was granted (24 h answers a request, 2 h is direct). */
export function windowView(d: { until: number; hours: 2 | 24; requestId?: string }, timeZone: string): DealerWindowView {
  const v: DealerWindowView = { until: d.until, untilIso: new Date(d.until).toISOString(), untilLocal: localTime(d.until, timeZone), timeZone, hours: d.hours, how: d.hours === 24 ? "request" : "direct" };
  if (d.requestId !== undefined) v.requestId = d.requestId;
  return v;
}

export function windowText(w: DealerWindowView): string {
  const how = w.how === "request" ? `answering ${w.requestId !== undefined ? `request ${w.requestId}` : "a dealer's request"}` : "granted directly by the Master";
  return `until ${w.untilIso} (${w.untilLocal}), ${w.hours} h, ${how}`;
}
