/**
 * Panels are remote: a Save only queues commands. This follows each command's fate as the API
 * reports it (pending, applied, rejected with the panel's sentence, superseded by a resync) and
 * never shows a success it has not seen.
 */
import { ApiError, enc, get, sentence } from "./api.js";
import { h } from "./dom.js";

export interface CommandFate {
  id: string;
  panelId: string;
  kind: string;
  seq: number;
  status: "pending" | "applied" | "rejected" | "superseded";
  code?: string;
  sentence?: string;
}

const POLL_MS = 400;
const PATIENCE_MS = 120_000;

/** Where the fates of one Save are shown: role=status, data-fate = pending | applied | rejected | mixed | none | error. */
export function fateBox(): { root: HTMLDivElement; follow(commandIds: string[], what: string): Promise<CommandFate[]>; fail(e: unknown): void; note(text: string): void } {
  const root = h("div", { class: "fate", role: "status", "aria-live": "polite" });
  let generation = 0;
  return {
    root,
    fail(e) {
      root.dataset.seq = String(++generation);
      showFailure(root, e);
    },
    note(text) {
      root.dataset.seq = String(++generation);
      root.dataset.fate = "none";
      root.replaceChildren(h("p", { class: "fate-line" }, text));
    },
    async follow(commandIds, what) {
      const mine = ++generation;
      // data-seq tells a reader (a person's screen reader re-reads the box; a test waits on it) that this is a new Save's fate
      root.dataset.seq = String(mine);
      root.dataset.fate = "pending";
      if (commandIds.length === 0) {
        root.dataset.fate = "none";
        root.replaceChildren(h("p", { class: "fate-line" }, `${what}: nothing to send to the panels (no change).`));
        return [];
      }
      const started = Date.now();
      let fates: CommandFate[] = [];
      for (;;) {
        try {
          fates = await Promise.all(commandIds.map((id) => get<CommandFate>(`/commands/${enc(id)}`)));
        } catch (e) {
          if (mine === generation) showFailure(root, e);
          if (e instanceof ApiError && e.status === 401) return fates;
          await new Promise((r) => setTimeout(r, POLL_MS * 3));
          if (mine !== generation || !root.isConnected) return fates;
          continue;
        }
        if (mine !== generation) return fates;
        paint(root, fates, what, Date.now() - started > PATIENCE_MS);
        if (fates.every((f) => f.status !== "pending")) return fates;
        if (!root.isConnected) return fates;
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    },
  };
}

function showFailure(root: HTMLElement, e: unknown): void {
  root.dataset.fate = "error";
  root.replaceChildren(h("p", { class: "fate-line rejected" }, sentence(e)));
}

function paint(root: HTMLElement, fates: CommandFate[], what: string, slow: boolean): void {
  const pending = fates.filter((f) => f.status === "pending");
  const rejected = fates.filter((f) => f.status === "rejected");
  const superseded = fates.filter((f) => f.status === "superseded");
  const panels = [...new Set(fates.map((f) => f.panelId))];
  let headline: string;
  if (pending.length > 0) {
    root.dataset.fate = "pending";
    headline = `${what}: pending, ${fates.length - pending.length} of ${fates.length} answered by ${panels.length === 1 ? `panel ${panels[0]}` : `${panels.length} panels`}.`;
    if (slow) headline += " The panel has not answered yet; it applies the change when it is back online.";
  } else if (rejected.length > 0) {
    root.dataset.fate = rejected.length === fates.length ? "rejected" : "mixed";
    headline = `${what}: rejected by ${[...new Set(rejected.map((f) => f.panelId))].join(", ")}.`;
  } else if (superseded.length > 0) {
    root.dataset.fate = "superseded";
    headline = `${what}: replaced by a full resync of ${[...new Set(superseded.map((f) => f.panelId))].join(", ")}; the panel now holds the desired table.`;
  } else {
    root.dataset.fate = "applied";
    headline = `${what}: applied by ${panels.length === 1 ? `panel ${panels[0]}` : `panels ${panels.join(", ")}`}.`;
  }
  root.replaceChildren(h("p", { class: `fate-line ${root.dataset.fate}` }, headline));
  if (rejected.length > 0) root.append(h("ul", { class: "fate-errors" }, rejected.map((f) => h("li", null, `${f.panelId}: ${f.sentence ?? f.code ?? "refused"}`))));
}
