/**
 * The Time tile's Access Period screen (000_*.txt step 7): At All Times; Restricted Schedule (days
 * of the week and time frames); Temporary Access (starting at, ending at). Save applies it to
 * every panel the person is on.
 */
import { enc, put, sentence } from "../api.js";
import { field, h, uid } from "../dom.js";
import { formatCreated, localInputToMs, minutesToTime, msToLocalInput, timeToMinutes, WEEKDAYS } from "../format.js";
import { openModal } from "../modal.js";

export interface WeeklyWindow {
  days: number[];
  start: number;
  end: number;
}
export type AccessPeriod = { kind: "always" } | { kind: "weekly"; windows: WeeklyWindow[] } | { kind: "temporary"; from: number; to: number };

export function accessPeriodText(p: AccessPeriod): string {
  if (p.kind === "always") return "At All Times";
  if (p.kind === "temporary") return `Temporary Access: ${formatCreated(p.from)} to ${formatCreated(p.to)}`;
  return `Restricted Schedule: ${p.windows.map((w) => `${w.days.map((d) => WEEKDAYS[d]!.slice(0, 3)).join(" ")} ${minutesToTime(w.start)}-${w.end >= 1440 ? "24:00" : minutesToTime(w.end)}`).join("; ")}`;
}

export function openAccessPeriod(person: { id: string; accessPeriod?: AccessPeriod | null }, saved: (p: AccessPeriod, commands: string[]) => void): void {
  const current = person.accessPeriod ?? { kind: "always" as const };
  const group = uid("access-type");
  const radio = (kind: AccessPeriod["kind"], text: string, description: string) => {
    const input = h("input", { type: "radio", name: group, value: kind, checked: current.kind === kind, id: `${group}-${kind}` });
    return { input, el: h("label", { class: "radio-tile", for: input.id }, input, h("span", { class: "radio-title" }, text), h("span", { class: "muted" }, description)) };
  };
  const always = radio("always", "At All Times", "Access with no restrictions");
  const weekly = radio("weekly", "Restricted Schedule", "Access with days and times");
  const temporary = radio("temporary", "Temporary Access", "Access for a limited time");

  // WEEKLY SCHEDULE: one or more time frames, each with its days.
  const frames = h("div", { class: "frames" });
  const frameRows: { days: HTMLInputElement[]; start: HTMLInputElement; end: HTMLInputElement; root: HTMLElement }[] = [];
  const addFrame = (w: WeeklyWindow) => {
    const n = frameRows.length + 1;
    const days = WEEKDAYS.map((d, i) => h("input", { type: "checkbox", value: i, checked: w.days.includes(i), id: uid("day"), "aria-label": `${d}, time frame ${n}` }));
    const start = h("input", { type: "time", value: minutesToTime(w.start), required: true });
    const end = h("input", { type: "time", value: w.end >= 1440 ? "23:59" : minutesToTime(w.end), required: true });
    const root = h(
      "fieldset",
      { class: "frame" },
      h("legend", null, `Time frame ${n}`),
      h("div", { class: "days" }, days.map((input, i) => h("label", { class: "day", for: input.id }, input, WEEKDAYS[i]!.slice(0, 3)))),
      h("div", { class: "times" }, field("From", start), field("To", end)),
    );
    frameRows.push({ days, start, end, root });
    frames.append(root);
  };
  const windows = current.kind === "weekly" ? current.windows : [{ days: [1, 2, 3, 4, 5], start: 8 * 60, end: 18 * 60 }];
  for (const w of windows) addFrame(w);
  const addButton = h("button", { type: "button", class: "button subtle" }, "Add time frame");
  addButton.addEventListener("click", () => addFrame({ days: [], start: 9 * 60, end: 17 * 60 }));
  const weeklySection = h("fieldset", { class: "schedule weekly" }, h("legend", null, "WEEKLY SCHEDULE"), frames, addButton);

  const now = Date.now();
  const from = h("input", { type: "datetime-local", value: msToLocalInput(current.kind === "temporary" ? current.from : now) });
  const to = h("input", { type: "datetime-local", value: msToLocalInput(current.kind === "temporary" ? current.to : now + 7 * 86_400_000) });
  const temporarySection = h("fieldset", { class: "schedule temporary" }, h("legend", null, "TEMPORARY SCHEDULE"), field("Starting at", from), field("Ending at", to));

  const error = h("p", { class: "error", role: "alert" });
  const save = h("button", { type: "submit", class: "button primary" }, "Save");
  const cancel = h("button", { type: "button", class: "button" }, "Cancel");
  const form = h(
    "form",
    { class: "access-period", novalidate: true },
    h("fieldset", { class: "access-types" }, h("legend", null, "ACCESS TYPE"), always.el, weekly.el, temporary.el),
    weeklySection,
    temporarySection,
    error,
    h("div", { class: "actions" }, cancel, save),
  );
  const sync = () => {
    weeklySection.hidden = !weekly.input.checked;
    temporarySection.hidden = !temporary.input.checked;
  };
  for (const r of [always, weekly, temporary]) r.input.addEventListener("change", sync);
  sync();

  const modal = openModal({ title: "Access Period", content: form });
  cancel.addEventListener("click", () => modal.close());
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    let period: AccessPeriod;
    if (weekly.input.checked) {
      const ws: WeeklyWindow[] = [];
      for (const [i, f] of frameRows.entries()) {
        const days = f.days.filter((d) => d.checked).map((d) => Number(d.value));
        const start = timeToMinutes(f.start.value);
        const end = timeToMinutes(f.end.value, true);
        if (days.length === 0 && start === null) continue;
        if (days.length === 0) return void (error.textContent = `Select at least one day for time frame ${i + 1}.`);
        if (start === null || end === null || end <= start) return void (error.textContent = `Time frame ${i + 1} must end after it starts.`);
        ws.push({ days, start, end });
      }
      if (ws.length === 0) return void (error.textContent = "Add at least one time frame with its days.");
      period = { kind: "weekly", windows: ws };
    } else if (temporary.input.checked) {
      const a = localInputToMs(from.value);
      const b = localInputToMs(to.value);
      if (a === null || b === null) return void (error.textContent = "Set the Starting at and Ending at day and time.");
      if (b <= a) return void (error.textContent = "Ending at must be after Starting at.");
      period = { kind: "temporary", from: a, to: b };
    } else period = { kind: "always" };
    save.disabled = true;
    put<{ commands: string[] }>(`/people/${enc(person.id)}/access-period`, period)
      .then((out) => {
        modal.close();
        saved(period, out.commands);
      })
      .catch((e) => {
        save.disabled = false;
        error.textContent = sentence(e);
      });
  });
}
