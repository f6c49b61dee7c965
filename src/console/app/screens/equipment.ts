/** Equipment: the fleet's panels, searchable by id/IMEI; a row opens the panel's Users tab. */
import { enc, qs } from "../api.js";
import { h, replaceChildren } from "../dom.js";
import { formatCreated } from "../format.js";
import { pageFrom, pager, pageSizeFrom } from "../pager.js";
import { navigate, type ScreenContext } from "../router.js";
import { searchList } from "../search-list.js";

export interface PanelSummary {
  id: string;
  type: string;
  online: boolean;
  usersCount: number;
  lastReportAt: string | null;
  converged: boolean;
  drift: string | null;
}

export async function equipmentScreen(ctx: ScreenContext): Promise<void> {
  const q = ctx.query.get("q") ?? "";
  const page = pageFrom(ctx.query);
  const perPage = pageSizeFrom(ctx.query);
  const loaded = await searchList<PanelSummary>(ctx, {
    title: "Equipment",
    searchId: "panel-search",
    searchLabel: "Search panels",
    placeholder: "IMEI or panel id",
    addressFor: (typed) => `/${qs({ q: typed, perPage: perPage === 15 ? undefined : perPage })}`,
    apiPath: `/panels${qs({ q, page, perPage })}`,
  });
  if (!loaded) return;
  const { body, list } = loaded;
  const rows = list.rows.map((p) =>
    h(
      "tr",
      { "data-panel": p.id },
      h("td", null, h("a", { href: `/panels/${enc(p.id)}/users` }, p.id)),
      h("td", null, p.type),
      h("td", null, h("span", { class: `badge ${p.online ? "ok" : "muted"}` }, p.online ? "Online" : "Offline")),
      h("td", { class: "num" }, String(p.usersCount)),
      h("td", null, formatCreated(p.lastReportAt)),
      h("td", null, p.converged ? h("span", { class: "badge ok" }, "Converged") : h("span", { class: "badge warn" }, p.drift ? `Drifting: ${p.drift}` : "Drifting")),
    ),
  );
  replaceChildren(
    body,
    h(
      "table",
      { class: "grid", "aria-label": "Panels" },
      h("thead", null, h("tr", null, ["Panel (IMEI)", "Type", "Connection", "Users", "Last report", "State"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", null, rows.length > 0 ? rows : h("tr", null, h("td", { colspan: 6, class: "empty" }, q ? `No panel matches "${q}".` : "No panels yet."))),
    ),
    pager(list, "panels", (p, n) => navigate(`/${qs({ q, page: p === 1 ? undefined : p, perPage: n === 15 ? undefined : n })}`)),
  );
}
