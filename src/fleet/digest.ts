import { tableDigest, type SlotContent } from "../../protocol/index.js";
import { PANEL_TYPES, ROLE_PERMISSIONS, type Role } from "../domain/index.js";
import type { Queryable } from "./db.js";
import type { PanelRow, Schedule } from "./store.js";
import { text } from "./row.js";

/**
 * The digest of a panel's DESIRED table (protocol/README.md section 7.1, `tableDigest`): the view
 * each switched-on person's slot has on the agent once every command applied, built from the
 * fleet's rows with the agent's own normalisations (the name label cut to the type's length in
 * code points, partitions and door locks sorted, weekly days sorted, an all-partitions role holding
 * every partition, a suspended account never sent). Equal to the retained state's `digest` when
 * the panel holds what the fleet wants.
 */
export function nameLabel(firstName: string, lastName: string, max: number): string {
  const name = [firstName.trim(), lastName.trim()].filter(Boolean).join(" ");
  return Array.from(name.trim()).slice(0, max).join("");
}

function normalSchedule(s: Schedule): Schedule {
  if (s.kind !== "weekly") return s;
  return { kind: "weekly", windows: s.windows.map((w) => ({ days: [...new Set(w.days)].sort((a, b) => a - b), start: w.start, end: w.end })) };
}

export async function desiredViews(q: Queryable, panel: PanelRow): Promise<SlotContent[]> {
  return (await desiredViewsOf(q, [panel])).get(panel.id) ?? [];
}

/** The desired views of many panels, with one query. */
export async function desiredViewsOf(q: Queryable, panels: readonly PanelRow[]): Promise<Map<string, SlotContent[]>> {
  const out = new Map<string, SlotContent[]>(panels.map((p) => [p.id, []]));
  if (panels.length === 0) return out;
  const byId = new Map(panels.map((p) => [p.id, p]));
  const r = await q.query(
    `SELECT a.panel_id, a.slot, a.role, a.partitions, a.schedule, a.door_locks, a.label, a.tags, p.first_name, p.last_name,
            ac.id AS account_id, ac.email AS account_email, ac.status AS account_status, ac.created_at AS account_created
     FROM person_panels a JOIN people p ON p.id = a.person_id LEFT JOIN accounts ac ON ac.id = a.account_id
     WHERE a.panel_id = ANY($1::text[]) AND a.enabled AND p.code_ct IS NOT NULL ORDER BY a.panel_id, a.slot`,
    [panels.map((p) => p.id)],
  );
  for (const x of r.rows) {
    const panel = byId.get(String(x.panel_id))!;
    const type = PANEL_TYPES[panel.type];
    const all = Array.from({ length: panel.partitions }, (_, i) => i + 1);
    const role = x.role as Role;
    const account =
      x.account_id && x.account_status !== "Suspended"
        ? { id: text(x.account_id), email: text(x.account_email), createdAt: (x.account_created as Date).getTime(), status: x.account_status as "Active" }
        : null;
    out.get(panel.id)!.push({
      number: Number(x.slot),
      label: x.label ? text(x.label) : nameLabel(text(x.first_name), text(x.last_name), type.labelLength),
      role,
      codeSet: true,
      partitions: ROLE_PERMISSIONS[role].allPartitions ? all : [...new Set((x.partitions as unknown[]).map(Number))].sort((a, b) => a - b),
      schedule: normalSchedule(x.schedule as Schedule),
      doorLocks: [...new Set((x.door_locks as string[] | null) ?? [])].sort(),
      tags: ((x.tags as { kind: "keypad" | "doorlock" }[] | null) ?? []).map((t) => ({ kind: t.kind })),
      account,
    });
  }
  return out;
}

export async function desiredDigest(q: Queryable, panel: PanelRow): Promise<string> {
  return tableDigest(await desiredViews(q, panel));
}

/** The desired digests of many panels, with one query. */
export async function desiredDigests(q: Queryable, panels: readonly PanelRow[]): Promise<Map<string, string>> {
  const views = await desiredViewsOf(q, panels);
  return new Map([...views].map(([id, v]) => [id, tableDigest(v)]));
}
