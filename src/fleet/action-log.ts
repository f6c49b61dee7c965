import { pageWindow, type Page, type PageSize } from "../domain/index.js";
import type { Queryable } from "./db.js";
import { text } from "./row.js";

export type Outcome = "requested" | "applied" | "rejected" | "refused";

export interface ActionEntry {
  actor: { kind: "api_user" | "panel" | "dealer_link" | "system"; id: string; name?: string };
  panelId?: string | null;
  slot?: number | null;
  personId?: string | null;
  action: string;
  outcome: Outcome;
  code?: string;
  sentence?: string;
  commandId?: string;
}

export interface ActionView {
  at: string;
  actor: { kind: string; id: string; name?: string };
  panelId: string | null;
  slot: number | null;
  personId: string | null;
  /** The person's first and last name, while the person exists. */
  personName?: string;
  action: string;
  outcome: Outcome;
  code?: string;
  sentence?: string;
  commandId?: string;
}

/** Writes one entry of the action log (in the caller's transaction when `q` is one). Never carries a code or a tag id. */
export async function logAction(q: Queryable, e: ActionEntry): Promise<void> {
  await logActions(q, [e]);
}

/**
 * Writes entries of the action log in ONE statement over unnest(), in their order (their ids
 * ascend as given): a bulk change of 1,000 panels had been 1,000 INSERTs. Never a code or a tag id.
 */
export async function logActions(q: Queryable, entries: readonly ActionEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const col = <T>(f: (e: ActionEntry) => T): T[] => entries.map(f);
  await q.query(
    `INSERT INTO action_log (actor_kind, actor_id, actor_name, panel_id, slot, person_id, action, outcome, code, sentence, command_id)
     SELECT actor_kind, actor_id, actor_name, panel_id, slot, person_id, action, outcome, code, sentence, command_id
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[]) WITH ORDINALITY
          AS e(actor_kind, actor_id, actor_name, panel_id, slot, person_id, action, outcome, code, sentence, command_id, n)
     ORDER BY n`,
    [
      col((e) => e.actor.kind), col((e) => e.actor.id), col((e) => e.actor.name ?? null), col((e) => e.panelId ?? null), col((e) => e.slot ?? null), col((e) => e.personId ?? null),
      col((e) => e.action), col((e) => e.outcome), col((e) => e.code ?? null), col((e) => e.sentence ?? null), col((e) => e.commandId ?? null),
    ],
  );
}

/** The action log, newest first, filtered by panel and/or person. */
export async function readActionLog(q: Queryable, filter: { panelId?: string; personId?: string }, page: number, perPage: PageSize): Promise<Page<ActionView>> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.panelId) where.push(`l.panel_id = $${params.push(filter.panelId)}`);
  if (filter.personId) where.push(`l.person_id = $${params.push(filter.personId)}`);
  const clause = where.length ? `WHERE ${where.join(" AND ")}` : "";
  const total = Number((await q.query<{ n: unknown }>(`SELECT count(*) AS n FROM action_log l ${clause}`, params)).rows[0]!.n);
  const w = pageWindow(total, page, perPage);
  const r = await q.query(
    `SELECT l.*, p.first_name AS person_first, p.last_name AS person_last FROM action_log l LEFT JOIN people p ON p.id = l.person_id ${clause} ORDER BY l.id DESC LIMIT ${w.perPage} OFFSET ${w.offset}`,
    params,
  );
  return w.withRows(
    r.rows.map((x) => ({
      at: (x.at as Date).toISOString(),
      actor: { kind: text(x.actor_kind), id: text(x.actor_id), ...(x.actor_name ? { name: text(x.actor_name) } : {}) },
      panelId: (x.panel_id as string | null) ?? null,
      slot: x.slot === null ? null : Number(x.slot),
      personId: (x.person_id as string | null) ?? null,
      ...(x.person_first !== null && x.person_first !== undefined ? { personName: `${text(x.person_first)} ${text(x.person_last)}` } : {}),
      action: String(x.action),
      outcome: x.outcome as Outcome,
      ...(x.code ? { code: text(x.code) } : {}),
      ...(x.sentence ? { sentence: text(x.sentence) } : {}),
      ...(x.command_id ? { commandId: text(x.command_id) } : {}),
    })),
  );
}
