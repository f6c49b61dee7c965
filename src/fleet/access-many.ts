import { randomUUID } from "node:crypto";
import { PANEL_TYPES, type Role } from "../domain/index.js";
import { Secret } from "../domain/index.js";
import { accountToCheck, checkSlot, needsFreeSlot, planAccess, tagsToCheck, type AccessPlan, type CommandSecret, type CurrentAccess, type PlanAccount, type PlanLookups, type PlanPerson } from "./access-plan.js";
import type { CodeVault } from "./code-vault.js";
import type { Queryable } from "./db.js";
import { FleetError } from "./errors.js";
import { panelFromRow, type PanelRow } from "./panel-row.js";
import { num, text } from "./row.js";
import type { AccessInput, AccessView, Schedule, TagInput } from "./store.js";

/**
 * A person's access at many panels in the caller's transaction, set-based: a constant number of
 * statements whatever the number of panels (a bulk PUT of 1,000 panels had been 4,000 statements).
 *
 *   1. the panels, locked in id order (FOR UPDATE);
 *   2. the person (FOR UPDATE) with their access rows at those panels;
 *   3. per panel, what the rules read of the other rows (slot taken, the master slot taken, the
 *      first free slot, code clash, the account and who holds it there), over unnest();
 *   4. the rules per panel in JS (access-plan.ts), in panel-id order: the first refusal refuses the
 *      whole call (nothing written), naming its panel when the call has several;
 *   5. one statement writes every person_panels row, allocates every panel's seqs
 *      (UPDATE panels … FROM unnest … RETURNING) and inserts every command with its seq.
 *
 * Panels before the person, in id order: the order every writer takes them in, so two calls over
 * overlapping panels cannot deadlock.
 */

export type AccessManyInput = AccessInput & { panelId: string };

export interface AccessResult {
  access: AccessView;
  commands: string[];
}

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function currentFromRow(r: Record<string, unknown>): CurrentAccess {
  return {
    enabled: r.enabled === true,
    slot: num(r.slot),
    role: r.role as Role,
    partitions: (r.partitions as unknown[]).map(num),
    schedule: r.schedule as Schedule,
    doorLocks: (r.door_locks as string[] | null) ?? [],
    label: (r.label as string | null) ?? null,
    tags: (r.tags as { kind: string }[] | null) ?? [],
    tagsCt: (r.tags_ct as Uint8Array | null) ?? null,
    accountId: (r.account_id as string | null) ?? null,
  };
}

/** The refusal of one panel in a call of several says which panel (unless it already does). */
function naming(err: unknown, panelId: string, several: boolean): unknown {
  if (!several || !(err instanceof FleetError) || err.detail?.panelId !== undefined) return err;
  return new FleetError(err.code, { ...err.detail, panelId });
}

export async function setAccessMany(vault: CodeVault, tx: Queryable, personId: string, inputs: readonly AccessManyInput[]): Promise<AccessResult[]> {
  if (inputs.length === 0) return [];
  const ordered = [...inputs].sort((a, b) => byId(a.panelId, b.panelId));
  for (let i = 1; i < ordered.length; i++) if (ordered[i]!.panelId === ordered[i - 1]!.panelId) throw new FleetError("invalid_request", { path: "panels", issue: "each panel once" });
  const ids = ordered.map((i) => i.panelId);
  const several = ordered.length > 1;

  // 1. the panels, locked in id order
  const locked = await tx.query("SELECT * FROM panels WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE", [ids]);
  const panels = new Map<string, PanelRow>(locked.rows.map((r) => [String(r.id), panelFromRow(r)]));

  // 2. the person (locked) and their access at those panels
  const pr = await tx.query(
    `SELECT p.id, p.first_name, p.last_name, p.code_ct, p.code_mac, p.access_period,
            a.panel_id, a.enabled, a.slot, a.role, a.partitions, a.schedule, a.door_locks, a.label, a.tags, a.tags_ct, a.tag_macs, a.account_id
     FROM people p LEFT JOIN person_panels a ON a.person_id = p.id AND a.panel_id = ANY($2::text[]) WHERE p.id = $1 FOR UPDATE OF p`,
    [personId, ids],
  );
  const p0 = pr.rows[0];
  if (!p0) {
    // The per-panel order of refusals: a missing panel before the first existing one is refused first.
    for (const { panelId } of ordered) {
      if (!panels.has(panelId)) throw new FleetError("panel_not_found", { panelId });
      break;
    }
    throw new FleetError("person_not_found", { personId });
  }
  const person: PlanPerson = {
    id: String(p0.id),
    firstName: String(p0.first_name),
    lastName: String(p0.last_name),
    hasCode: Boolean(p0.code_ct),
    accessPeriod: (p0.access_period as Schedule | null) ?? null,
  };
  const codeMac = p0.code_ct ? ((p0.code_mac as string | null) ?? null) : null;
  const current = new Map<string, CurrentAccess>();
  /** The stored rows' tag digests (CodeVault.tagMac), per panel. */
  const storedMacs = new Map<string, string[]>();
  for (const r of pr.rows) {
    if (r.panel_id === null || r.panel_id === undefined) continue;
    current.set(text(r.panel_id), currentFromRow(r));
    storedMacs.set(text(r.panel_id), (r.tag_macs as string[] | null) ?? []);
  }
  /** The digests of each input's new tags (none when it sets none), computed once for the check and the write. */
  const newMacs = new Map(ordered.map((i) => [i.panelId, i.tags !== undefined ? tagMacsOf(vault, i.tags) : ""]));

  // 3. what the rules read of the panels' other rows, for every existing panel at once
  const present = ordered.filter((i) => panels.has(i.panelId));
  const asked = present.map((i) => {
    const panel = panels.get(i.panelId)!;
    const cur = current.get(i.panelId);
    const type = PANEL_TYPES[panel.type];
    return {
      panelId: i.panelId,
      checkSlot: checkSlot(i, cur) ?? null,
      masterSlot: type.masterSlots[0]!,
      wantFree: needsFreeSlot(panel, i, cur),
      capacity: panel.capacity,
      masterSlots: `{${type.masterSlots.join(",")}}`,
      accountId: accountToCheck(i, cur),
      wantClash: i.enabled && cur?.enabled !== true && codeMac !== null,
      tagMacs: tagMacsToCheck(i, cur),
    };
  });
  /** The digests the uniqueness check compares (see tagsToCheck), comma-joined, or null for none. */
  function tagMacsToCheck(i: AccessManyInput, cur: CurrentAccess | undefined): string | null {
    const which = tagsToCheck(i, cur);
    if (which === null) return null;
    return which === "stored" ? (storedMacs.get(i.panelId) ?? []).join(",") : newMacs.get(i.panelId)!;
  }
  const looked = new Map<string, Record<string, unknown>>();
  if (asked.length > 0) {
    const r = await tx.query(
      `SELECT u.panel_id,
              u.check_slot IS NOT NULL AND EXISTS (SELECT 1 FROM person_panels t WHERE t.panel_id = u.panel_id AND t.slot = u.check_slot AND t.person_id <> $1) AS slot_taken,
              EXISTS (SELECT 1 FROM person_panels t WHERE t.panel_id = u.panel_id AND t.slot = u.master_slot) AS master_taken,
              -- the first free slot that is not a master slot: 1, or just after a taken slot or a master slot
              CASE WHEN u.want_free THEN (
                SELECT min(c.s) FROM (SELECT 1 AS s UNION ALL SELECT m + 1 FROM unnest(u.master_slots::int[]) AS m UNION ALL SELECT t.slot + 1 FROM person_panels t WHERE t.panel_id = u.panel_id) AS c
                WHERE c.s <= u.capacity AND c.s <> ALL(u.master_slots::int[]) AND NOT EXISTS (SELECT 1 FROM person_panels f WHERE f.panel_id = u.panel_id AND f.slot = c.s)
              ) END AS free_slot,
              u.want_clash AND EXISTS (SELECT 1 FROM person_panels o JOIN people q ON q.id = o.person_id WHERE o.panel_id = u.panel_id AND o.enabled AND o.person_id <> $1 AND q.code_mac = $2) AS code_clash,
              u.tag_macs IS NOT NULL AND EXISTS (SELECT 1 FROM person_panels o WHERE o.panel_id = u.panel_id AND o.enabled AND o.person_id <> $1 AND o.tag_macs && string_to_array(u.tag_macs, ',')) AS tag_clash,
              ac.id AS account_id, ac.email AS account_email, ac.status AS account_status, ac.created_at AS account_created,
              CASE WHEN u.account_id IS NOT NULL THEN (SELECT min(o.slot) FROM person_panels o WHERE o.panel_id = u.panel_id AND o.account_id = u.account_id AND o.person_id <> $1 AND o.enabled) END AS owner_slot
       FROM unnest($3::text[], $4::int[], $5::int[], $6::boolean[], $7::int[], $8::text[], $9::text[], $10::boolean[], $11::text[])
            AS u(panel_id, check_slot, master_slot, want_free, capacity, master_slots, account_id, want_clash, tag_macs)
       LEFT JOIN accounts ac ON ac.id = u.account_id`,
      [
        personId, codeMac,
        asked.map((a) => a.panelId), asked.map((a) => a.checkSlot), asked.map((a) => a.masterSlot), asked.map((a) => a.wantFree),
        asked.map((a) => a.capacity), asked.map((a) => a.masterSlots), asked.map((a) => a.accountId), asked.map((a) => a.wantClash),
        asked.map((a) => a.tagMacs),
      ],
    );
    for (const row of r.rows) looked.set(text(row.panel_id), row);
  }

  // 4. the rules, panel by panel in id order; the first refusal refuses the call
  let code: Secret | undefined;
  const theCode = (): Secret => (code ??= vault.decrypt(p0.code_ct as Uint8Array, `person:${personId}`));
  const plans: { panelId: string; cur: CurrentAccess | undefined; plan: AccessPlan }[] = [];
  for (const input of ordered) {
    const panel = panels.get(input.panelId);
    if (!panel) throw new FleetError("panel_not_found", { panelId: input.panelId });
    const l = looked.get(input.panelId)!;
    const account: PlanAccount | null | undefined =
      accountToCheck(input, current.get(input.panelId)) === null
        ? undefined
        : l.account_id === null || l.account_id === undefined
          ? null
          : { id: text(l.account_id), email: text(l.account_email), createdAt: new Date(l.account_created as Date).getTime(), status: l.account_status as PlanAccount["status"] };
    const lookups: PlanLookups = {
      slotTaken: l.slot_taken === true,
      masterSlotTaken: l.master_taken === true,
      freeSlot: l.free_slot === null || l.free_slot === undefined ? null : num(l.free_slot),
      codeClash: l.code_clash === true,
      tagClash: l.tag_clash === true,
      account,
      accountOwnerSlot: l.owner_slot === null || l.owner_slot === undefined ? null : num(l.owner_slot),
      code: theCode,
    };
    const { panelId, ...change } = input;
    const cur = current.get(panelId);
    try {
      plans.push({ panelId, cur, plan: planAccess(panel, person, cur, change, lookups) });
    } catch (err) {
      throw naming(err, panelId, several);
    }
  }

  // 5. one statement: the access rows, the seqs, the commands with their secrets encrypted per command
  const tagsCts = plans.map(({ panelId, cur, plan }) => {
    const aad = `tags:${personId}:${panelId}`;
    if (plan.row.tags === "keep") return cur?.tagsCt ?? null;
    return plan.row.tags.set.length ? vault.encrypt(JSON.stringify(plan.row.tags.set), aad) : null;
  });
  const secretOf = (s: CommandSecret, panelId: string, cur: CurrentAccess | undefined): Secret => {
    if (s.kind === "code") return theCode();
    if (s.kind === "tags") return new Secret(s.json);
    return vault.decrypt(cur!.tagsCt!, `tags:${personId}:${panelId}`);
  };
  const rows = plans.map((p) => p.plan.row);
  const written = await writePanelCommands(
    vault, tx, personId,
    plans.map(({ panelId, cur, plan }) => ({ panelId, commands: plan.commands.map((c) => ({ body: c.body, ...(c.secret ? { secret: secretOf(c.secret, panelId, cur) } : {}) })) })),
    {
      sql: `up AS (
       INSERT INTO person_panels (person_id, panel_id, enabled, slot, role, partitions, schedule, door_locks, account_id, label, tags, tags_ct, tag_macs, updated_at)
       SELECT $1, x.panel_id, x.enabled, x.slot, x.role,
              ARRAY(SELECT e.v::int FROM jsonb_array_elements_text(x.partitions::jsonb) WITH ORDINALITY AS e(v, i) ORDER BY e.i),
              x.schedule::jsonb,
              ARRAY(SELECT e.v FROM jsonb_array_elements_text(x.door_locks::jsonb) WITH ORDINALITY AS e(v, i) ORDER BY e.i),
              x.account_id, x.label, x.tags::jsonb, decode(x.tags_ct, 'hex'), string_to_array(x.tag_macs, ','), now()
       FROM unnest($2::text[], $3::boolean[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])
            AS x(panel_id, enabled, slot, role, partitions, schedule, door_locks, account_id, label, tags, tags_ct, tag_macs)
       ON CONFLICT (person_id, panel_id) DO UPDATE SET enabled = EXCLUDED.enabled, slot = EXCLUDED.slot, role = EXCLUDED.role, partitions = EXCLUDED.partitions,
         schedule = EXCLUDED.schedule, door_locks = EXCLUDED.door_locks, account_id = EXCLUDED.account_id, label = EXCLUDED.label, tags = EXCLUDED.tags,
         tags_ct = EXCLUDED.tags_ct, tag_macs = EXCLUDED.tag_macs, version = person_panels.version + 1, updated_at = now()
     )`,
      params: [
        plans.map((p) => p.panelId), rows.map((r) => r.enabled), rows.map((r) => r.slot), rows.map((r) => r.role), rows.map((r) => JSON.stringify(r.partitions)),
        rows.map((r) => JSON.stringify(r.schedule)), rows.map((r) => JSON.stringify(r.doorLocks)), rows.map((r) => r.accountId), rows.map((r) => r.label),
        rows.map((r) => JSON.stringify(r.tagKinds)), tagsCts.map((ct) => (ct ? Buffer.from(ct).toString("hex") : null)),
        plans.map(({ panelId, plan }) => (plan.row.tags === "keep" ? (storedMacs.get(panelId) ?? []).join(",") : newMacs.get(panelId)!)),
      ],
    },
  );
  return plans.map((p, i) => ({ access: p.plan.access, commands: written[i]! }));
}

/**
 * Writes commands of the outbox at many panels in ONE statement, inside `tx` (the panels locked by
 * the caller): every panel's seqs allocated (UPDATE panels … FROM unnest … RETURNING the first) and
 * every command inserted at its panel's first seq + its place, each secret encrypted under the
 * vault with AAD `command:<id>`. `with` is a data-modifying CTE run in the same statement, its
 * parameters numbered from $2 ($1 is the person). Answers each panel's command ids, in order.
 */
export async function writePanelCommands(
  vault: CodeVault,
  tx: Queryable,
  personId: string | null,
  perPanel: readonly { panelId: string; commands: readonly { body: Record<string, unknown> & { kind: string }; secret?: Secret }[] }[],
  also?: { sql: string; params: unknown[] },
): Promise<string[][]> {
  const cmd = { id: [] as string[], panel: [] as string[], k: [] as number[], kind: [] as string[], body: [] as string[], secret: [] as (string | null)[] };
  const counts = { panel: [] as string[], n: [] as number[] };
  const out = perPanel.map(({ panelId, commands }) => {
    const ids = commands.map((c, i) => {
      const id = randomUUID();
      cmd.id.push(id);
      cmd.panel.push(panelId);
      cmd.k.push(i + 1);
      cmd.kind.push(c.body.kind);
      cmd.body.push(JSON.stringify(c.body));
      cmd.secret.push(c.secret ? vault.encrypt(c.secret, `command:${id}`).toString("hex") : null);
      return id;
    });
    if (ids.length > 0) {
      counts.panel.push(panelId);
      counts.n.push(ids.length);
    }
    return ids;
  });
  if (cmd.id.length === 0 && !also) return out;
  const n = 2 + (also?.params.length ?? 0);
  const $ = (i: number) => `$${n + i}`;
  const w = await tx.query(
    `WITH ${also ? `${also.sql},` : ""}
     a AS (
       UPDATE panels p SET next_seq = p.next_seq + n.n FROM unnest(${$(0)}::text[], ${$(1)}::int[]) AS n(panel_id, n) WHERE p.id = n.panel_id RETURNING p.id, p.next_seq - n.n AS first
     )
     INSERT INTO commands (id, panel_id, seq, kind, body, secret_ct, person_id)
     SELECT c.id, c.panel_id, a.first + c.k - 1, c.kind, c.body::jsonb, decode(c.secret_ct, 'hex'), $1
     FROM unnest(${$(2)}::text[], ${$(3)}::text[], ${$(4)}::int[], ${$(5)}::text[], ${$(6)}::text[], ${$(7)}::text[]) AS c(id, panel_id, k, kind, body, secret_ct) JOIN a ON a.id = c.panel_id`,
    [personId, ...(also?.params ?? []), counts.panel, counts.n, cmd.id, cmd.panel, cmd.k, cmd.kind, cmd.body, cmd.secret],
  );
  if (w.rowCount !== cmd.id.length) throw new FleetError("internal_error");
  return out;
}

/** A row's tag digests as `tag_macs` is written from: distinct CodeVault.tagMac of each id, comma-joined (hex has no comma). */
function tagMacsOf(vault: CodeVault, tags: readonly TagInput[]): string {
  return [...new Set(tags.map((t) => vault.tagMac(t.id)))].join(",");
}

/**
 * Fills in the tag digests of access rows written before migration 5 (tags_ct set, tag_macs empty:
 * a row with tags always has at least one), 500 rows a statement. Idempotent: workers starting at
 * once write the same values. Answers how many rows it filled.
 */
export async function backfillTagMacs(vault: CodeVault, db: Queryable): Promise<number> {
  let filled = 0;
  // Keyset paging: every row is visited once, so a row whose digests stay empty (tags_ct holding
  // an empty list) cannot make the loop read it again for ever.
  let after = { person: "", panel: "" };
  for (;;) {
    const r = await db.query<{ person_id: string; panel_id: string; tags_ct: Uint8Array }>(
      `SELECT person_id, panel_id, tags_ct FROM person_panels WHERE tags_ct IS NOT NULL AND cardinality(tag_macs) = 0 AND (person_id, panel_id) > ($1, $2)
       ORDER BY person_id, panel_id LIMIT 500`,
      [after.person, after.panel],
    );
    if (r.rows.length === 0) return filled;
    const last = r.rows[r.rows.length - 1]!;
    after = { person: last.person_id, panel: last.panel_id };
    const macs = r.rows.map((row) => tagMacsOf(vault, JSON.parse(vault.decrypt(row.tags_ct, `tags:${row.person_id}:${row.panel_id}`).reveal()) as TagInput[]));
    await db.query(
      `UPDATE person_panels a SET tag_macs = string_to_array(x.macs, ',') FROM unnest($1::text[], $2::text[], $3::text[]) AS x(person_id, panel_id, macs)
       WHERE a.person_id = x.person_id AND a.panel_id = x.panel_id`,
      [r.rows.map((row) => row.person_id), r.rows.map((row) => row.panel_id), macs],
    );
    filled += macs.filter((m) => m !== "").length;
  }
}
