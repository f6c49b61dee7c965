import { randomUUID } from "node:crypto";
import type { z } from "zod";
import { PANEL_TYPES, pageWindow, type Page, type PageSize, type PanelTypeId, type Role, type scheduleSchema, Secret } from "../domain/index.js";
import type { CodeVault } from "./code-vault.js";
import type { Db, Queryable } from "./db.js";
import { FleetError } from "./errors.js";
import { num, text } from "./row.js";
import { panelFromRow, type PanelRow } from "./panel-row.js";
import { Journal } from "./journal.js";
import { writeSnapshot } from "./snapshot.js";
import { setAccessMany, writePanelCommands, type AccessManyInput, type AccessResult } from "./access-many.js";
import { checkCodeFits } from "./access-plan.js";

export type { PanelRow } from "./panel-row.js";
export type { AccessManyInput, AccessResult } from "./access-many.js";
export type { JournalCommand, Fate } from "./journal.js";

export type Schedule = z.infer<typeof scheduleSchema>;
export type CommandStatus = "pending" | "applied" | "rejected" | "superseded";

export interface ContactInput {
  kind: "mobile" | "email";
  value: string;
  country?: string;
  carrier?: string;
  enabled?: boolean;
}

export interface AccountInput {
  id?: string;
  email: string;
  status?: "Not confirmed" | "Active" | "Suspended";
}

export interface PersonView {
  id: string;
  firstName: string;
  lastName: string;
  codeSet: boolean;
  contacts: { kind: string; value: string; country: string | null; carrier: string | null; enabled: boolean }[];
  accounts: { id: string; email: string; status: string; createdAt: string }[];
  createdAt: string;
}

export interface AccessInput {
  enabled: boolean;
  slot?: number;
  role?: Role;
  partitions?: number[];
  schedule?: Schedule;
  doorLocks?: string[];
  /** An account to assign at this panel, or null to unassign. */
  accountId?: string | null;
  /** The label on this panel; null: the person's first and last name. */
  label?: string | null;
  /** Proximity tags; their ids are secrets like codes (kept encrypted, sealed to the panel when sent). */
  tags?: TagInput[];
}

export interface TagInput {
  kind: "keypad" | "doorlock";
  id: string;
}

/** A person's settings at one panel: the stored row, the planned row and the view share them. */
export interface AccessSettings {
  enabled: boolean;
  slot: number;
  role: Role;
  partitions: number[];
  schedule: Schedule;
  doorLocks: string[];
  accountId: string | null;
  label: string | null;
}

export interface AccessView extends AccessSettings {
  personId: string;
  panelId: string;
  tags: { kind: string }[];
}

export interface CommandView {
  id: string;
  panelId: string;
  seq: number;
  kind: string;
  personId: string | null;
  status: CommandStatus;
  error: { code: string; message: string } | null;
  /** The refusal's code and sentence (the contract's flat form of `error`). */
  code?: string;
  sentence?: string;
  wireSeq: number | null;
  createdAt: string;
  sentAt: string | null;
  ackedAt: string | null;
  /** When its fate was decided (absent while pending). */
  decidedAt?: string;
}

export interface UserListRow {
  number: number;
  personId: string;
  firstName: string;
  lastName: string;
  role: Role;
  enabled: boolean;
  codeSet: boolean;
  partitions: number[];
  schedule: Schedule;
}

const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const iso = (v: unknown): string => (v instanceof Date ? v : new Date(String(v))).toISOString();
const isoOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : iso(v));


function commandFromRow(r: Record<string, unknown>): CommandView {
  return {
    id: String(r.id),
    panelId: String(r.panel_id),
    seq: num(r.seq),
    kind: String(r.kind),
    personId: (r.person_id as string | null) ?? null,
    status: r.status as CommandStatus,
    error: r.error_code ? { code: text(r.error_code), message: text(r.error_sentence ?? "") } : null,
    wireSeq: numOrNull(r.wire_seq),
    createdAt: iso(r.created_at),
    sentAt: isoOrNull(r.sent_at),
    ackedAt: isoOrNull(r.acked_at),
    ...(r.error_code ? { code: text(r.error_code), sentence: text(r.error_sentence ?? "") } : {}),
    ...(r.status !== "pending" && r.acked_at ? { decidedAt: iso(r.acked_at) } : {}),
  };
}

export interface EnrolInput {
  id: string;
  type: PanelTypeId;
  codeLength: number;
  timeZone: string;
  partitions?: number;
  capacity?: number;
  /** The panel's sealing key from its retained state: pinned, codes are sealed to it only. */
  sealKey: Uint8Array;
  /** The panel's lastSeq at enrolment: the fleet's first command is lastSeq + 1. */
  lastSeq: number;
  epoch?: string;
  digest?: string;
  /** The panel's Ed25519 identity key from its retained state, when it publishes one: pinned. */
  identityKey?: Uint8Array;
  doorLocks?: string[];
}

/**
 * The fleet's repositories: panels, people, per-panel access and the command journal. Every change
 * of the desired state runs in ONE transaction that also writes the per-panel commands it implies,
 * each with a seq allocated in that transaction (the transactional outbox).
 */
export class FleetStore {
  /** The dispatcher's side of the journal: windows, fates, leases, reported states (journal.ts). */
  readonly journal: Journal;

  constructor(
    readonly db: Db,
    readonly vault: CodeVault,
  ) {
    this.journal = new Journal(db);
  }

  // ---------------------------------------------------------------------------------------------
  // panels

  async enrolPanel(p: EnrolInput): Promise<PanelRow> {
    const type = PANEL_TYPES[p.type];
    if (!type.codeLengths.includes(p.codeLength)) throw new FleetError("invalid_code_length", { codeLength: p.codeLength });
    try {
      const r = await this.db.query(
        `INSERT INTO panels (id, type, code_length, time_zone, partitions, capacity, seal_key, next_seq, last_seq, epoch, digest, state_at, identity_key, door_locks)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now(), $12, $13) RETURNING *`,
        [p.id, p.type, p.codeLength, p.timeZone, p.partitions ?? type.partitions, p.capacity ?? type.capacity, Buffer.from(p.sealKey), p.lastSeq + 1, p.lastSeq, p.epoch ?? null, p.digest ?? null, p.identityKey ? Buffer.from(p.identityKey) : null, p.doorLocks ?? []],
      );
      return panelFromRow(r.rows[0]!);
    } catch (err) {
      if ((err as { code?: string }).code === "23505") throw new FleetError("panel_exists", { panelId: p.id });
      throw err;
    }
  }

  async panel(id: string, q: Queryable = this.db): Promise<PanelRow | undefined> {
    const r = await q.query("SELECT * FROM panels WHERE id = $1", [id]);
    return r.rows[0] ? panelFromRow(r.rows[0]) : undefined;
  }

  async recordPanelStatus(id: string, online: boolean): Promise<void> {
    await this.db.query("UPDATE panels SET online = $2 WHERE id = $1", [id, online]);
  }

  /** Allocates the panel's next seq inside `tx` (the row stays locked until `tx` ends: per panel, seqs follow commit order). */
  async allocateSeq(tx: Queryable, panelId: string): Promise<number> {
    const r = await tx.query<{ seq: unknown }>("UPDATE panels SET next_seq = next_seq + 1 WHERE id = $1 RETURNING next_seq - 1 AS seq", [panelId]);
    if (!r.rows[0]) throw new FleetError("panel_not_found", { panelId });
    return num(r.rows[0].seq);
  }

  /** Writes one command of the outbox at the panel's next seq, inside `tx`; its secret (a code, tags) only as ciphertext. */
  async writeCommand(tx: Queryable, panelId: string, personId: string | null, body: Record<string, unknown> & { kind: string }, secret?: Secret): Promise<string> {
    return (await this.writeCommands(tx, panelId, personId, [{ body, ...(secret ? { secret } : {}) }]))[0]!;
  }

  /**
   * Writes commands of the outbox at the panel's next seqs, in order, inside `tx`: one statement
   * allocates their seqs and one inserts them (a fan-out to 1,000 panels writes 5,000 commands in
   * one transaction: two statements per command had been most of its time).
   */
  async writeCommands(
    tx: Queryable,
    panelId: string,
    personId: string | null,
    list: readonly { body: Record<string, unknown> & { kind: string }; secret?: Secret }[],
    /** A data-modifying statement to run in the same statement (one round trip less), its parameters numbered from `$${from + 1}`. */
    also?: { sql: (from: number) => string; params: unknown[] },
  ): Promise<string[]> {
    if (list.length === 0) {
      if (also) await tx.query(also.sql(0), also.params);
      return [];
    }
    const ids = list.map(() => randomUUID());
    // The seqs are allocated (the panel's row locked until the transaction ends) and the commands inserted in one statement.
    const r = await tx.query(
      `WITH a AS (UPDATE panels SET next_seq = next_seq + $4 WHERE id = $2 RETURNING next_seq - $4 AS first)${also ? `, also AS (${also.sql(7)})` : ""}
       INSERT INTO commands (id, panel_id, seq, kind, body, secret_ct, person_id)
       SELECT c.id, $2, a.first + c.n - 1, c.kind, c.body::jsonb, decode(c.secret_ct, 'hex'), $3
       FROM a, unnest($1::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS c(id, kind, body, secret_ct, n)`,
      [
        ids, panelId, personId, list.length,
        list.map((c) => c.body.kind),
        list.map((c) => JSON.stringify(c.body)),
        list.map((c, i) => (c.secret ? this.vault.encrypt(c.secret, `command:${ids[i]}`).toString("hex") : null)),
        ...(also?.params ?? []),
      ],
    );
    if (r.rowCount !== list.length) throw new FleetError("panel_not_found", { panelId });
    return ids;
  }

  // ---------------------------------------------------------------------------------------------
  // people

  async createPerson(input: { firstName: string; lastName: string; contacts?: ContactInput[]; accounts?: AccountInput[] }): Promise<PersonView> {
    const id = randomUUID();
    await this.db.transaction(async (tx) => {
      await tx.query("INSERT INTO people (id, first_name, last_name) VALUES ($1, $2, $3)", [id, input.firstName, input.lastName]);
      for (const c of input.contacts ?? []) {
        await tx.query("INSERT INTO contacts (person_id, kind, value, country, carrier, enabled) VALUES ($1, $2, $3, $4, $5, $6)", [id, c.kind, c.value, c.country ?? null, c.carrier ?? null, c.enabled ?? true]);
      }
      for (const a of input.accounts ?? []) {
        await tx.query("INSERT INTO accounts (id, person_id, email, status) VALUES ($1, $2, $3, $4)", [a.id ?? randomUUID(), id, a.email, a.status ?? "Not confirmed"]);
      }
    });
    return (await this.person(id))!;
  }

  async person(id: string): Promise<PersonView | undefined> {
    const r = await this.db.query("SELECT id, first_name, last_name, code_ct IS NOT NULL AS code_set, created_at FROM people WHERE id = $1", [id]);
    const p = r.rows[0];
    if (!p) return undefined;
    const contacts = await this.db.query("SELECT kind, value, country, carrier, enabled FROM contacts WHERE person_id = $1 ORDER BY id", [id]);
    const accounts = await this.db.query("SELECT id, email, status, created_at FROM accounts WHERE person_id = $1 ORDER BY created_at, id", [id]);
    return {
      id: String(p.id),
      firstName: String(p.first_name),
      lastName: String(p.last_name),
      codeSet: p.code_set === true,
      contacts: contacts.rows.map((c) => ({ kind: String(c.kind), value: String(c.value), country: (c.country as string | null) ?? null, carrier: (c.carrier as string | null) ?? null, enabled: c.enabled === true })),
      accounts: accounts.rows.map((a) => ({ id: String(a.id), email: String(a.email), status: String(a.status), createdAt: iso(a.created_at) })),
      createdAt: iso(p.created_at),
    };
  }

  /** The panels a person is switched on at. */
  async panelsOfPerson(personId: string): Promise<PanelRow[]> {
    const r = await this.db.query("SELECT p.* FROM panels p JOIN person_panels a ON a.panel_id = p.id WHERE a.person_id = $1 AND a.enabled ORDER BY p.id", [personId]);
    return r.rows.map(panelFromRow);
  }

  /**
   * Sets the person's code (kept encrypted) and, in the same transaction, writes a `set_code`
   * command to every panel the person is switched on at. Returns the command ids.
   */
  async setCode(personId: string, code: Secret): Promise<{ commands: string[] }> {
    if (!/^[0-9]+$/.test(code.reveal())) throw new FleetError("invalid_code");
    const mac = this.vault.mac(code);
    return this.db.transaction(async (tx) => {
      // The panels the person is on, locked in id order before the person: the order every writer takes them in.
      const on = await tx.query<{ panel_id: string }>("SELECT panel_id FROM person_panels WHERE person_id = $1 AND enabled ORDER BY panel_id", [personId]);
      if (on.rows.length > 0) await tx.query("SELECT id FROM panels WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE", [on.rows.map((r) => r.panel_id)]);
      const person = await tx.query("SELECT id FROM people WHERE id = $1 FOR UPDATE", [personId]);
      if (!person.rows[0]) throw new FleetError("person_not_found", { personId });
      // Read again under the locks (a panel the person was switched on at meanwhile is locked here), with whether
      // another person switched on there has this code: every panel in one statement.
      const access = await tx.query(
        `SELECT p.*, a.slot AS access_slot,
                EXISTS (SELECT 1 FROM person_panels o JOIN people q ON q.id = o.person_id WHERE o.panel_id = a.panel_id AND o.enabled AND o.person_id <> $1 AND q.code_mac = $2) AS clash
         FROM person_panels a JOIN panels p ON p.id = a.panel_id WHERE a.person_id = $1 AND a.enabled ORDER BY a.panel_id FOR UPDATE OF p`,
        [personId, mac],
      );
      for (const r of access.rows) {
        const panel = panelFromRow(r);
        checkCodeFits(panel, code);
        if (r.clash === true) throw new FleetError("code_in_use", { panelId: panel.id });
      }
      // The person's new code and every panel's set_code with its seq, in one statement.
      const written = await writePanelCommands(
        this.vault, tx, personId,
        access.rows.map((r) => ({ panelId: text(r.id), commands: [{ body: { kind: "set_code", slot: num(r.access_slot) }, secret: code }] })),
        { sql: "person AS (UPDATE people SET code_ct = $2, code_mac = $3, code_set_at = now(), updated_at = now() WHERE id = $1)", params: [this.vault.encrypt(code, `person:${personId}`), mac] },
      );
      return { commands: written.flat() };
    });
  }

  // ---------------------------------------------------------------------------------------------
  // access per person and panel

  /**
   * Switches a person on or off at a panel, or changes their label, role, partitions, schedule,
   * door locks, tags or account there, and writes the commands that bring the panel to it, in one
   * transaction. The panel's row is locked first, so slot choice and seq allocation are serialised
   * per panel. Rules the fleet can check from the desired state are checked here, with the agent's
   * codes and sentences, so a refused change writes nothing; the agent checks them again.
   */
  async setAccess(personId: string, panelId: string, input: AccessInput): Promise<{ access: AccessView; commands: string[] }> {
    return this.db.transaction((tx) => this.setAccessIn(tx, personId, panelId, input));
  }

  /** `setAccess` inside the caller's transaction: `setAccessMany` with one panel. */
  async setAccessIn(tx: Queryable, personId: string, panelId: string, input: AccessInput): Promise<{ access: AccessView; commands: string[] }> {
    return (await setAccessMany(this.vault, tx, personId, [{ ...input, panelId }]))[0]!;
  }

  /**
   * The person's access at many panels in the caller's transaction, all or nothing, in a constant
   * number of statements (access-many.ts; the rules are access-plan.ts). Results in panel-id order.
   */
  async setAccessMany(tx: Queryable, personId: string, inputs: readonly AccessManyInput[]): Promise<AccessResult[]> {
    return setAccessMany(this.vault, tx, personId, inputs);
  }

  /** Reconcile by snapshot (snapshot.ts): one `snapshot` command with the panel's whole desired table. */
  async writeSnapshot(panelId: string): Promise<{ id: string; created: boolean }> {
    return writeSnapshot(this, panelId);
  }

  /** The panel's users as the fleet wants them, a page at a time (10/15/50/100/200), with the grid's range text. */
  async listUsers(panelId: string, page: number, perPage: PageSize): Promise<Page<UserListRow>> {
    if (!(await this.panel(panelId))) throw new FleetError("panel_not_found", { panelId });
    const count = await this.db.query<{ n: unknown }>("SELECT count(*) AS n FROM person_panels WHERE panel_id = $1", [panelId]);
    const w = pageWindow(num(count.rows[0]!.n), page, perPage);
    const r = await this.db.query(
      `SELECT a.slot, a.person_id, p.first_name, p.last_name, a.role, a.enabled, p.code_ct IS NOT NULL AS code_set, a.partitions, a.schedule
       FROM person_panels a JOIN people p ON p.id = a.person_id WHERE a.panel_id = $1 ORDER BY a.slot LIMIT $2 OFFSET $3`,
      [panelId, w.perPage, w.offset],
    );
    return w.withRows(
      r.rows.map((x) => ({
        number: num(x.slot),
        personId: String(x.person_id),
        firstName: String(x.first_name),
        lastName: String(x.last_name),
        role: x.role as Role,
        enabled: x.enabled === true,
        codeSet: x.code_set === true && x.enabled === true,
        partitions: (x.partitions as unknown[]).map(num),
        schedule: x.schedule as Schedule,
      })),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // the command journal

  async command(id: string): Promise<CommandView | undefined> {
    const r = await this.db.query("SELECT id, panel_id, seq, kind, person_id, status, error_code, error_sentence, wire_seq, created_at, sent_at, acked_at FROM commands WHERE id = $1", [id]);
    return r.rows[0] ? commandFromRow(r.rows[0]) : undefined;
  }

  async commands(ids: readonly string[]): Promise<CommandView[]> {
    if (ids.length === 0) return [];
    const r = await this.db.query("SELECT id, panel_id, seq, kind, person_id, status, error_code, error_sentence, wire_seq, created_at, sent_at, acked_at FROM commands WHERE id = ANY($1::text[]) ORDER BY panel_id, seq", [[...ids]]);
    return r.rows.map(commandFromRow);
  }

  async commandsOfPanel(panelId: string): Promise<CommandView[]> {
    const r = await this.db.query("SELECT id, panel_id, seq, kind, person_id, status, error_code, error_sentence, wire_seq, created_at, sent_at, acked_at FROM commands WHERE panel_id = $1 ORDER BY seq", [panelId]);
    return r.rows.map(commandFromRow);
  }
}

export { Secret };
