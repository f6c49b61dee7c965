import type { WireEvent } from "../../protocol/index.js";
import { pageWindow, type Page, type PageSize } from "../domain/index.js";
import type { Db, Queryable } from "./db.js";
import { enqueueDelivery } from "./webhooks.js";

/**
 * The panels' events (access, duress, lockout, one-time use, dealer access, local changes, ...),
 * stored once per (panel, epoch, n) however many workers hear them (a reset panel numbers from 1 again), with the person resolved from the
 * slot at arrival, kept for a retention period. The ones the documents name are notified through
 * the notification webhook, in the transaction that stores the event: exactly one delivery row.
 */
/** The webhook event an event is notified as (seed docs: duress; dealer access granted, revoked, session started), or null. */
export function notificationOf(e: WireEvent): string | null {
  if (e.type === "duress") return "duress";
  if (e.type === "dealer_access" && e.data.change !== "expired") return `dealer_access.${e.data.change}`;
  return null;
}

function slotOf(e: WireEvent): number | null {
  const d = e.data as { slot?: number | null };
  return typeof d.slot === "number" ? d.slot : null;
}

/** Stores an event of an enrolled panel; true when it was new. */
export async function ingestEvent(db: Db, panelId: string, e: WireEvent, options: { notify: boolean }): Promise<boolean> {
  if (e.type === "resync_request") return false;
  return db.transaction(async (tx) => {
    const panel = await tx.query("SELECT 1 FROM panels WHERE id = $1", [panelId]);
    if (panel.rows.length === 0) return false;
    const slot = slotOf(e);
    const person = slot === null ? undefined : (await tx.query<{ person_id: string }>("SELECT person_id FROM person_panels WHERE panel_id = $1 AND slot = $2", [panelId, slot])).rows[0];
    // No conflict target: the key's columns changed once (migration 7), and a target naming them
    // fails outright on a database whose key is another.
    const r = await tx.query(
      "INSERT INTO events (panel_id, epoch, n, type, at, slot, person_id, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id",
      [panelId, e.epoch ?? "", e.n, e.type, new Date(e.at), slot, person?.person_id ?? null, JSON.stringify(e.data)],
    );
    if (r.rows.length === 0) return false;
    const event = notificationOf(e);
    if (event && options.notify) {
      await enqueueDelivery(tx, "notification", event, { panelId, at: new Date(e.at).toISOString(), slot, personId: person?.person_id ?? null, ...(e.data as Record<string, unknown>) });
    }
    return true;
  });
}

export interface EventView {
  id: number;
  panelId: string;
  /** The panel database's epoch the number counts in; null when the agent did not name it. */
  epoch: string | null;
  n: number;
  type: string;
  at: string;
  slot: number | null;
  personId: string | null;
  data: Record<string, unknown>;
}

export async function listEvents(q: Queryable, filter: { panelId?: string; personId?: string; type?: string }, page: number, perPage: PageSize): Promise<Page<EventView>> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.panelId) where.push(`panel_id = $${params.push(filter.panelId)}`);
  if (filter.personId) where.push(`person_id = $${params.push(filter.personId)}`);
  if (filter.type) where.push(`type = $${params.push(filter.type)}`);
  const clause = where.length ? `WHERE ${where.join(" AND ")}` : "";
  const total = Number((await q.query<{ n: unknown }>(`SELECT count(*) AS n FROM events ${clause}`, params)).rows[0]!.n);
  const w = pageWindow(total, page, perPage);
  const r = await q.query(`SELECT * FROM events ${clause} ORDER BY at DESC, id DESC LIMIT ${w.perPage} OFFSET ${w.offset}`, params);
  return w.withRows(
    r.rows.map((x) => ({
      id: Number(x.id),
      panelId: String(x.panel_id),
      epoch: x.epoch === "" ? null : String(x.epoch),
      n: Number(x.n),
      type: String(x.type),
      at: (x.at as Date).toISOString(),
      slot: x.slot === null ? null : Number(x.slot),
      personId: (x.person_id as string | null) ?? null,
      data: x.data as Record<string, unknown>,
    })),
  );
}

/** Deletes events older than the retention period (by the panel's time of the event). Returns how many. */
export async function pruneEvents(q: Queryable, retentionMs: number): Promise<number> {
  const r = await q.query("DELETE FROM events WHERE at < now() - ($1::bigint * interval '1 millisecond')", [retentionMs]);
  return r.rowCount;
}
