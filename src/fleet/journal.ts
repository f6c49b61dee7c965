import type { Db, Queryable } from "./db.js";
import { panelFromRow, type PanelRow } from "./panel-row.js";

/**
 * The dispatcher's side of the command journal, for many panels per statement: the publisher
 * leases, the pending windows, `sent` marks, the fates of acked commands and the states panels
 * report. A round of the dispatcher costs a few statements whatever the number of panels in it
 * (it was several per panel, and one transaction per ack: 23 s for a 1,000-panel fan-out, most of
 * it waiting for row locks and commits).
 *
 * The statements that update many `panels` rows for the dispatcher (leases, reported states, last
 * acks) lock them in id order and SKIP the rows a transaction holds (an API call writing commands
 * holds its panels' rows until it commits: waiting for them, the dispatcher's statements held the
 * rows before them, and the API's next calls queued behind those: every writer in single file).
 * What was skipped is done in a later round or flush.
 */

/** A journal row as the dispatcher takes it. */
export interface JournalCommand {
  id: string;
  panelId: string;
  seq: number;
  kind: string;
  body: Record<string, unknown>;
  secretCt: Buffer | null;
}

/** A command's fate as an ack (or a local refusal) decided it. */
export interface Fate {
  status: "applied" | "rejected" | "superseded";
  code?: string;
  sentence?: string;
  wireSeq?: number;
}

export interface FateRecord {
  panelId: string;
  seq: number;
  fate: Fate;
}

/** What a panel reported in its retained state. */
export interface ReportedState {
  /** When the agent made it (its clock, ms): of two reports at one lastSeq, the later counts. */
  at?: number;
  lastSeq: number;
  epoch?: string;
  digest: string;
  dealerAccess?: { until: number; hours: number } | null;
}

/** A panel's row after its state was recorded, with the epoch it had before. */
export interface RecordedState {
  panel: PanelRow;
  previousEpoch: string | null;
}

const commandOf = (x: Record<string, unknown>): JournalCommand => ({
  id: String(x.id),
  panelId: String(x.panel_id),
  seq: Number(x.seq),
  kind: String(x.kind),
  body: x.body as Record<string, unknown>,
  secretCt: x.secret_ct ? Buffer.from(x.secret_ct as Uint8Array) : null,
});

/** Rows of `panels` locked in id order, skipping those another transaction holds (for a sub-select of an UPDATE). */
const LOCKED_IN_ORDER = (where: string) => `(SELECT id FROM panels WHERE ${where} ORDER BY id FOR UPDATE SKIP LOCKED)`;

export class Journal {
  constructor(readonly db: Db) {}

  // ---------------------------------------------------------------------------------------------
  // publisher leases

  /**
   * Takes or renews the publisher lease of each panel for `owner` until now + ttl (the database's
   * clock, so workers' clocks do not matter), in one statement. Answers the panels whose lease
   * `owner` holds now, with their rows, and those another worker holds (unexpired). A panel in
   * neither was busy (its row held by a transaction) or is unknown: try again later.
   */
  async acquireLeases(panelIds: readonly string[], owner: string, ttlMs: number): Promise<{ held: Map<string, PanelRow>; taken: Set<string> }> {
    const held = new Map<string, PanelRow>();
    const taken = new Set<string>();
    if (panelIds.length === 0) return { held, taken };
    const r = await this.db.query(
      `UPDATE panels p SET lease_owner = $2, lease_until = now() + ($3::int * interval '1 millisecond')
       FROM ${LOCKED_IN_ORDER("id = ANY($1::text[]) AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < now())")} s
       WHERE p.id = s.id RETURNING p.*`,
      [[...panelIds], owner, ttlMs],
    );
    for (const row of r.rows) held.set(String(row.id), panelFromRow(row));
    const rest = panelIds.filter((id) => !held.has(id));
    if (rest.length > 0) {
      const other = await this.db.query<{ id: string }>("SELECT id FROM panels WHERE id = ANY($1::text[]) AND lease_owner <> $2 AND lease_until >= now()", [rest, owner]);
      for (const x of other.rows) taken.add(x.id);
    }
    return { held, taken };
  }

  /** One panel's lease (see acquireLeases). False when another worker holds an unexpired lease. */
  async acquireLease(panelId: string, owner: string, ttlMs: number): Promise<boolean> {
    for (;;) {
      const { held, taken } = await this.acquireLeases([panelId], owner, ttlMs);
      if (held.has(panelId)) return true;
      if (taken.has(panelId) || !(await this.db.query("SELECT 1 FROM panels WHERE id = $1", [panelId])).rows[0]) return false;
      await new Promise((r) => setTimeout(r, 10)); // its row was busy
    }
  }

  async releaseLeases(panelIds: readonly string[], owner: string): Promise<void> {
    if (panelIds.length === 0) return;
    await this.db.query(
      "UPDATE panels p SET lease_owner = NULL, lease_until = NULL FROM (SELECT id FROM panels WHERE id = ANY($1::text[]) AND lease_owner = $2 ORDER BY id FOR UPDATE) s WHERE p.id = s.id",
      [[...panelIds], owner],
    );
  }

  async releaseLease(panelId: string, owner: string): Promise<void> {
    await this.releaseLeases([panelId], owner);
  }

  /** Panels whose unexpired lease another worker than `owner` holds, with the milliseconds left of it (the database's clock). */
  async leasesOfOthers(owner: string): Promise<Map<string, number>> {
    const r = await this.db.query<{ id: string; ms: unknown }>(
      "SELECT id, extract(epoch FROM lease_until - now()) * 1000 AS ms FROM panels WHERE lease_owner IS NOT NULL AND lease_owner <> $1 AND lease_until > now()",
      [owner],
    );
    return new Map(r.rows.map((x) => [x.id, Number(x.ms)]));
  }

  async leaseOwner(panelId: string): Promise<string | null> {
    const r = await this.db.query<{ lease_owner: string | null }>("SELECT lease_owner FROM panels WHERE id = $1 AND lease_until > now()", [panelId]);
    return r.rows[0]?.lease_owner ?? null;
  }

  // ---------------------------------------------------------------------------------------------
  // pending windows

  /**
   * Panels with pending commands that `owner` may publish to: free, expired, or its own lease
   * (all of them without `owner`).
   */
  async panelsWithPending(owner?: string): Promise<string[]> {
    const r = owner
      ? await this.db.query<{ panel_id: string }>(
          `SELECT p.id AS panel_id FROM panels p WHERE (p.lease_owner IS NULL OR p.lease_owner = $1 OR p.lease_until < now())
             AND EXISTS (SELECT 1 FROM commands c WHERE c.panel_id = p.id AND c.status = 'pending') ORDER BY p.id`,
          [owner],
        )
      : await this.db.query<{ panel_id: string }>("SELECT DISTINCT panel_id FROM commands WHERE status = 'pending' ORDER BY panel_id");
    return r.rows.map((x) => x.panel_id);
  }

  /** A panel's pending commands in seq order. */
  async pending(panelId: string, limit: number): Promise<JournalCommand[]> {
    return (await this.pendingAfter([{ panelId, after: 0 }], limit)).get(panelId) ?? [];
  }

  /** For each panel, up to `limit` pending commands after seq `after`, in seq order; one statement for all. */
  async pendingAfter(windows: readonly { panelId: string; after: number }[], limit: number): Promise<Map<string, JournalCommand[]>> {
    const out = new Map<string, JournalCommand[]>();
    if (windows.length === 0) return out;
    const r = await this.db.query(
      `SELECT c.id, c.panel_id, c.seq, c.kind, c.body, c.secret_ct
       FROM unnest($1::text[], $2::bigint[]) AS w(panel_id, after)
       CROSS JOIN LATERAL (SELECT * FROM commands c WHERE c.panel_id = w.panel_id AND c.status = 'pending' AND c.seq > w.after ORDER BY c.seq LIMIT $3) c
       ORDER BY c.panel_id, c.seq`,
      [windows.map((w) => w.panelId), windows.map((w) => w.after), limit],
    );
    for (const row of r.rows) {
      const c = commandOf(row);
      const list = out.get(c.panelId);
      if (list) list.push(c);
      else out.set(c.panelId, [c]);
    }
    return out;
  }

  /** Marks commands (by id, any panels) handed to the cloud client, in one statement. */
  async markSent(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.query("UPDATE commands SET sent_at = coalesce(sent_at, now()), attempts = attempts + 1 WHERE id = ANY($1::text[]) AND status = 'pending'", [[...ids]]);
  }

  /**
   * Commands the panel consumed (its lastSeq reached them) while no worker was waiting for their
   * acks (a worker died after publishing): their fate cannot be read back, so they are superseded
   * with `ack_lost`, and the caller writes a snapshot that makes the panel's table certain again.
   */
  async markAckLost(panelId: string, throughSeq: number): Promise<number> {
    const r = await this.db.query(
      `UPDATE commands SET status = 'superseded', error_code = 'ack_lost', error_sentence = $3, acked_at = now(), secret_ct = NULL
       WHERE panel_id = $1 AND seq <= $2 AND status = 'pending'`,
      [panelId, throughSeq, "The panel consumed this command while no worker was waiting for its ack; a snapshot restores the panel's table."],
    );
    return r.rowCount;
  }

  // ---------------------------------------------------------------------------------------------
  // fates

  /** One fate (see recordOutcomes), with the panel's `last_ack_at`. */
  async recordOutcome(panelId: string, seq: number, fate: Fate): Promise<boolean> {
    const acked = new Set<string>();
    const changed = (await this.recordOutcomes([{ panelId, seq, fate }], acked))[0]!;
    if (acked.size > 0) await this.db.query("UPDATE panels SET last_ack_at = now() WHERE id = $1", [panelId]);
    return changed;
  }

  /**
   * Sets `last_ack_at` of panels whose acks were recorded, skipping rows a transaction holds (an API
   * call writing commands there): answers those it set; the caller tries the others again later.
   */
  async markAcked(panelIds: readonly string[]): Promise<Set<string>> {
    if (panelIds.length === 0) return new Set();
    const r = await this.db.query<{ id: string }>(`UPDATE panels p SET last_ack_at = now() FROM ${LOCKED_IN_ORDER("id = ANY($1::text[])")} s WHERE p.id = s.id RETURNING p.id`, [[...panelIds]]);
    return new Set(r.rows.map((x) => x.id));
  }

  /**
   * Records the fates of many commands by (panel, seq) in ONE transaction, idempotently: only a
   * pending command changes, so a second ack of the same command (a redelivery, another worker)
   * changes nothing. Answers, per record, whether it changed the command.
   *
   * In the same transaction: each panel's ack goes into the action log (once: only a pending
   * command changes), and a snapshot that applied supersedes the commands before it
   * that never took effect (still pending, or refused `sequence_gap`, protocol section 5). A
   * `sequence_gap` refusal recorded after such a snapshot is recorded as superseded at once: the
   * gap refusals of a batch are recorded after its other fates and the supersedes they imply.
   * The panels acked are added to `acked`. With `markAck`, the `last_ack_at` of the panels acked
   * that it says yes to is set in the same transaction (one statement, skipping the rows another
   * transaction holds, like markAcked), and those set are added to `marked`: the caller marks the
   * others later (markAcked).
   */
  async recordOutcomes(records: readonly FateRecord[], acked = new Set<string>(), markAck?: (panelId: string) => boolean, marked?: Set<string>): Promise<boolean[]> {
    const changed = records.map(() => false);
    if (records.length === 0) return changed;
    const first = new Map<string, number>();
    records.forEach((r, i) => {
      const key = `${r.panelId}\u0000${r.seq}`;
      if (!first.has(key)) first.set(key, i);
    });
    const unique = [...first.values()];
    const gaps = unique.filter((i) => records[i]!.fate.code === "sequence_gap");
    const others = unique.filter((i) => records[i]!.fate.code !== "sequence_gap");
    const ackedHere = new Set<string>();
    let markedHere: string[] = [];
    await this.db.transaction(async (tx) => {
      changed.fill(false);
      ackedHere.clear();
      markedHere = [];
      const logged: { i: number; row: FateRow }[] = [];
      const apply = async (which: number[]) => {
        const rows = await updateFates(tx, which.map((i) => records[i]!));
        const at = new Map(which.map((i) => [`${records[i]!.panelId}\u0000${records[i]!.seq}`, i]));
        const snapshots: FateRow[] = [];
        for (const row of rows) {
          const i = at.get(`${row.panel_id}\u0000${Number(row.seq)}`)!;
          changed[i] = true;
          if (records[i]!.fate.status !== "superseded") ackedHere.add(row.panel_id);
          if (row.status === "applied" || row.status === "rejected") logged.push({ i, row });
          if (row.kind === "snapshot" && row.status === "applied") snapshots.push(row);
        }
        if (snapshots.length > 0) {
          await tx.query(
            `UPDATE commands c SET status = 'superseded', acked_at = coalesce(c.acked_at, now()), secret_ct = NULL
             FROM unnest($1::text[], $2::bigint[]) AS s(panel_id, seq)
             WHERE c.panel_id = s.panel_id AND c.seq < s.seq AND (c.status = 'pending' OR (c.status = 'rejected' AND c.error_code = 'sequence_gap'))`,
            [snapshots.map((s) => s.panel_id), snapshots.map((s) => Number(s.seq))],
          );
        }
      };
      if (others.length > 0) await apply(others);
      if (gaps.length > 0) await apply(gaps);
      if (logged.length > 0) {
        logged.sort((a, b) => a.i - b.i);
        const col = <T>(f: (x: { i: number; row: FateRow }) => T) => logged.map(f);
        const rejected = (x: { i: number; row: FateRow }) => x.row.status === "rejected" && Boolean(records[x.i]!.fate.code);
        await tx.query(
          `INSERT INTO action_log (actor_kind, actor_id, panel_id, slot, person_id, action, outcome, code, sentence, command_id)
           SELECT 'panel', x.panel_id, x.panel_id, x.slot, x.person_id, x.action, x.outcome, x.code, x.sentence, x.command_id
           FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY
             AS x(panel_id, slot, person_id, action, outcome, code, sentence, command_id, n)
           ORDER BY x.n`,
          [
            col((x) => x.row.panel_id),
            col((x) => (x.row.slot === null ? null : Number(x.row.slot))),
            col((x) => x.row.person_id),
            col((x) => x.row.kind),
            col((x) => x.row.status),
            col((x) => (rejected(x) ? records[x.i]!.fate.code! : null)),
            col((x) => (rejected(x) ? (records[x.i]!.fate.sentence ?? "") : null)),
            col((x) => x.row.id),
          ],
        );
      }
      const mark = markAck ? [...ackedHere].filter(markAck) : [];
      if (mark.length > 0) {
        const r = await tx.query<{ id: string }>(`UPDATE panels p SET last_ack_at = now() FROM ${LOCKED_IN_ORDER("id = ANY($1::text[])")} s WHERE p.id = s.id RETURNING p.id`, [mark]);
        markedHere = r.rows.map((x) => x.id);
      }
    });
    for (const id of ackedHere) acked.add(id);
    for (const id of markedHere) marked?.add(id);
    return changed;
  }

  // ---------------------------------------------------------------------------------------------
  // reported states

  /**
   * Records what panels last reported in their retained states, many panels in one statement.
   * Answers each known panel's row as recorded, with the epoch it had before (a new epoch: the
   * panel's database was made anew), and the panels whose row a transaction held (not recorded:
   * try again later). A panel the fleet does not know is in neither.
   */
  async recordPanelStates(states: ReadonlyMap<string, ReportedState>): Promise<{ recorded: RecordedState[]; busy: string[] }> {
    if (states.size === 0) return { recorded: [], busy: [] };
    const ids = [...states.keys()];
    const list = ids.map((id) => states.get(id)!);
    // One statement: the rows recorded (locked in id order, skipping those a transaction holds), and
    // the known panels skipped (busy: not locked), which the outer SELECT finds among the rows `old`
    // did not lock (it reads the rows as they were before the statement: only their ids are taken).
    //
    // A report older than the one recorded is left out (neither recorded nor busy): in one epoch a
    // panel's lastSeq never goes down, and at one lastSeq the later report (the agent's `at`) counts.
    // A retained state can come back stale: NATS served a panel's first state (lastSeq 0, an empty
    // table) to a worker that re-subscribed after its node was killed, long after newer ones; recorded,
    // it hid that the panel had applied everything, and the panel stayed in the drift report. A new
    // epoch is always recorded (a reset panel's clock may be behind).
    const r = await this.db.query(
      `WITH s AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::int[], $7::bigint[]) AS s(id, last_seq, epoch, digest, dealer_until, dealer_hours, at)),
            old AS (SELECT p.id, p.epoch FROM panels p WHERE p.id = ANY($1::text[]) ORDER BY p.id FOR UPDATE SKIP LOCKED),
            u AS (UPDATE panels p SET last_seq = s.last_seq, epoch = s.epoch, digest = s.digest, state_at = now(), state_reported_at = s.at, dealer_until = s.dealer_until, dealer_hours = s.dealer_hours
                  FROM s JOIN old ON old.id = s.id WHERE p.id = s.id
                    AND (p.epoch IS DISTINCT FROM s.epoch OR p.last_seq IS NULL OR s.last_seq > p.last_seq
                         OR (s.last_seq = p.last_seq AND (s.at IS NULL OR p.state_reported_at IS NULL OR s.at >= p.state_reported_at)))
                  RETURNING p.*, old.epoch AS previous_epoch)
       SELECT u.*, false AS busy FROM u
       UNION ALL
       SELECT k.*, NULL AS previous_epoch, true AS busy FROM panels k WHERE k.id = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM old WHERE old.id = k.id)`,
      [
        ids,
        list.map((s) => s.lastSeq),
        list.map((s) => s.epoch ?? null),
        list.map((s) => s.digest),
        list.map((s) => (s.dealerAccess ? new Date(s.dealerAccess.until).toISOString() : null)),
        list.map((s) => s.dealerAccess?.hours ?? null),
        list.map((s) => s.at ?? null),
      ],
    );
    const recorded: RecordedState[] = [];
    const busy: string[] = [];
    for (const row of r.rows) {
      if (row.busy) busy.push(String(row.id));
      else recorded.push({ panel: panelFromRow(row), previousEpoch: (row.previous_epoch as string | null) ?? null });
    }
    return { recorded, busy };
  }

  /** One panel's reported state (see recordPanelStates). */
  async recordPanelState(panelId: string, state: ReportedState): Promise<void> {
    while ((await this.recordPanelStates(new Map([[panelId, state]]))).busy.length > 0) await new Promise((r) => setTimeout(r, 10));
  }

  /** Of these panels, those with a pending command (of `kind` only, when given). */
  async withPending(panelIds: readonly string[], kind?: string): Promise<Set<string>> {
    if (panelIds.length === 0) return new Set();
    const r = kind
      ? await this.db.query<{ panel_id: string }>("SELECT DISTINCT panel_id FROM commands WHERE panel_id = ANY($1::text[]) AND status = 'pending' AND kind = $2", [[...panelIds], kind])
      : await this.db.query<{ panel_id: string }>("SELECT DISTINCT panel_id FROM commands WHERE panel_id = ANY($1::text[]) AND status = 'pending'", [[...panelIds]]);
    return new Set(r.rows.map((x) => x.panel_id));
  }
}

interface FateRow {
  id: string;
  panel_id: string;
  seq: unknown;
  kind: string;
  status: string;
  person_id: string | null;
  slot: string | null;
}

async function updateFates(tx: Queryable, records: readonly FateRecord[]): Promise<FateRow[]> {
  const r = await tx.query<FateRow>(
    `UPDATE commands c SET
       status = CASE WHEN f.code = 'sequence_gap' AND EXISTS (SELECT 1 FROM commands s WHERE s.panel_id = f.panel_id AND s.kind = 'snapshot' AND s.status = 'applied' AND s.seq > f.seq) THEN 'superseded' ELSE f.status END,
       error_code = f.code, error_sentence = f.sentence, wire_seq = f.wire_seq, acked_at = now(), secret_ct = NULL
     FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS f(panel_id, seq, status, code, sentence, wire_seq)
     WHERE c.panel_id = f.panel_id AND c.seq = f.seq AND c.status = 'pending'
     RETURNING c.id, c.panel_id, c.seq, c.kind, c.status, c.person_id, c.body->>'slot' AS slot`,
    [
      records.map((r) => r.panelId),
      records.map((r) => r.seq),
      records.map((r) => r.fate.status),
      records.map((r) => r.fate.code ?? null),
      records.map((r) => r.fate.sentence ?? null),
      records.map((r) => r.fate.wireSeq ?? null),
    ],
  );
  return r.rows;
}
