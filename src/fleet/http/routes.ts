import type { CloudClient } from "../../cloud/index.js";
import { PANEL_TYPES } from "../../domain/index.js";
import type { AuthStore } from "../auth/auth-store.js";
import type { Dispatcher } from "../dispatcher.js";
import { enrolPanel } from "../enrol.js";
import { FleetError } from "../errors.js";
import type { FleetStore, PanelRow } from "../store.js";
import { driftReport, listPanels, panelSummary, slotDetail, usersGrid } from "../views.js";
import type { WebhookConfig, WebhookDeliverer } from "../webhooks.js";
import { registerBulkRoutes } from "./routes-bulk.js";
import { registerPeopleRoutes } from "./routes-people.js";
import { registerSessionRoutes } from "./routes-session.js";
import * as R from "./responses.js";
import { parse, type HttpApi } from "./server.js";
import { commandsQuery, createPanelBody, panelsQuery, usersGridQuery, usersQuery } from "./schemas.js";

export interface RouteDeps {
  store: FleetStore;
  client: CloudClient;
  dispatcher: Dispatcher;
  auth: AuthStore;
  hooks: WebhookConfig;
  deliverer: WebhookDeliverer;
  /** Where the console is reached (the dealer request's one-time link points there). */
  consoleUrl: () => string;
  /** Add `Secure` to the session cookie (TLS, or behind https). */
  secureCookie: boolean;
}

/** What the Users tab needs of a panel: settings and features, online; no drift (it reads the whole desired table). */
function panelBrief(p: PanelRow) {
  const type = PANEL_TYPES[p.type];
  return {
    id: p.id,
    type: p.type,
    codeLength: p.codeLength,
    timeZone: p.timeZone,
    partitions: p.partitions,
    capacity: p.capacity,
    features: { doorLocks: p.doorLocks, tags: [...type.tagKinds], maxTags: type.maxTagsPerUser, roles: [...type.roles] },
  };
}

async function panelView(store: FleetStore, p: PanelRow) {
  const s = await panelSummary(store, p.id);
  return {
    ...panelBrief(p),
    identity: p.sealKey.toString("hex"),
    identityKey: p.identityKey?.toString("hex") ?? null,
    reported: { online: p.online, lastSeq: p.lastSeq, epoch: p.epoch, digest: p.digest, stateAt: p.stateAt?.toISOString() ?? null, lastAckAt: p.lastAckAt?.toISOString() ?? null },
    converged: s?.converged ?? false,
    drift: s?.drift ?? null,
  };
}

/** The routes of `/api/v1`: equipment, a panel's users, commands; people and accounts (routes-people.ts); sessions, dealer, logs (routes-session.ts). */
export function registerRoutes(api: HttpApi, deps: RouteDeps): HttpApi {
  const { store, client } = deps;
  const panel = async (id: string) => {
    const p = await store.panel(id);
    if (!p) throw new FleetError("panel_not_found", { panelId: id });
    return p;
  };

  api.route("POST", "/api/v1/panels", { response: R.panelDetail, access: "manage_panel_users", tag: "Equipment", summary: "Enrol a panel from its retained state (type, code length, capacity, time zone; its keys pinned)", body: createPanelBody, status: 201 }, async (req) => {
    const body = parse(createPanelBody, req.body);
    const p = await enrolPanel(store, client, body);
    return { status: 201, body: await panelView(store, p), audit: [{ panelId: p.id, action: "enrol_panel" }] };
  });

  api.route("GET", "/api/v1/panels", { response: R.pageOf(R.panelSummary), access: "view_equipment", tag: "Equipment", summary: "The Equipment list: panels, online, users, last report, converged or why not", query: panelsQuery }, async (req) => {
    const q = parse(panelsQuery, Object.fromEntries(req.query));
    return { body: await listPanels(store, q.q, q.page, q.perPage) };
  });

  api.route("GET", "/api/v1/drift", { response: R.pageOf(R.driftRow), access: "view_equipment", tag: "Equipment", summary: "The drift report: panels not converged and why (pending, offline, digest mismatch, never reported), with both digests", query: usersQuery }, async (req) => {
    const q = parse(usersQuery, Object.fromEntries(req.query));
    return { body: await driftReport(store, q.page, q.perPage) };
  });

  api.route("GET", "/api/v1/panels/:panelId", { response: R.panelDetail, access: "view_equipment", tag: "Equipment", summary: "One panel: settings, features, what it last reported" }, async (req) => ({
    body: await panelView(store, await panel(req.params.panelId!)),
  }));

  api.route("GET", "/api/v1/panels/:panelId/commands", { response: R.commandsOfPanel, access: "view_equipment", tag: "Commands", summary: "Every command of a panel's journal, in seq order, with its fate" }, async (req) => {
    await panel(req.params.panelId!);
    return { body: { commands: await store.commandsOfPanel(req.params.panelId!) } };
  });

  api.route("GET", "/api/v1/panels/:panelId/users", { response: R.usersPage, access: "view_panel_users", tag: "Panel users", summary: "The Users grid: every slot 1..capacity, paged (10/15/50/100/200); `include=panel` adds the panel's settings and features", query: usersGridQuery }, async (req) => {
    const q = parse(usersGridQuery, Object.fromEntries(req.query));
    const p = await panel(req.params.panelId!);
    const grid = await usersGrid(store, p, q.page, q.perPage);
    if (q.include !== "panel") return { body: grid };
    return { body: { ...grid, panel: { ...panelBrief(p), reported: { online: p.online, stateAt: p.stateAt?.toISOString() ?? null, lastAckAt: p.lastAckAt?.toISOString() ?? null } } } };
  });

  api.route("GET", "/api/v1/panels/:panelId/users/:slot", { response: R.slotDetail, access: "view_panel_users", tag: "Panel users", summary: "One slot: the grid's row with schedule, door locks, tag kinds, person and version" }, async (req) => {
    const slot = Number(req.params.slot);
    return { body: await slotDetail(store, req.params.panelId!, slot) };
  });

  api.route("GET", "/api/v1/commands/:commandId", { response: R.commandFate, access: "view_panel_users", tag: "Commands", summary: "One command's fate: pending, applied, rejected (code and sentence) or superseded" }, async (req) => {
    const c = await store.command(req.params.commandId!);
    if (!c) throw new FleetError("command_not_found", { commandId: req.params.commandId! });
    return { body: c };
  });

  api.route("GET", "/api/v1/commands", { response: R.commandRows, access: "view_panel_users", tag: "Commands", summary: "Several commands' fates: ?ids=a,b,c (at most 100)", query: commandsQuery }, async (req) => {
    const q = parse(commandsQuery, Object.fromEntries(req.query));
    const ids = [...new Set(q.ids.split(",").filter(Boolean))];
    if (ids.length > 100) throw new FleetError("invalid_request", { path: "ids", issue: "too_big" });
    return { body: { rows: await store.commands(ids) } };
  });

  registerPeopleRoutes(api, deps);
  registerBulkRoutes(api, deps);
  registerSessionRoutes(api, deps);
  return api;
}
