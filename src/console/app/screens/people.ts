/**
 * Users (000_*.txt steps 3-4): the people of the fleet, searchable by name and paged, with Add in
 * the header; a name opens the person's profile (Device Access, the Time tile, contacts).
 */
import { enc, qs } from "../api.js";
import { h, icon, replaceChildren } from "../dom.js";
import { pageFrom, pager, pageSizeFrom } from "../pager.js";
import { navigate, type ScreenContext } from "../router.js";
import { searchList } from "../search-list.js";
import { can } from "../session.js";

interface PersonRow {
  id: string;
  firstName: string;
  lastName: string;
  codeSet: boolean;
  panels: string[];
}

export async function peopleScreen(ctx: ScreenContext): Promise<void> {
  const q = ctx.query.get("q") ?? "";
  const page = pageFrom(ctx.query);
  const perPage = pageSizeFrom(ctx.query);
  const here = (o: { q: string; page?: number; perPage: number }) => `/people${qs({ q: o.q, page: o.page && o.page > 1 ? o.page : undefined, perPage: o.perPage === 15 ? undefined : o.perPage })}`;
  const add = can("manage_panel_users") ? h("a", { class: "button primary", href: "/people/new" }, "Add") : null;
  const loaded = await searchList<PersonRow>(ctx, {
    title: "Users",
    searchId: "people-search",
    searchLabel: "Search users",
    placeholder: "First or last name",
    addressFor: (typed) => here({ q: typed, perPage }),
    apiPath: `/people${qs({ q, page, perPage })}`,
    action: add,
  });
  if (!loaded) return;
  const { body, list } = loaded;
  const rows = list.rows.map((p) =>
    h(
      "tr",
      { "data-person": p.id },
      h("td", null, h("a", { href: `/people/${enc(p.id)}` }, `${p.firstName} ${p.lastName}`)),
      h(
        "td",
        { class: "code" },
        p.codeSet
          ? h("span", { class: "code-set", role: "img", "aria-label": "Code set" }, icon("check"))
          : h("span", { class: "code-unset", role: "img", "aria-label": "No code" }, icon("minus")),
      ),
      h("td", null, p.panels.length > 0 ? p.panels.join(", ") : "-"),
    ),
  );
  replaceChildren(
    body,
    h(
      "table",
      { class: "grid", "aria-label": "Users" },
      h("thead", null, h("tr", null, ["Name", "Code", "Security panels"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", null, rows.length > 0 ? rows : h("tr", null, h("td", { colspan: 3, class: "empty" }, q ? `No user is named like “${q}”.` : "No users yet."))),
    ),
    pager(list, "users", (p, n) => navigate(here({ q, page: p, perPage: n }))),
  );
}
