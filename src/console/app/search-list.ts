/**
 * The frame the searchable, paged lists share (Equipment, Users): a search form that navigates to
 * the list's address with the query, the page with its header, and the first page fetched into
 * it, or the API's sentence in its place.
 */
import { get, sentence } from "./api.js";
import { h, replaceChildren, type Child } from "./dom.js";
import type { Page } from "./pager.js";
import { navigate, type ScreenContext } from "./router.js";

export interface SearchListOptions {
  title: string;
  /** The search field's id, label and placeholder. */
  searchId: string;
  searchLabel: string;
  placeholder: string;
  /** The list's address for a typed query (page 1). */
  addressFor(q: string): string;
  /** The API path of the current page. */
  apiPath: string;
  /** Beside the title (Add). */
  action?: Child;
}

/** Paints the frame and loads the page: the rows' container and the page, or undefined after a failure (shown) or a navigation away. */
export async function searchList<T>(ctx: ScreenContext, o: SearchListOptions): Promise<{ body: HTMLDivElement; list: Page<T> } | undefined> {
  const search = h("input", { type: "search", id: o.searchId, value: ctx.query.get("q") ?? "", placeholder: o.placeholder, autocomplete: "off" });
  const form = h("form", { class: "search", role: "search" }, h("label", { for: search.id }, o.searchLabel), search, h("button", { type: "submit", class: "button" }, "Search"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    navigate(o.addressFor(search.value.trim().replace(/\s+/g, " ")));
  });
  const body = h("div", { class: "grid-wrap" });
  replaceChildren(ctx.main, h("section", { class: "page" }, h("header", { class: "page-header" }, h("h1", null, o.title), o.action), form, body));
  let list: Page<T>;
  try {
    list = await get<Page<T>>(o.apiPath);
  } catch (e) {
    replaceChildren(body, h("p", { class: "error", role: "alert" }, sentence(e)));
    return undefined;
  }
  return ctx.signal.aborted ? undefined : { body, list };
}
