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
  personName?: string;
  action: string;
  outcome: "requested" | "applied" | "rejected" | "refused";
  code?: string;
  sentence?: string;
}

interface PersonHit {
  id: string;
  firstName: string;
  lastName: string;
  panels: string[];
}

const fullName = (p: Pick<PersonHit, "firstName" | "lastName">) => `${p.firstName} ${p.lastName}`;
const norm = (t: string) => t.trim().replace(/\s+/g, " ").toLowerCase();

/**
 * The user filter takes a name as a person types it ("grace hopper", "Hopper"): suggestions come
 * from the people matching what is typed; on Filter the name is resolved to one person (an exact
 * full name, or the only match), and several matches are listed to pick from.
 */
async function resolvePerson(typed: string): Promise<{ person: PersonHit } | { several: PersonHit[] } | { none: true }> {
  const hits = (await get<Page<PersonHit>>(`/people${qs({ q: typed.trim().replace(/\s+/g, " "), perPage: 50 })}`)).rows;
  const exact = hits.filter((p) => norm(fullName(p)) === norm(typed));
  if (exact.length === 1) return { person: exact[0]! };
  if (exact.length === 0 && hits.length === 1) return { person: hits[0]! };
  if (hits.length === 0) return { none: true };
  return { several: exact.length > 1 ? exact : hits };
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
  const personInput = h("input", { type: "search", autocomplete: "off", list: "action-log-people", placeholder: "First and last name" });
  const personList = h("datalist", { id: "action-log-people" });
  const personNote = h("div", { class: "person-note", "aria-live": "polite" });
  const filters = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter the action log" },
    field("Panel", panelInput),
    panelList,
    h("div", null, field("User", personInput), personList),
    h("button", { type: "submit", class: "button" }, "Filter"),
  );
  // The panels to pick from, and whose log this is when a user is chosen (both only helpers: the filter works without them).
  void get<Page<{ id: string }>>(`/panels${qs({ perPage: 200 })}`).then((p) => panelList.replaceChildren(...p.rows.map((r) => h("option", { value: r.id }))), () => undefined);
  let chosen: { id: string; name: string } | null = null;
  if (personId) {
    void get<{ firstName: string; lastName: string }>(`/people/${encodeURIComponent(personId)}`).then(
      (p) => {
        chosen = { id: personId, name: fullName(p) };
        if (!personInput.value) personInput.value = chosen.name;
      },
      (e) => personNote.replaceChildren(h("p", { class: "error", role: "alert" }, sentence(e))),
    );
  }
  let suggestTimer: ReturnType<typeof setTimeout> | undefined;
  personInput.addEventListener("input", () => {
    clearTimeout(suggestTimer);
    const typed = personInput.value.trim().replace(/\s+/g, " ");
    if (typed.length < 2) return;
    suggestTimer = setTimeout(() => {
      void get<Page<PersonHit>>(`/people${qs({ q: typed, perPage: 10 })}`).then(
        (p) => personList.replaceChildren(...p.rows.map((r) => h("option", { value: fullName(r) }, r.panels.length ? `on ${r.panels.join(", ")}` : "on no panel"))),
        () => undefined,
      );
    }, 150);
  });
  const go = (pid: string) => navigate(here({ panelId: panelInput.value.trim(), personId: pid, perPage }));
  filters.addEventListener("submit", (ev) => {
    ev.preventDefault();
    personNote.replaceChildren();
    const typed = personInput.value.trim();
    if (!typed) return go("");
    if (chosen && norm(typed) === norm(chosen.name)) return go(chosen.id);
    void resolvePerson(typed).then(
      (r) => {
        if ("person" in r) return go(r.person.id);
        if ("none" in r) return personNote.replaceChildren(h("p", { class: "error", role: "alert" }, `No user is named “${typed}”. Check the spelling, or leave User empty for everyone.`));
        personNote.replaceChildren(
          h("p", { role: "alert" }, `${r.several.length} users match “${typed}”: choose one.`),
          h(
            "ul",
            { class: "person-choices" },
            r.several.map((p) => h("li", null, h("button", { type: "button", class: "button subtle", onClick: () => go(p.id) }, fullName(p), h("span", { class: "muted" }, p.panels.length ? ` (on ${p.panels.join(", ")})` : " (on no panel)")))),
          ),
        );
      },
      (e) => personNote.replaceChildren(h("p", { class: "error", role: "alert" }, sentence(e))),
    );
  });
  const body = h("div", { class: "grid-wrap" });
  replaceChildren(ctx.main, h("section", { class: "page" }, h("header", { class: "page-header" }, h("h1", null, "Action Log")), filters, personNote, body));
  let list: Page<ActionEntry>;
  try {
    list = await get<Page<ActionEntry>>(`/action-log${qs({ panelId, personId, page, perPage })}`);
  } catch (e) {
    replaceChildren(body, h("p", { class: "error", role: "alert" }, sentence(e)));
    return;
  }
  if (ctx.signal.aborted) return;
  const who = (e: ActionEntry) => {
    const slot = e.slot !== null ? `№ ${e.slot}` : "";
    if (e.personName) return slot ? `${e.personName} (${slot})` : e.personName;
    return slot || (e.personId ? e.personId.slice(0, 8) : "-");
  };
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
                h("td", null, who(e)),
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
