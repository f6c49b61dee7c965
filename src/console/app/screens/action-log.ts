/** The action log: who changed what, each panel's acks, and refusals; newest first, by panel and user. */
import { get, qs, sentence } from "../api.js";
import { field, h, replaceChildren } from "../dom.js";
import { formatCreated } from "../format.js";
import { pageFrom, pager, pageSizeFrom, type Page } from "../pager.js";
import { navigate, type ScreenContext } from "../router.js";

interface ActionEntry {
  at: string;
  actor: { kind: string; id: string; name?: string };
  panelId: string | null;
  slot: number | null;
  personId: string | null;
  action: string;
  outcome: "requested" | "applied" | "rejected" | "refused";
  code?: string;
  sentence?: string;
}

export async function actionLogScreen(ctx: ScreenContext): Promise<void> {
  const panelId = ctx.query.get("panelId") ?? "";
  const personId = ctx.query.get("personId") ?? "";
  const page = pageFrom(ctx.query);
  const perPage = pageSizeFrom(ctx.query);
  const here = (o: { panelId: string; personId: string; page?: number; perPage?: number }) =>
    `/action-log${qs({ panelId: o.panelId, personId: o.personId, page: o.page && o.page > 1 ? o.page : undefined, perPage: o.perPage && o.perPage !== 15 ? o.perPage : undefined })}`;
  const panelInput = h("input", { type: "text", value: panelId, autocomplete: "off", list: "action-log-panels" });
  const panelList = h("datalist", { id: "action-log-panels" });
  const personInput = h("input", { type: "text", value: personId, autocomplete: "off" });
  const personName = h("p", { class: "hint", "aria-live": "polite" });
  const filters = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter the action log" },
    field("Panel", panelInput),
    panelList,
    h("div", null, field("User (person id)", personInput), personName),
    h("button", { type: "submit", class: "button" }, "Filter"),
  );
  // The panels to pick from, and whose log this is when a user is chosen (both only helpers: the filter works without them).
  void get<Page<{ id: string }>>(`/panels${qs({ perPage: 200 })}`).then((p) => panelList.replaceChildren(...p.rows.map((r) => h("option", { value: r.id }))), () => undefined);
  if (personId) void get<{ firstName: string; lastName: string }>(`/people/${encodeURIComponent(personId)}`).then((p) => (personName.textContent = `${p.firstName} ${p.lastName}`), () => undefined);
  filters.addEventListener("submit", (ev) => {
    ev.preventDefault();
    navigate(here({ panelId: panelInput.value.trim(), personId: personInput.value.trim(), perPage }));
  });
  const body = h("div", { class: "grid-wrap" });
  replaceChildren(ctx.main, h("section", { class: "page" }, h("header", { class: "page-header" }, h("h1", null, "Action Log")), filters, body));
  let list: Page<ActionEntry>;
  try {
    list = await get<Page<ActionEntry>>(`/action-log${qs({ panelId, personId, page, perPage })}`);
  } catch (e) {
    replaceChildren(body, h("p", { class: "error", role: "alert" }, sentence(e)));
    return;
  }
  if (ctx.signal.aborted) return;
  replaceChildren(
    body,
    h(
      "table",
      { class: "grid", "aria-label": "Action log" },
      h("thead", null, h("tr", null, ["Time", "Who", "Panel", "User", "Action", "Outcome", "Detail"].map((c) => h("th", { scope: "col" }, c)))),
      h(
        "tbody",
        null,
        list.rows.length === 0
          ? h("tr", null, h("td", { colspan: 7, class: "empty" }, "No entries."))
          : list.rows.map((e) =>
              h(
                "tr",
                { "data-outcome": e.outcome },
                h("td", null, formatCreated(e.at)),
                h("td", null, e.actor.name ?? `${e.actor.kind} ${e.actor.id}`),
                h("td", null, e.panelId ?? "-"),
                h("td", null, e.slot !== null ? `№ ${e.slot}` : e.personId ? e.personId.slice(0, 8) : "-"),
                h("td", null, e.action),
                h("td", null, h("span", { class: `badge outcome-${e.outcome}` }, e.outcome)),
                h("td", null, e.sentence ?? e.code ?? ""),
              ),
            ),
      ),
    ),
    pager(list, "entries", (p, n) => navigate(here({ panelId, personId, page: p, perPage: n }))),
  );
}
