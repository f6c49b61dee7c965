import type { AccountStatus, Slot } from "./model.js";
import type { Role } from "./panel-types.js";
import type { PanelTable } from "./table.js";

export const PAGE_SIZES = [10, 15, 50, 100, 200] as const;
export type PageSize = (typeof PAGE_SIZES)[number];
export const DEFAULT_PAGE_SIZE: PageSize = 15;

/** One row of the Users grid (seed doc 001): number, label & role, code, partitions, account, created, status. */
export type UserRow = {
  number: number;
  label: string;
  /** "-" for a slot without a code, as the grid shows it. */
  role: Role | "-";
  codeSet: boolean;
  partitions: number[];
  /** The assigned account's email, or "-". */
  account: string;
  /** Account creation time (epoch ms) or "-". */
  created: number | "-";
  status: AccountStatus | "Unknown";
};

export interface Page<T> {
  rows: T[];
  page: number;
  perPage: PageSize;
  total: number;
  pages: number;
  /** As the grid's range indicator: "1-15 of 1000", "0 of 0" when empty. */
  range: string;
}

export function isPageSize(n: number): n is PageSize {
  return (PAGE_SIZES as readonly number[]).includes(n);
}

/**
 * Where page `page` of `total` items lies. Pages are 1-based; a page past the end is clamped to
 * the last page, a page below 1 to the first. `withRows` completes the page with its range text.
 */
export function pageWindow(total: number, page: number, perPage: PageSize) {
  const pages = Math.max(1, Math.ceil(total / perPage));
  const p = Number.isFinite(page) ? Math.min(Math.max(1, Math.floor(page)), pages) : 1;
  const offset = (p - 1) * perPage;
  const count = Math.max(0, Math.min(perPage, total - offset));
  return {
    page: p,
    perPage,
    pages,
    offset,
    count,
    withRows<T>(rows: T[]): Page<T> {
      const range = total === 0 ? "0 of 0" : `${offset + 1}-${offset + rows.length} of ${total}`;
      return { rows, page: p, perPage, total, pages, range };
    },
  };
}

export function paginate<T>(items: readonly T[], page = 1, perPage: PageSize = DEFAULT_PAGE_SIZE): Page<T> {
  const w = pageWindow(items.length, page, perPage);
  return w.withRows(items.slice(w.offset, w.offset + w.count));
}

export function userRow(slot: Slot): UserRow {
  const codeSet = slot.codeDigest !== null;
  return {
    number: slot.number,
    label: slot.label,
    role: codeSet ? slot.role : "-",
    codeSet,
    partitions: codeSet ? [...slot.partitions] : [],
    account: slot.account?.email ?? "-",
    created: slot.account?.createdAt ?? "-",
    status: slot.account?.status ?? "Unknown",
  };
}

/**
 * The Users grid: every slot 1..capacity, as the seed UI lists "15 users" for a panel with that
 * many slots, whether or not a code is set. `onlyActive` lists only users that exist on the panel.
 */
export function listUsers(table: PanelTable, page = 1, perPage: PageSize = DEFAULT_PAGE_SIZE, onlyActive = false): Page<UserRow> {
  if (onlyActive) return paginate(table.activeSlotNumbers().map((n) => userRow(table.slot(n))), page, perPage);
  const w = pageWindow(table.type.capacity, page, perPage);
  const rows: UserRow[] = [];
  for (let n = w.offset + 1; n <= w.offset + w.count; n++) rows.push(userRow(table.slot(n)));
  return w.withRows(rows);
}
