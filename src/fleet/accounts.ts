import { randomUUID } from "node:crypto";
import type { Queryable } from "./db.js";
import { FleetError } from "./errors.js";
import type { FleetStore } from "./store.js";
import { enqueueDelivery, hookConfigured, type WebhookConfig } from "./webhooks.js";

/**
 * Accounts belong to the customer application: the fleet keeps id, email, created and status,
 * assigns them to panel users, and reaches the account system through the account webhook for what
 * seed doc 001 does to an account (reset password by OTP email, remove account). It never holds a
 * customer's password.
 */
export type AccountStatus = "Not confirmed" | "Active" | "Suspended";

export interface AccountView {
  id: string;
  email: string;
  status: AccountStatus;
  createdAt: string;
}

const view = (r: Record<string, unknown>): AccountView => ({ id: String(r.id), email: String(r.email), status: r.status as AccountStatus, createdAt: (r.created_at as Date).toISOString() });

export async function account(store: FleetStore, id: string): Promise<AccountView> {
  const r = await store.db.query("SELECT id, email, status, created_at FROM accounts WHERE id = $1", [id]);
  if (!r.rows[0]) throw new FleetError("account_not_found", { accountId: id });
  return view(r.rows[0]);
}

/** Suggestions for the Assign account modal: accounts whose email contains `q` (prefix matches first). */
export async function suggestAccounts(store: FleetStore, q: string): Promise<AccountView[]> {
  const needle = q.trim().toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`);
  const r = await store.db.query(
    "SELECT id, email, status, created_at FROM accounts WHERE lower(email) LIKE $1 ORDER BY (lower(email) LIKE $2) DESC, lower(email), id LIMIT 20",
    [`%${needle}%`, `${needle}%`],
  );
  return r.rows.map(view);
}

/** Registers an account the customer application made (optionally as one of a person's). */
export async function createAccount(store: FleetStore, input: { id?: string; email: string; status?: AccountStatus; personId?: string }): Promise<AccountView> {
  if (input.personId && !(await store.person(input.personId))) throw new FleetError("person_not_found", { personId: input.personId });
  const r = await store.db.query("INSERT INTO accounts (id, person_id, email, status) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING RETURNING id, email, status, created_at", [
    input.id ?? randomUUID(), input.personId ?? null, input.email, input.status ?? "Not confirmed",
  ]);
  if (!r.rows[0]) throw new FleetError("invalid_request", { path: "id", issue: "exists" });
  return view(r.rows[0]);
}

/** The person switched on at a panel's slot. */
async function personAtSlot(store: FleetStore, panelId: string, slot: number): Promise<{ personId: string; enabled: boolean; accountId: string | null }> {
  if (!(await store.panel(panelId))) throw new FleetError("panel_not_found", { panelId });
  const r = await store.db.query("SELECT person_id, enabled, account_id FROM person_panels WHERE panel_id = $1 AND slot = $2", [panelId, slot]);
  const row = r.rows[0];
  if (!row || row.enabled !== true) throw new FleetError("slot_not_in_use", { slot });
  return { personId: String(row.person_id), enabled: true, accountId: (row.account_id as string | null) ?? null };
}

export async function assignAccountToSlot(store: FleetStore, panelId: string, slot: number, accountId: string): Promise<{ commands: string[]; personId: string }> {
  const at = await personAtSlot(store, panelId, slot);
  const a = await account(store, accountId);
  if (a.status === "Suspended") throw new FleetError("account_suspended", { accountId });
  const { commands } = await store.setAccess(at.personId, panelId, { enabled: true, accountId });
  return { commands, personId: at.personId };
}

export async function unassignAccountFromSlot(store: FleetStore, panelId: string, slot: number): Promise<{ commands: string[]; personId: string }> {
  const at = await personAtSlot(store, panelId, slot);
  if (at.accountId === null) throw new FleetError("account_not_assigned", { slot });
  const { commands } = await store.setAccess(at.personId, panelId, { enabled: true, accountId: null });
  return { commands, personId: at.personId };
}

/** Asks the account system to send the account's OTP email (202: a delivery row, sent and retried by the deliverer). */
export async function resetPassword(store: FleetStore, hooks: WebhookConfig, accountId: string): Promise<{ delivery: string }> {
  if (!hookConfigured(hooks, "account")) throw new FleetError("webhook_not_configured", { hook: "account" });
  const a = await account(store, accountId);
  return { delivery: await enqueueDelivery(store.db, "account", "account.reset_password", { accountId: a.id, email: a.email }) };
}

/**
 * Locks, in the order every writer takes them, the panels where the account is assigned (in id
 * order) and then the account, and reads its assignments. Panels before the account: a write that
 * assigns the account at a panel holds the panel and then takes a key-share lock on the account (the
 * foreign key), so locking the account first could deadlock with it. An assignment committed between
 * the first read and the account's lock is read again under the lock and its panel locked too; once
 * the account is locked, no new assignment of it can commit.
 */
async function lockAccountAndPanels(tx: Queryable, accountId: string): Promise<{ account: Record<string, unknown>; at: { panel_id: string; person_id: string; slot: unknown }[] }> {
  const assigned = async () =>
    (await tx.query<{ panel_id: string; person_id: string; slot: unknown }>("SELECT panel_id, person_id, slot FROM person_panels WHERE account_id = $1 AND enabled ORDER BY panel_id", [accountId])).rows;
  const lock = (ids: string[]) => (ids.length > 0 ? tx.query("SELECT id FROM panels WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE", [ids]) : undefined);
  const first = await assigned();
  await lock(first.map((r) => r.panel_id));
  const a = await tx.query("SELECT id, email, status, created_at FROM accounts WHERE id = $1 FOR UPDATE", [accountId]);
  if (!a.rows[0]) throw new FleetError("account_not_found", { accountId });
  const at = await assigned();
  const locked = new Set(first.map((r) => r.panel_id));
  await lock(at.map((r) => r.panel_id).filter((id) => !locked.has(id)));
  return { account: a.rows[0], at };
}

/**
 * Removes an account: in ONE transaction, a `remove_account` command to every panel where it is
 * assigned, the account's row (its assignments go with it), and the delivery asking the account
 * system to remove it.
 */
export async function removeAccount(store: FleetStore, hooks: WebhookConfig, accountId: string): Promise<{ commands: string[]; delivery: string; panels: string[] }> {
  if (!hookConfigured(hooks, "account")) throw new FleetError("webhook_not_configured", { hook: "account" });
  return store.db.transaction(async (tx) => {
    const { account: a, at } = await lockAccountAndPanels(tx, accountId);
    const commands: string[] = [];
    for (const r of at) commands.push(await store.writeCommand(tx, r.panel_id, r.person_id, { kind: "remove_account", accountId }));
    await tx.query("UPDATE person_panels SET account_id = NULL, version = version + 1, updated_at = now() WHERE account_id = $1", [accountId]);
    await tx.query("DELETE FROM accounts WHERE id = $1", [accountId]);
    const delivery = await enqueueDelivery(tx, "account", "account.remove", { accountId, email: String(a.email) });
    return { commands, delivery, panels: at.map((r) => r.panel_id) };
  });
}

/**
 * The account system reports a new status (confirmed, suspended, active again). In ONE
 * transaction, every panel where the account is assigned gets the account as it now is
 * (`assign_account`), or, once suspended, loses it (`unassign_account`: the agent holds no
 * suspended account, and a snapshot would not send one either).
 */
export async function setAccountStatus(store: FleetStore, accountId: string, status: AccountStatus): Promise<{ commands: string[]; panels: string[] }> {
  return store.db.transaction(async (tx) => {
    const { account: row, at } = await lockAccountAndPanels(tx, accountId);
    const commands: string[] = [];
    if (row.status !== status) {
      await tx.query("UPDATE accounts SET status = $2 WHERE id = $1", [accountId, status]);
      const account = { id: accountId, email: String(row.email), createdAt: (row.created_at as Date).getTime(), status };
      for (const r of at) {
        const slot = Number(r.slot);
        commands.push(await store.writeCommand(tx, r.panel_id, r.person_id, status === "Suspended" ? { kind: "unassign_account", slot } : { kind: "assign_account", slot, account }));
      }
    }
    return { commands, panels: at.map((r) => r.panel_id) };
  });
}
