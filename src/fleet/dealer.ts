import { randomBytes, randomUUID } from "node:crypto";
import { DEALER_HOURS, type Actor } from "../domain/index.js";
import { tokenHash } from "./auth/auth-store.js";
import type { Principal } from "./auth/permissions.js";
import { FleetError } from "./errors.js";
import type { FleetStore } from "./store.js";
import { enqueueDelivery } from "./webhooks.js";

/**
 * Security Professional access (seed doc 002) through the fleet. The Master switches it on for
 * 2 h; or a dealer asks, the fleet sends the Master a one-time link (notification webhook), and
 * the Master's confirmation grants 24 h; the Master can end it early. The panel enforces the
 * window (its steady clock); the fleet shows what the panel last reported.
 *
 * The commands go on the Master's behalf (actor kind `master`): the agent lets only the Master
 * grant or revoke. The request's link token is 32 random bytes; only its SHA-256 is kept.
 */
const REQUEST_LIFETIME_MS = 24 * 3600_000;

export interface DealerView {
  open: boolean;
  until: string | null;
  hours: 2 | 24 | null;
  remainingMs: number | null;
  pendingRequest: { id: string; requestedAt: string } | null;
}

const onBehalf = (id: string): Actor => ({ kind: "master", id });

async function lockedPanel(store: FleetStore, tx: Parameters<Parameters<FleetStore["db"]["transaction"]>[0]>[0], panelId: string) {
  const r = await tx.query("SELECT id, dealer_until, dealer_hours FROM panels WHERE id = $1 FOR UPDATE", [panelId]);
  if (!r.rows[0]) throw new FleetError("panel_not_found", { panelId });
  return r.rows[0];
}

export async function dealerView(store: FleetStore, panelId: string, now = Date.now()): Promise<DealerView> {
  const p = await store.panel(panelId);
  if (!p) throw new FleetError("panel_not_found", { panelId });
  const until = p.dealerUntil?.getTime() ?? null;
  const open = until !== null && until > now;
  const req = await store.db.query("SELECT id, requested_at FROM dealer_requests WHERE panel_id = $1 AND status = 'pending' AND expires_at > now() ORDER BY requested_at DESC LIMIT 1", [panelId]);
  const pending = req.rows[0];
  return {
    open,
    until: open ? new Date(until).toISOString() : null,
    hours: open ? ((p.dealerHours as 2 | 24 | null) ?? null) : null,
    remainingMs: open ? until - now : null,
    pendingRequest: pending ? { id: String(pending.id), requestedAt: (pending.requested_at as Date).toISOString() } : null,
  };
}

/** The Master switches dealer access on for 2 hours. */
export async function grantDealer(store: FleetStore, panelId: string, by: Principal): Promise<{ commands: string[] }> {
  return store.db.transaction(async (tx) => {
    await lockedPanel(store, tx, panelId);
    const id = await store.writeCommand(tx, panelId, null, { kind: "grant_dealer_access", hours: DEALER_HOURS.direct, actor: onBehalf(`api:${by.userId}`) });
    return { commands: [id] };
  });
}

/** The Master ends dealer access early; refused `dealer_access_not_active` (the agent's rule) when the panel reports none. */
export async function revokeDealer(store: FleetStore, panelId: string, by: Principal): Promise<{ commands: string[] }> {
  return store.db.transaction(async (tx) => {
    const p = await lockedPanel(store, tx, panelId);
    if (!p.dealer_until || (p.dealer_until as Date).getTime() <= Date.now()) throw new FleetError("dealer_access_not_active", { panelId });
    const id = await store.writeCommand(tx, panelId, null, { kind: "revoke_dealer_access", actor: onBehalf(`api:${by.userId}`) });
    return { commands: [id] };
  });
}

/**
 * A dealer asks for 24 h access: a request row and, in the same transaction, the notification to
 * the Master carrying the one-time link (`<consoleUrl>/dealer-requests/<token>`).
 */
export async function requestDealer(store: FleetStore, panelId: string, by: Principal, consoleUrl: string): Promise<{ id: string }> {
  return store.db.transaction(async (tx) => {
    await lockedPanel(store, tx, panelId);
    const id = randomUUID();
    const token = randomBytes(32).toString("base64url");
    const expires = new Date(Date.now() + REQUEST_LIFETIME_MS);
    await tx.query("INSERT INTO dealer_requests (id, token_hash, panel_id, requested_by, expires_at) VALUES ($1, $2, $3, $4, $5)", [id, tokenHash(token), panelId, by.userId, expires]);
    await enqueueDelivery(tx, "notification", "dealer_access.requested", {
      panelId, requestId: id, requestedBy: { id: by.userId, name: by.name }, hours: DEALER_HOURS.request, expiresAt: expires.toISOString(),
      link: `${consoleUrl.replace(/\/$/, "")}/dealer-requests/${token}`,
    });
    return { id };
  });
}

export interface DealerRequestView {
  id: string;
  panelId: string;
  requestedAt: string;
  hours: 24;
  /** pending: can be confirmed; expired: not confirmed in time; confirmed: its 24 h may be running; used: confirmed and its 24 h are over. */
  status: "pending" | "confirmed" | "expired" | "used";
}

async function requestByToken(q: FleetStore["db"] | Parameters<Parameters<FleetStore["db"]["transaction"]>[0]>[0], token: string, lock: boolean) {
  const r = await q.query(`SELECT * FROM dealer_requests WHERE token_hash = $1${lock ? " FOR UPDATE" : ""}`, [tokenHash(token)]);
  if (!r.rows[0]) throw new FleetError("dealer_request_not_found");
  return r.rows[0];
}

function requestView(r: Record<string, unknown>, now = Date.now()): DealerRequestView {
  let status: DealerRequestView["status"];
  if (r.status === "confirmed") status = (r.confirmed_at as Date).getTime() + DEALER_HOURS.request * 3600_000 <= now ? "used" : "confirmed";
  else status = (r.expires_at as Date).getTime() <= now ? "expired" : "pending";
  return { id: String(r.id), panelId: String(r.panel_id), requestedAt: (r.requested_at as Date).toISOString(), hours: 24, status };
}

export async function dealerRequest(store: FleetStore, token: string): Promise<DealerRequestView> {
  return requestView(await requestByToken(store.db, token, false));
}

/** The Master confirms through the link: grants 24 h; the link works once. */
export async function confirmDealerRequest(store: FleetStore, token: string): Promise<{ commands: string[]; panelId: string; requestId: string }> {
  return store.db.transaction(async (tx) => {
    const r = await requestByToken(tx, token, true);
    const v = requestView(r);
    if (v.status === "expired") throw new FleetError("dealer_request_expired");
    if (v.status !== "pending") throw new FleetError("dealer_request_used");
    await lockedPanel(store, tx, v.panelId);
    const id = await store.writeCommand(tx, v.panelId, null, { kind: "grant_dealer_access", requestId: v.id, actor: onBehalf(`dealer-link:${v.id}`) });
    await tx.query("UPDATE dealer_requests SET status = 'confirmed', confirmed_at = now(), command_id = $2 WHERE id = $1", [v.id, id]);
    return { commands: [id], panelId: v.panelId, requestId: v.id };
  });
}
