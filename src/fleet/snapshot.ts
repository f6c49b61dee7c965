import { randomUUID } from "node:crypto";
import { PANEL_TYPES } from "../domain/index.js";
import { nameLabel } from "./digest.js";
import { FleetError } from "./errors.js";
import { panelFromRow } from "./panel-row.js";
import { text } from "./row.js";
import type { FleetStore } from "./store.js";

const num = (v: unknown): number => Number(v);

/**
 * Reconcile by snapshot: writes ONE `snapshot` command carrying the panel's whole desired table
 * (every person switched on there, with their code), at the panel's next seq, in one transaction.
 * The codes travel as one ciphertext (`{ "<slot>": code }`, AAD = command id). When a snapshot is
 * already pending for this panel, that one is returned instead (several workers hear
 * the same resync request).
 */
export async function writeSnapshot(store: FleetStore, panelId: string): Promise<{ id: string; created: boolean }> {
  return store.db.transaction(async (tx) => {
    const locked = await tx.query("SELECT * FROM panels WHERE id = $1 FOR UPDATE", [panelId]);
    if (!locked.rows[0]) throw new FleetError("panel_not_found", { panelId });
    const panel = panelFromRow(locked.rows[0]);
    const waiting = await tx.query<{ id: string }>("SELECT id FROM commands WHERE panel_id = $1 AND kind = 'snapshot' AND status = 'pending' LIMIT 1", [panelId]);
    if (waiting.rows[0]) return { id: waiting.rows[0].id, created: false };
    const type = PANEL_TYPES[panel.type];
    const rows = await tx.query(
      `SELECT a.slot, a.role, a.partitions, a.schedule, a.door_locks, a.person_id, a.label, a.tags_ct, p.first_name, p.last_name, p.code_ct,
              ac.id AS account_id, ac.email AS account_email, ac.status AS account_status, ac.created_at AS account_created
       FROM person_panels a JOIN people p ON p.id = a.person_id LEFT JOIN accounts ac ON ac.id = a.account_id WHERE a.panel_id = $1 AND a.enabled AND p.code_ct IS NOT NULL ORDER BY a.slot`,
      [panelId],
    );
    // The secrets of the snapshot, as one ciphertext: { "<slot>": code, "tags:<slot>": [{ kind, id }] }.
    const codes: Record<string, unknown> = {};
    const users = rows.rows.map((r) => {
      const slot = num(r.slot);
      codes[String(slot)] = store.vault.decrypt(r.code_ct as Uint8Array, `person:${String(r.person_id)}`).reveal();
      const label = r.label ? text(r.label) : nameLabel(text(r.first_name), text(r.last_name), type.labelLength);
      if (r.tags_ct) codes[`tags:${slot}`] = JSON.parse(store.vault.decrypt(r.tags_ct as Uint8Array, `tags:${String(r.person_id)}:${panelId}`).reveal()) as unknown;
      const user: Record<string, unknown> = { slot, label, schedule: r.schedule, doorLocks: r.door_locks ?? [] };
      user.account = r.account_id && r.account_status !== "Suspended" ? { id: text(r.account_id), email: text(r.account_email), createdAt: new Date(r.account_created as Date).getTime(), status: r.account_status } : null;
      if (!type.masterSlots.includes(slot)) Object.assign(user, { role: r.role, partitions: (r.partitions as unknown[]).map(num) });
      return user;
    });
    const id = randomUUID();
    const seq = await store.allocateSeq(tx, panelId);
    const secretCt = store.vault.encrypt(JSON.stringify(codes), `command:${id}`);
    await tx.query("INSERT INTO commands (id, panel_id, seq, kind, body, secret_ct) VALUES ($1, $2, $3, 'snapshot', $4, $5)", [id, panelId, seq, JSON.stringify({ kind: "snapshot", users }), secretCt]);
    return { id, created: true };
  });
}
