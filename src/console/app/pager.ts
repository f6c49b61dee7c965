/**
 * The navigation bar under a grid: previous and next, the range (`1-15 of 1000`), and users per
 * page (10, 15, 50, 100, 200; default 15).
 */
import { h, icon } from "./dom.js";
import { rangeText } from "./format.js";

export const PAGE_SIZES = [10, 15, 50, 100, 200] as const;
export const DEFAULT_PAGE_SIZE = 15;

export interface Page<T> {
  rows: T[];
  page: number;
  perPage: number;
  total: number;
  pages: number;
  range?: string;
}

export function pageSizeFrom(q: URLSearchParams): number {
  const n = Number(q.get("perPage"));
  return (PAGE_SIZES as readonly number[]).includes(n) ? n : DEFAULT_PAGE_SIZE;
}
export function pageFrom(q: URLSearchParams): number {
  const n = Number(q.get("page"));
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

export function pager<T>(page: Page<T>, noun: string, go: (page: number, perPage: number) => void): HTMLElement {
  const prev = h("button", { type: "button", class: "icon-button", "aria-label": "Previous page", disabled: page.page <= 1 }, icon("prev"));
  const next = h("button", { type: "button", class: "icon-button", "aria-label": "Next page", disabled: page.page >= page.pages }, icon("next"));
  prev.addEventListener("click", () => go(page.page - 1, page.perPage));
  next.addEventListener("click", () => go(page.page + 1, page.perPage));
  const size = h("select", { id: `per-page-${noun.replace(/\W+/g, "-")}`, class: "per-page" }, PAGE_SIZES.map((n) => h("option", { value: n, selected: n === page.perPage }, String(n))));
  size.value = String(page.perPage);
  size.addEventListener("change", () => go(1, Number(size.value)));
  return h(
    "nav",
    { class: "pager", "aria-label": `${noun} pages` },
    prev,
    h("span", { class: "range", "aria-live": "polite" }, rangeText(page, page.rows.length)),
    next,
    h("label", { for: size.id, class: "per-page-label" }, `${noun[0]!.toUpperCase()}${noun.slice(1)} per page`),
    size,
  );
}
