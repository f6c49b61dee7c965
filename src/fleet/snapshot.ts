import { randomUUID } from "node:crypto";
import { PANEL_TYPES } from "../domain/index.js";
import { nameLabel } from "./digest.js";
import { FleetError } from "./errors.js";
import { panelFromRow, type PanelRow } from "./panel-row.js";
import { num, text } from "./row.js";
import type { FleetStore } from "./store.js";


/** The most panels whose snapshots one transaction writes (it holds their rows while it decrypts their codes). */
export const MAX_SNAPSHOTS_PER_TRANSACTION = 250;
/** How soon the panels whose rows were busy are tried again (doubling up to BUSY_RETRY_MAX_MS). */
const BUSY_RETRY_MS = 20;
const BUSY_RETRY_MAX_MS = 500;

/**
 * Reconcile by snapshot: writes ONE `snapshot` command carrying the panel's whole desired table
 * (every person switched on there, with their code), at the panel's next seq, in one transaction.
 * The codes travel as one ciphertext (`{ "<slot>": code }`, AAD = command id). When a snapshot is
 * already pending for this panel, that one is returned instead (several workers hear
 * the same resync request).
 */
export async function writeSnapshot(store: FleetStore, panelId: string): Promise<{ id: string; created: boolean }> {
  const snap = (await writeSnapshots(store, [panelId])).get(panelId);
  if (!snap) throw new FleetError("panel_not_found", { panelId });
  return snap;
}

/**
 * The snapshots of many panels (see writeSnapshot), a few statements per transaction whatever the
 * number of panels (up to MAX_SNAPSHOTS_PER_TRANSACTION to a transaction): their rows locked in id
 * order, the pending snapshots read, the desired tables read, the seqs allocated and the commands
 * inserted with one statement each. Still one pending snapshot per panel: a panel with one pending
 * gets that one back (`created: false`). A panel the fleet does not know is left out of the answer.
 * Resolves once every known panel's snapshot is written (a busy row is waited for, apart).
 */
export async function writeSnapshots(store: FleetStore, panelIds: readonly string[]): Promise<Map<string, { id: string; created: boolean }>> {
  const out = new Map<string, { id: string; created: boolean }>();
  let todo = [...new Set(panelIds)].sort();
  // The rows another transaction holds (an API call writing commands there) are skipped, not waited
  // for while holding the others, and tried again a moment later, until every panel is written.
  for (let wait = BUSY_RETRY_MS; todo.length > 0; wait = Math.min(BUSY_RETRY_MAX_MS, wait * 2)) {
    const busy: string[] = [];
    for (let i = 0; i < todo.length; i += MAX_SNAPSHOTS_PER_TRANSACTION) {
      const r = await writeSome(store, todo.slice(i, i + MAX_SNAPSHOTS_PER_TRANSACTION));
      for (const [k, v] of r.written) out.set(k, v);
      busy.push(...r.busy);
    }
    todo = busy;
    if (todo.length > 0) await new Promise((r) => setTimeout(r, wait));
  }
  return out;
}

/** The snapshots of the panels whose rows it could lock (see writeSnapshots), and the known panels whose rows were busy. */
async function writeSome(store: FleetStore, ids: readonly string[]): Promise<{ written: Map<string, { id: string; created: boolean }>; busy: string[] }> {
  return store.db.transaction(async (tx) => {
    const out = new Map<string, { id: string; created: boolean }>();
    const locked = await tx.query("SELECT * FROM panels WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE SKIP LOCKED", [ids]);
    const panels = new Map<string, PanelRow>(locked.rows.map((r) => [String(r.id), panelFromRow(r)]));
    const rest = ids.filter((id) => !panels.has(id));
    const busy = rest.length > 0 ? (await tx.query<{ id: string }>("SELECT id FROM panels WHERE id = ANY($1::text[])", [rest])).rows.map((r) => r.id) : [];
    if (panels.size === 0) return { written: out, busy };
    const waiting = await tx.query<{ panel_id: string; id: string }>(
      "SELECT DISTINCT ON (panel_id) panel_id, id FROM commands WHERE panel_id = ANY($1::text[]) AND kind = 'snapshot' AND status = 'pending' ORDER BY panel_id, seq",
      [[...panels.keys()]],
    );
    for (const w of waiting.rows) out.set(w.panel_id, { id: w.id, created: false });
    const todo = [...panels.keys()].filter((id) => !out.has(id));
    if (todo.length === 0) return { written: out, busy };
    const rows = await tx.query(
      `SELECT a.panel_id, a.slot, a.role, a.partitions, a.schedule, a.door_locks, a.person_id, a.label, a.tags_ct, p.first_name, p.last_name, p.code_ct,
              ac.id AS account_id, ac.email AS account_email, ac.status AS account_status, ac.created_at AS account_created
       FROM person_panels a JOIN people p ON p.id = a.person_id LEFT JOIN accounts ac ON ac.id = a.account_id
       WHERE a.panel_id = ANY($1::text[]) AND a.enabled AND p.code_ct IS NOT NULL ORDER BY a.panel_id, a.slot`,
      [todo],
    );
    // Per panel, the secrets of its snapshot as one ciphertext: { "<slot>": code, "tags:<slot>": [{ kind, id }] }.
    const tables = new Map<string, { codes: Record<string, unknown>; users: Record<string, unknown>[] }>(todo.map((id) => [id, { codes: {}, users: [] }]));
    for (const r of rows.rows) {
      const panelId = String(r.panel_id);
      const panel = panels.get(panelId)!;
      const { codes, users } = tables.get(panelId)!;
      const type = PANEL_TYPES[panel.type];
      const slot = num(r.slot);
      codes[String(slot)] = store.vault.decrypt(r.code_ct as Uint8Array, `person:${String(r.person_id)}`).reveal();
      const label = r.label ? text(r.label) : nameLabel(text(r.first_name), text(r.last_name), type.labelLength);
      if (r.tags_ct) codes[`tags:${slot}`] = JSON.parse(store.vault.decrypt(r.tags_ct as Uint8Array, `tags:${String(r.person_id)}:${panelId}`).reveal()) as unknown;
      const user: Record<string, unknown> = { slot, label, schedule: r.schedule, doorLocks: r.door_locks ?? [] };
      user.account = r.account_id && r.account_status !== "Suspended" ? { id: text(r.account_id), email: text(r.account_email), createdAt: new Date(r.account_created as Date).getTime(), status: r.account_status } : null;
      if (!type.masterSlots.includes(slot)) Object.assign(user, { role: r.role, partitions: (r.partitions as unknown[]).map(num) });
      users.push(user);
    }
    // Each panel's next seq, as the store allocates one (UPDATE ... next_seq + 1), for all of them at once.
    const seqs = await tx.query<{ id: string; seq: unknown }>("UPDATE panels SET next_seq = next_seq + 1 WHERE id = ANY($1::text[]) RETURNING id, next_seq - 1 AS seq", [todo]);
    const seqOf = new Map(seqs.rows.map((r) => [r.id, num(r.seq)]));
    const made = todo.map((panelId) => {
      const { codes, users } = tables.get(panelId)!;
      const id = randomUUID();
      return { panelId, id, seq: seqOf.get(panelId)!, body: JSON.stringify({ kind: "snapshot", users }), secretHex: store.vault.encrypt(JSON.stringify(codes), `command:${id}`).toString("hex") };
    });
    await tx.query(
      `INSERT INTO commands (id, panel_id, seq, kind, body, secret_ct)
       SELECT x.id, x.panel_id, x.seq, 'snapshot', x.body::jsonb, decode(x.secret, 'hex')
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[]) AS x(id, panel_id, seq, body, secret)`,
      [made.map((m) => m.id), made.map((m) => m.panelId), made.map((m) => m.seq), made.map((m) => m.body), made.map((m) => m.secretHex)],
    );
    for (const m of made) out.set(m.panelId, { id: m.id, created: true });
    return { written: out, busy };
  });
}
