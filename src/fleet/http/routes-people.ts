import { generateCode } from "../../cloud/index.js";
import { PANEL_TYPES, Secret } from "../../domain/index.js";
import { assignAccountToSlot, createAccount, removeAccount, resetPassword, setAccountStatus, suggestAccounts, unassignAccountFromSlot } from "../accounts.js";
import { FleetError } from "../errors.js";
import { accessPeriod, setAccessPeriod, setContacts } from "../people.js";
import { listPeople, panelsOfPersonView } from "../views.js";
import type { RouteDeps } from "./routes.js";
import * as R from "./responses.js";
import { parse, type HttpApi } from "./server.js";
import { accessPeriodBody, accountStatusBody, addTagBody, accountsQuery, assignAccountBody, contactsBody, createAccountBody, createPersonBody, peopleQuery, setAccessBody, setCodeBody, SETS_ACCOUNT, REGISTERS_ACCOUNTS } from "./schemas.js";
import { afterCommit } from "../unit-of-work.js";

const slotOf = (text: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new FleetError("slot_out_of_range", { slot: text.slice(0, 16) });
  return n;
};

/** People (seed doc 000's New user flow), their access per panel, and accounts (seed doc 001). */
export function registerPeopleRoutes(api: HttpApi, { store, dispatcher, hooks, deliverer }: RouteDeps): void {
  const person = async (id: string) => {
    const p = await store.person(id);
    if (!p) throw new FleetError("person_not_found", { personId: id });
    return p;
  };
  const kicked = <T extends { commands: string[] }>(out: T): T => {
    if (out.commands.length > 0) afterCommit(() => dispatcher.kick());
    return out;
  };

  api.route("POST", "/api/v1/people", { response: R.person, access: "manage_panel_users", alsoNeeds: REGISTERS_ACCOUNTS, tag: "People", summary: "Create a person (first and last name, contacts)", body: createPersonBody, status: 201 }, async (req) => {
    const p = await store.createPerson(parse(createPersonBody, req.body));
    return { status: 201, body: p, audit: [{ personId: p.id, action: "create_person" }] };
  });

  api.route("GET", "/api/v1/people", { response: R.pageOf(R.personSummary), access: "view_panel_users", tag: "People", summary: "People, paged, `q` matching the name", query: peopleQuery }, async (req) => {
    const q = parse(peopleQuery, Object.fromEntries(req.query));
    return { body: await listPeople(store.db, q.q, q.page, q.perPage) };
  });

  api.route("GET", "/api/v1/people/:personId", { response: R.personDetail, access: "view_panel_users", tag: "People", summary: "A person with contacts, accounts, access period and panels" }, async (req) => {
    const id = req.params.personId!;
    const p = await person(id);
    return { body: { ...p, accessPeriod: await accessPeriod(store, id), panels: await panelsOfPersonView(store.db, id) } };
  });

  api.route("PUT", "/api/v1/people/:personId/code", { response: R.codeSet, access: "manage_panel_users", tag: "People", summary: "Set the code (typed) or generate one (shown in this response only); sent to every panel the person is on", body: setCodeBody }, async (req) => {
    const body = parse(setCodeBody, req.body);
    const id = req.params.personId!;
    await person(id);
    if ("code" in body) {
      const { commands } = kicked(await store.setCode(id, new Secret(body.code)));
      return { body: { personId: id, codeSet: true, commands }, audit: [{ personId: id, action: "set_code" }] };
    }
    // A generated code fits every panel the person is on; it is shown in this response only.
    const panels = await store.panelsOfPerson(id);
    const lengths = new Set(panels.map((p) => p.codeLength));
    if (lengths.size > 1 && body.length === undefined) throw new FleetError("invalid_code_length", { lengths: [...lengths].join(",") });
    const length = body.length ?? [...lengths][0] ?? 4;
    const refused = panels.flatMap((p) => PANEL_TYPES[p.type].refusedCodes);
    for (let attempt = 0; ; attempt++) {
      const code = new Secret(generateCode(length, refused));
      try {
        const { commands } = kicked(await store.setCode(id, code));
        return { body: { personId: id, codeSet: true, code: code.reveal(), commands }, audit: [{ personId: id, action: "generate_code" }] };
      } catch (err) {
        if (!(err instanceof FleetError && err.code === "code_in_use") || attempt >= 20) throw err;
      }
    }
  });

  api.route("PUT", "/api/v1/people/:personId/panels/:panelId", { response: R.access, access: "manage_panel_users", alsoNeeds: SETS_ACCOUNT, tag: "People", summary: "Switch a person on or off at a panel; slot, role, partitions, schedule, door locks, label, tags, account there", body: setAccessBody }, async (req) => {
    const body = parse(setAccessBody, req.body);
    const out = kicked(await store.setAccess(req.params.personId!, req.params.panelId!, body));
    return { body: out, audit: [{ panelId: out.access.panelId, slot: out.access.slot, personId: out.access.personId, action: body.enabled ? "set_access" : "switch_off" }] };
  });

  api.route("POST", "/api/v1/panels/:panelId/users/:slot/disable", { response: R.commandIds, access: "manage_panel_users", tag: "Panel users", summary: "Disable a panel user (refused for the Master)" }, async (req) => {
    const panelId = req.params.panelId!;
    const slot = slotOf(req.params.slot!);
    const at = (await store.db.query<{ person_id: string; role: string; enabled: boolean }>("SELECT person_id, role, enabled FROM person_panels WHERE panel_id = $1 AND slot = $2", [panelId, slot])).rows[0];
    if (!(await store.panel(panelId))) throw new FleetError("panel_not_found", { panelId });
    if (!at || at.enabled !== true) throw new FleetError("slot_not_in_use", { slot });
    if (at.role === "Master") throw new FleetError("master_cannot_be_disabled", { slot });
    const { commands } = kicked(await store.setAccess(at.person_id, panelId, { enabled: false }));
    return { body: { commands }, audit: [{ panelId, slot, personId: at.person_id, action: "disable_user" }] };
  });

  /**
   * A panel user's proximity tags, one at a time (seed doc 001's tag sections). The API takes a
   * user's whole list (setAccess `tags`), and a tag's id is never read back, so adding or removing
   * one keeps the others by reading them here from their ciphertext; the list goes to the panel
   * sealed, like a code.
   */
  const userAt = async (panelId: string, slot: number) => {
    if (!(await store.panel(panelId))) throw new FleetError("panel_not_found", { panelId });
    const at = (await store.db.query<{ person_id: string; enabled: boolean; tags: { kind: string }[]; tags_ct: Uint8Array | null }>("SELECT person_id, enabled, tags, tags_ct FROM person_panels WHERE panel_id = $1 AND slot = $2", [panelId, slot])).rows[0];
    if (!at || at.enabled !== true) throw new FleetError("slot_not_in_use", { slot });
    const tags = at.tags_ct ? (JSON.parse(store.vault.decrypt(at.tags_ct, `tags:${at.person_id}:${panelId}`).reveal()) as { kind: "keypad" | "doorlock"; id: string }[]) : [];
    return { personId: at.person_id, tags };
  };

  api.route("POST", "/api/v1/panels/:panelId/users/:slot/tags", { response: R.access, access: "manage_panel_users", tag: "Panel users", summary: "Add a proximity tag (keypad or doorlock) to a panel user; its id is a secret like a code, never read back", body: addTagBody }, async (req) => {
    const body = parse(addTagBody, req.body);
    const panelId = req.params.panelId!;
    const slot = slotOf(req.params.slot!);
    const at = await userAt(panelId, slot);
    const out = kicked(await store.setAccess(at.personId, panelId, { enabled: true, tags: [...at.tags, { kind: body.kind, id: body.id }] }));
    return { body: out, audit: [{ panelId, slot, personId: at.personId, action: `add_tag:${body.kind}` }] };
  });

  api.route("DELETE", "/api/v1/panels/:panelId/users/:slot/tags/:index", { response: R.access, access: "manage_panel_users", tag: "Panel users", summary: "Remove a panel user's proximity tag by its place in the user's list (0-based, as the slot's `tags` lists them)" }, async (req) => {
    const panelId = req.params.panelId!;
    const slot = slotOf(req.params.slot!);
    const index = Number(req.params.index);
    const at = await userAt(panelId, slot);
    if (!Number.isInteger(index) || index < 0 || index >= at.tags.length) throw new FleetError("not_found", { tag: String(req.params.index).slice(0, 8) });
    const kind = at.tags[index]!.kind;
    const out = kicked(await store.setAccess(at.personId, panelId, { enabled: true, tags: at.tags.filter((_, i) => i !== index) }));
    return { body: out, audit: [{ panelId, slot, personId: at.personId, action: `remove_tag:${kind}` }] };
  });

  api.route("PUT", "/api/v1/panels/:panelId/users/:slot/account", { response: R.commandIds, access: "manage_accounts", tag: "Panel users", summary: "Assign an account to a panel user (refused for a suspended account)", body: assignAccountBody }, async (req) => {
    const body = parse(assignAccountBody, req.body);
    const slot = slotOf(req.params.slot!);
    const out = kicked(await assignAccountToSlot(store, req.params.panelId!, slot, body.accountId));
    return { body: { commands: out.commands }, audit: [{ panelId: req.params.panelId!, slot, personId: out.personId, action: "assign_account" }] };
  });

  api.route("DELETE", "/api/v1/panels/:panelId/users/:slot/account", { response: R.commandIds, access: "manage_accounts", tag: "Panel users", summary: "Unassign the panel user's account" }, async (req) => {
    const slot = slotOf(req.params.slot!);
    const out = kicked(await unassignAccountFromSlot(store, req.params.panelId!, slot));
    return { body: { commands: out.commands }, audit: [{ panelId: req.params.panelId!, slot, personId: out.personId, action: "unassign_account" }] };
  });

  api.route("PUT", "/api/v1/people/:personId/access-period", { response: R.commandIds, access: "manage_panel_users", tag: "People", summary: "The access period (always, weekly windows, temporary from..to) at every panel the person is on", body: accessPeriodBody }, async (req) => {
    const body = parse(accessPeriodBody, req.body);
    const out = kicked(await setAccessPeriod(store, req.params.personId!, body));
    return { body: { commands: out.commands }, audit: [{ personId: req.params.personId!, action: "set_access_period" }] };
  });

  api.route("PUT", "/api/v1/people/:personId/contacts", { response: R.contacts, access: "manage_panel_users", tag: "People", summary: "Replace the person's contacts (mobile with country and carrier, email; each on or off)", body: contactsBody }, async (req) => {
    const body = parse(contactsBody, req.body);
    await setContacts(store, req.params.personId!, body);
    return { body: (await store.person(req.params.personId!))!.contacts, audit: [{ personId: req.params.personId!, action: "set_contacts" }] };
  });

  api.route("GET", "/api/v1/accounts", { response: R.accountRows, access: "manage_accounts", tag: "Accounts", summary: "Account suggestions for the Assign account modal (email contains q)", query: accountsQuery }, async (req) => {
    const q = parse(accountsQuery, Object.fromEntries(req.query));
    return { body: { rows: await suggestAccounts(store, q.q) } };
  });

  api.route("POST", "/api/v1/accounts", { response: R.account, access: "manage_accounts", tag: "Accounts", summary: "Register an account of the customer application (id, email, status)", body: createAccountBody, status: 201 }, async (req) => {
    const a = await createAccount(store, parse(createAccountBody, req.body));
    return { status: 201, body: a, audit: [{ action: "create_account" }] };
  });

  api.route("PUT", "/api/v1/accounts/:accountId/status", { access: "manage_accounts", tag: "Accounts", summary: "The account system reports a status; panels holding the account get it (a suspended one is unassigned there)", body: accountStatusBody, response: R.commandIds }, async (req) => {
    const body = parse(accountStatusBody, req.body);
    const out = kicked(await setAccountStatus(store, req.params.accountId!, body.status));
    return { body: { commands: out.commands }, audit: [{ action: `account_status:${body.status}` }, ...out.panels.map((panelId) => ({ panelId, action: "account_status" }))] };
  });

  api.route("POST", "/api/v1/accounts/:accountId/reset-password", { response: R.delivery, access: "manage_accounts", tag: "Accounts", summary: "Ask the account system (account webhook) to send the OTP email", status: 202 }, async (req) => {
    const out = await resetPassword(store, hooks, req.params.accountId!);
    afterCommit(() => deliverer.kick());
    return { status: 202, body: out, audit: [{ action: "reset_password" }] };
  });

  api.route("DELETE", "/api/v1/accounts/:accountId", { response: R.accountRemoved, access: "manage_accounts", tag: "Accounts", summary: "Remove an account: unassigned at every panel, removed through the account webhook", status: 202 }, async (req) => {
    const out = kicked(await removeAccount(store, hooks, req.params.accountId!));
    afterCommit(() => deliverer.kick());
    return { status: 202, body: { commands: out.commands, delivery: out.delivery }, audit: [{ action: "remove_account" }, ...out.panels.map((panelId) => ({ panelId, action: "remove_account" }))] };
  });
}
