/**
 * The Users tab of a panel (001_*.txt): the header "Equipment users" with the users count and
 * Assign account; the grid over every panel user number; the navigation bar. A row opens the
 * details panel from the right.
 */
import { enc, del, get, post, qs } from "../api.js";
import { h, icon, replaceChildren } from "../dom.js";
import { fateBox } from "../fate.js";
import { formatCreated } from "../format.js";
import { dotsMenu, type MenuItem } from "../menu.js";
import { confirmDialog } from "../modal.js";
import { pageFrom, pager, pageSizeFrom, type Page } from "../pager.js";
import { panelHubHeader, type PanelDetails } from "../panel.js";
import { navigate, type ScreenContext } from "../router.js";
import { can } from "../session.js";
import { openAssignAccount } from "./assign.js";
import { openUserDetails } from "./details.js";

export interface AccountRef {
  id: string;
  email: string;
  status: "Not confirmed" | "Active" | "Suspended";
}

export interface UserRow {
  slot: number;
  personId: string | null;
  label: string | null;
  role: string;
  codeSet: boolean;
  partitions: number[];
  account: AccountRef | null;
  createdAt: string | null;
  status: "Not confirmed" | "Active" | "Suspended" | "Unknown";
  enabled: boolean;
  pending: boolean;
}

export const displayLabel = (r: Pick<UserRow, "slot" | "label">) => r.label || `User ${r.slot}`;
export const isMaster = (r: Pick<UserRow, "role">) => r.role === "Master";

/** A Master's partitions are all of the panel's (when the panel's details are in; until then what the API listed). */
export function partitionsText(r: UserRow, panel: Pick<PanelDetails, "partitions"> | null): string {
  if (!r.codeSet) return "-";
  const parts = isMaster(r) && panel ? Array.from({ length: panel.partitions }, (_, i) => i + 1) : r.partitions;
  return parts.length > 0 ? parts.join(", ") : "-";
}

/** Disable panel user and Unassign account, as the grid's three-dot menu and the details panel offer them. */
export function rowActions(panel: Pick<PanelDetails, "id">, r: UserRow, after: (commands: string[], what: string) => void, fail: (e: unknown) => void): MenuItem[] {
  if (!r.codeSet) return [];
  const items: MenuItem[] = [];
  if (can("manage_panel_users") && !isMaster(r)) {
    items.push({
      label: "Disable panel user",
      danger: true,
      run: () =>
        void (async () => {
          const ok = await confirmDialog({
            title: `Disable ${displayLabel(r)}?`,
            message: [
              h("p", null, "Disabling a panel user removes the user code. After disabling, the user no longer exists on the panel."),
              h("p", null, "Code and label are linked: the label is also affected."),
            ],
            confirm: "Disable panel user",
            danger: true,
          });
          if (!ok) return;
          try {
            const out = await post<{ commands: string[] }>(`/panels/${enc(panel.id)}/users/${r.slot}/disable`);
            after(out.commands, `Disable ${displayLabel(r)}`);
          } catch (e) {
            fail(e);
          }
        })(),
    });
  }
  if (r.account && can("manage_accounts")) {
    const account = r.account;
    items.push({
      label: "Unassign account",
      run: () =>
        void (async () => {
          const ok = await confirmDialog({
            title: "Unassign account?",
            message: h("p", null, `${account.email} is unassigned from ${displayLabel(r)}. The customer account is not deleted.`),
            confirm: "Unassign account",
          });
          if (!ok) return;
          try {
            const out = await del<{ commands: string[] }>(`/panels/${enc(panel.id)}/users/${r.slot}/account`);
            after(out.commands, `Unassign ${account.email}`);
          } catch (e) {
            fail(e);
          }
        })(),
    });
  }
  return items;
}

/** The API path of the page of users a Users tab URL shows (also prefetched at start-up). */
export function usersPagePath(panelId: string, query: URLSearchParams): string {
  return `/panels/${enc(panelId)}/users${qs({ page: pageFrom(query), perPage: pageSizeFrom(query), include: "panel" })}`;
}

export async function usersScreen(ctx: ScreenContext): Promise<void> {
  const panelId = ctx.params.id!;
  const here = (p: number, n: number) => `/panels/${enc(panelId)}/users${qs({ page: p === 1 ? undefined : p, perPage: n === 15 ? undefined : n })}`;
  // One request for the first paint: the grid's page comes with the panel's settings and
  // features (hub header, a Master's partitions, what the details panel needs).
  const list = await get<Page<UserRow> & { panel: PanelDetails }>(usersPagePath(panelId, ctx.query));
  if (ctx.signal.aborted) return;
  const panel: PanelDetails = list.panel;
  const panelLoad = Promise.resolve(panel);
  const hub = h("div", { class: "hub-slot" });

  const fate = fateBox();
  const count = h("span", { class: "users-count" });
  const gridHost = h("div", { class: "grid-wrap" });
  let current: Page<UserRow> = list;
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  ctx.signal.addEventListener("abort", () => clearTimeout(refreshTimer));

  const refresh = async () => {
    try {
      current = await get<Page<UserRow>>(`/panels/${enc(panelId)}/users${qs({ page: current.page, perPage: current.perPage })}`);
      if (!ctx.signal.aborted) paintGrid();
    } catch (e) {
      fate.fail(e);
    }
  };
  const followed = (commands: string[], what: string) => {
    void refresh();
    void fate.follow(commands, what).then(() => refresh());
  };

  const assignButton = can("manage_accounts")
    ? h("button", { type: "button", class: "button primary", onClick: () => void panelLoad.then((p) => openAssignAccount(p, null, followed), (e) => fate.fail(e)) }, "Assign account")
    : null;

  function paintGrid(): void {
    count.textContent = `${current.total} users`;
    const rows = current.rows.map((r) => {
      const tr = h(
        "tr",
        { class: "user-row", tabindex: "0", "data-slot": r.slot, "aria-label": `Panel user ${r.slot}: ${r.codeSet ? displayLabel(r) : "no code"}`, "data-pending": r.pending ? "true" : null },
        h("td", { class: "num" }, String(r.slot)),
        h("td", null, h("div", { class: "label" }, displayLabel(r)), h("div", { class: "role" }, r.codeSet ? r.role : "-")),
        h(
          "td",
          { class: "code" },
          r.codeSet
            ? h("span", { class: "code-set", role: "img", "aria-label": "Code set", title: "Code set: the user exists on the panel" }, icon("check"))
            : h("span", { class: "code-unset", role: "img", "aria-label": "No code", title: "Code not set: the user does not exist on the panel" }, icon("minus")),
        ),
        h("td", null, partitionsText(r, panel)),
        h("td", null, r.account?.email ?? "-"),
        h("td", null, r.account ? formatCreated(r.createdAt) : "-"),
        h("td", null, h("span", { class: `status status-${r.status.replace(/\s+/g, "-").toLowerCase()}` }, r.status), r.pending ? h("span", { class: "badge warn pending" }, "Pending") : null),
        h("td", { class: "row-menu" }, dotsMenu(`Actions for panel user ${r.slot}`, rowActions({ id: panelId }, r, followed, (e) => fate.fail(e)))),
      );
      const open = () => void panelLoad.then((p) => openUserDetails(p, r.slot, followed), (e) => fate.fail(e));
      tr.addEventListener("click", (ev) => {
        if ((ev.target as Element).closest(".row-menu")) return;
        open();
      });
      tr.addEventListener("keydown", (ev) => {
        if ((ev.key === "Enter" || ev.key === " ") && ev.target === tr) {
          ev.preventDefault();
          open();
        }
      });
      return tr;
    });
    replaceChildren(
      gridHost,
      h(
        "table",
        { class: "grid users-grid", "aria-label": "Panel users" },
        h("thead", null, h("tr", null, ["№", "Label & role", "Code", "Partitions", "Account", "Created", "Status"].map((c) => h("th", { scope: "col" }, c)), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
        h("tbody", null, rows),
      ),
      pager(current, "users", (p, n) => navigate(here(p, n))),
    );
    clearTimeout(refreshTimer);
    if (current.rows.some((r) => r.pending)) refreshTimer = setTimeout(() => void refresh(), 1500);
  }

  replaceChildren(
    ctx.main,
    h(
      "section",
      { class: "page" },
      hub,
      h("header", { class: "page-header" }, h("div", { class: "title-group" }, h("h1", null, "Equipment users"), count), assignButton),
      fate.root,
      gridHost,
    ),
  );
  hub.replaceChildren(panelHubHeader(panel, "users"));
  paintGrid();
  markPainted();
}

/** For console_users_first_paint_ms: the grid is in the DOM; the next frame is its first paint. */
function markPainted(): void {
  performance.mark("users-grid-rendered");
  requestAnimationFrame(() => setTimeout(() => performance.mark("users-grid-painted"), 0));
}

