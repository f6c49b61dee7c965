/** What the screens of one panel share: its details, and the hub's header and tabs. */
import { enc, get } from "./api.js";
import { h } from "./dom.js";
import { can } from "./session.js";

export interface PanelDetails {
  id: string;
  type: string;
  codeLength: number;
  timeZone: string;
  partitions: number;
  capacity: number;
  features?: { doorLocks?: string[]; tags?: string[]; maxTags?: number; roles?: string[] };
  reported?: { online: boolean | null; lastSeq?: number; stateAt: string | null; lastAckAt: string | null };
  converged?: boolean;
  drift?: string | null;
}

export function loadPanel(id: string): Promise<PanelDetails> {
  return get<PanelDetails>(`/panels/${enc(id)}`);
}

export function panelHubHeader(panel: PanelDetails, tab: "users" | "dealer"): HTMLElement {
  const base = `/panels/${enc(panel.id)}`;
  const tabLink = (key: "users" | "dealer", href: string, text: string) => h("a", { href, class: "tab", "aria-current": key === tab ? "page" : null }, text);
  return h(
    "div",
    { class: "hub" },
    h(
      "p",
      { class: "crumbs" },
      h("a", { href: "/" }, "Equipment"),
      " / ",
      h("span", { class: "panel-id" }, panel.id),
      " · ",
      panel.type,
      panel.reported ? h("span", { class: `badge ${panel.reported.online ? "ok" : "muted"}` }, panel.reported.online ? "Online" : "Offline") : null,
    ),
    h(
      "nav",
      { class: "tabs", "aria-label": "Panel" },
      tabLink("users", `${base}/users`, "Users"),
      tabLink("dealer", `${base}/dealer`, "Security Professional access"),
      can("view_action_log") ? h("a", { href: `/action-log?panelId=${enc(panel.id)}`, class: "tab" }, "Action log") : null,
    ),
  );
}
