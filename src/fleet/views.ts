import { PANEL_TYPES, pageWindow, type Page, type PageSize, type Role } from "../domain/index.js";
import type { Queryable } from "./db.js";
import { desiredDigests, nameLabel } from "./digest.js";
import { FleetError } from "./errors.js";
import { panelFromRow } from "./panel-row.js";
import type { FleetStore, PanelRow, Schedule } from "./store.js";
import { num, text } from "./row.js";

/**
 * The reads of the API: the Equipment list, a panel's Users grid over every slot, one slot's
 * details, the People list. Each is a few queries over the desired state and the journal.
 */

export type AccountStatus = "Not confirmed" | "Active" | "Suspended";

export interface GridRow {
  slot: number;
  personId: string | null;
  label: string | null;
  role: Role;
  codeSet: boolean;
  partitions: number[];
  account: { id: string; email: string; status: AccountStatus } | null;
  createdAt: string | null;
  status: AccountStatus | "Unknown";
  enabled: boolean;
  pending: boolean;
}

export interface SlotDetail extends GridRow {
  schedule: Schedule;
  doorLocks: string[];
  tags: { kind: string }[];
  person: { id: string; firstName: string; lastName: string } | null;
  version: number;
}

/** Why a panel is not converged, or null: a stable reason code. */
export type DriftReason = "never_reported" | "offline" | "pending_commands" | "digest_mismatch" | null;

export interface PanelSummary {
  id: string;
  type: string;
  online: boolean;
  usersCount: number;
  lastReportAt: string | null;
  converged: boolean;
  drift: DriftReason;
}


const SUMMARY_SQL = `
  SELECT p.*,
    (SELECT count(*) FROM person_panels a WHERE a.panel_id = p.id AND a.enabled) AS users,
    (SELECT count(*) FROM commands c WHERE c.panel_id = p.id AND c.status = 'pending') AS pending
  FROM panels p`;

/** A panel's summary with what the drift report adds: its pending count and both digests. */
type Summarised = PanelSummary & { pending: number; reportedDigest: string | null; desiredDigest: string };

/**
 * A panel is converged when the fleet has nothing left to tell it (no command without a fate) and
 * the digest of its retained state is the digest of its desired table. Otherwise the reason:
 * never reported, offline with commands waiting, commands pending, or a digest that differs.
 * Rows of SUMMARY_SQL; the desired digests of all of them with one query (the drift report reads
 * every panel: two queries per panel had made it thousands of statements at fleet scale).
 */
async function summaries(store: FleetStore, rows: readonly Record<string, unknown>[]): Promise<Summarised[]> {
  const panels = rows.map(panelFromRow);
  const desired = await desiredDigests(store.db, panels);
  return rows.map((r, i) => {
    const panel = panels[i]!;
    const want = desired.get(panel.id)!;
    let drift: DriftReason = null;
    if (r.state_at === null) drift = "never_reported";
    else if (num(r.pending) > 0) drift = r.online === false ? "offline" : "pending_commands";
    else if (panel.digest !== want) drift = "digest_mismatch";
    return {
      id: String(r.id),
      type: String(r.type),
      online: r.online === true,
      usersCount: num(r.users),
      lastReportAt: r.state_at ? (r.state_at as Date).toISOString() : null,
      converged: drift === null,
      drift,
      pending: num(r.pending),
      reportedDigest: panel.digest,
      desiredDigest: want,
    };
  });
}

/** The summary alone (the Equipment list and a panel's page do not show the digests). */
const summaryOnly = ({ pending: _p, reportedDigest: _r, desiredDigest: _d, ...s }: Summarised): PanelSummary => s;

export async function listPanels(store: FleetStore, filter: string | undefined, page: number, perPage: PageSize): Promise<Page<PanelSummary>> {
  const like = filter ? `%${filter.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : "%";
  const total = num((await store.db.query<{ n: unknown }>("SELECT count(*) AS n FROM panels WHERE id LIKE $1", [like])).rows[0]!.n);
  const w = pageWindow(total, page, perPage);
  const r = await store.db.query(`${SUMMARY_SQL} WHERE p.id LIKE $1 ORDER BY p.id LIMIT $2 OFFSET $3`, [like, w.perPage, w.offset]);
  return w.withRows((await summaries(store, r.rows)).map(summaryOnly));
}

export async function panelSummary(store: FleetStore, panelId: string): Promise<PanelSummary | undefined> {
  const r = await store.db.query(`${SUMMARY_SQL} WHERE p.id = $1`, [panelId]);
  return r.rows[0] ? summaryOnly((await summaries(store, r.rows))[0]!) : undefined;
}

/** The drift report: every panel not converged, with why, a page at a time. */
export async function driftReport(store: FleetStore, page: number, perPage: PageSize): Promise<Page<Summarised>> {
  const r = await store.db.query(`${SUMMARY_SQL} ORDER BY p.id`);
  const out = (await summaries(store, r.rows)).filter((s) => !s.converged);
  const w = pageWindow(out.length, page, perPage);
  return w.withRows(out.slice(w.offset, w.offset + w.count));
}

/** Slots with a command that has no fate yet. */
async function pendingSlots(q: Queryable, panelId: string, from: number, to: number): Promise<Set<number>> {
  const r = await q.query<{ slot: unknown }>(
    "SELECT DISTINCT (body->>'slot')::int AS slot FROM commands WHERE panel_id = $1 AND status = 'pending' AND body ? 'slot' AND (body->>'slot')::int BETWEEN $2 AND $3",
    [panelId, from, to],
  );
  const slots = new Set(r.rows.map((x) => num(x.slot)));
  // A pending snapshot rewrites every slot.
  const snap = await q.query("SELECT 1 FROM commands WHERE panel_id = $1 AND status = 'pending' AND kind = 'snapshot' LIMIT 1", [panelId]);
  if (snap.rows.length > 0) for (let s = from; s <= to; s++) slots.add(s);
  return slots;
}

const ROW_SQL = `
  SELECT a.slot, a.person_id, a.label, a.role, a.enabled, a.partitions, a.schedule, a.door_locks, a.tags, a.version, a.created_at,
    p.first_name, p.last_name, p.code_ct IS NOT NULL AS code_set, ac.id AS account_id, ac.email AS account_email, ac.status AS account_status
  FROM person_panels a JOIN people p ON p.id = a.person_id LEFT JOIN accounts ac ON ac.id = a.account_id`;

function emptyRow(panel: PanelRow, slot: number, pending: boolean): GridRow {
  const type = PANEL_TYPES[panel.type];
  return { slot, personId: null, label: null, role: type.masterSlots.includes(slot) ? "Master" : type.defaultRole, codeSet: false, partitions: [], account: null, createdAt: null, status: "Unknown", enabled: false, pending };
}

function gridRow(panel: PanelRow, x: Record<string, unknown>, pending: boolean): GridRow {
  const enabled = x.enabled === true;
  const account = x.account_id ? { id: text(x.account_id), email: text(x.account_email), status: x.account_status as AccountStatus } : null;
  return {
    slot: num(x.slot),
    personId: String(x.person_id),
    // the label as the panel shows it: the one set for this panel, or the name cut to the type's length
    label: x.label ? text(x.label) : nameLabel(text(x.first_name), text(x.last_name), PANEL_TYPES[panel.type].labelLength),
    role: x.role as Role,
    codeSet: enabled && x.code_set === true,
    partitions: enabled ? (x.partitions as unknown[]).map(num) : [],
    account,
    createdAt: (x.created_at as Date).toISOString(),
    status: account?.status ?? "Unknown",
    enabled,
    pending,
  };
}

/** The Users grid of a panel: EVERY slot 1..capacity (seed doc 001 lists each user number), a page at a time. */
export async function usersGrid(store: FleetStore, panelOrId: string | PanelRow, page: number, perPage: PageSize): Promise<Page<GridRow>> {
  const panel = typeof panelOrId === "string" ? await store.panel(panelOrId) : panelOrId;
  if (!panel) throw new FleetError("panel_not_found", { panelId: panelOrId as string });
  const panelId = panel.id;
  const w = pageWindow(panel.capacity, page, perPage);
  const from = w.offset + 1;
  const to = w.offset + w.count;
  const r = await store.db.query(`${ROW_SQL} WHERE a.panel_id = $1 AND a.slot BETWEEN $2 AND $3 ORDER BY a.slot`, [panelId, from, to]);
  const bySlot = new Map(r.rows.map((x) => [num(x.slot), x]));
  const pending = await pendingSlots(store.db, panelId, from, to);
  const rows: GridRow[] = [];
  for (let s = from; s <= to; s++) {
    const x = bySlot.get(s);
    rows.push(x ? gridRow(panel, x, pending.has(s)) : emptyRow(panel, s, pending.has(s)));
  }
  return w.withRows(rows);
}

export async function slotDetail(store: FleetStore, panelId: string, slot: number): Promise<SlotDetail> {
  const panel = await store.panel(panelId);
  if (!panel) throw new FleetError("panel_not_found", { panelId });
  if (!Number.isInteger(slot) || slot < 1 || slot > panel.capacity) throw new FleetError("slot_out_of_range", { slot, capacity: panel.capacity });
  const pending = (await pendingSlots(store.db, panelId, slot, slot)).has(slot);
  const x = (await store.db.query(`${ROW_SQL} WHERE a.panel_id = $1 AND a.slot = $2`, [panelId, slot])).rows[0];
  if (!x) return { ...emptyRow(panel, slot, pending), schedule: { kind: "always" }, doorLocks: [], tags: [], person: null, version: 0 };
  return {
    ...gridRow(panel, x, pending),
    schedule: x.schedule as Schedule,
    doorLocks: (x.door_locks as string[] | null) ?? [],
    tags: ((x.tags as { kind: string }[] | null) ?? []).map((t) => ({ kind: t.kind })),
    person: { id: String(x.person_id), firstName: String(x.first_name), lastName: String(x.last_name) },
    version: num(x.version),
  };
}

export interface PersonSummary {
  id: string;
  firstName: string;
  lastName: string;
  codeSet: boolean;
  panels: string[];
}

export async function listPeople(q: Queryable, filter: string | undefined, page: number, perPage: PageSize): Promise<Page<PersonSummary>> {
  const like = filter ? `%${filter.replace(/[\\%_]/g, (c) => `\\${c}`).toLowerCase()}%` : "%";
  const where = "WHERE lower(p.first_name || ' ' || p.last_name) LIKE $1";
  const total = num((await q.query<{ n: unknown }>(`SELECT count(*) AS n FROM people p ${where}`, [like])).rows[0]!.n);
  const w = pageWindow(total, page, perPage);
  const r = await q.query(
    `SELECT p.id, p.first_name, p.last_name, p.code_ct IS NOT NULL AS code_set,
       coalesce((SELECT array_agg(a.panel_id ORDER BY a.panel_id) FROM person_panels a WHERE a.person_id = p.id AND a.enabled), '{}') AS panels
     FROM people p ${where} ORDER BY p.last_name, p.first_name, p.id LIMIT $2 OFFSET $3`,
    [like, w.perPage, w.offset],
  );
  return w.withRows(r.rows.map((x) => ({ id: String(x.id), firstName: String(x.first_name), lastName: String(x.last_name), codeSet: x.code_set === true, panels: (x.panels as string[]) ?? [] })));
}

/** A person's panels (on or off) with their slot, for the person's page. */
export async function panelsOfPersonView(q: Queryable, personId: string): Promise<{ panelId: string; enabled: boolean; slot: number }[]> {
  const r = await q.query("SELECT panel_id, enabled, slot FROM person_panels WHERE person_id = $1 ORDER BY panel_id", [personId]);
  return r.rows.map((x) => ({ panelId: String(x.panel_id), enabled: x.enabled === true, slot: num(x.slot) }));
}
