import { readActionLog } from "../action-log.js";
import { csrfTokenFor } from "../auth/auth-store.js";
import { clearedSessionCookie, cookie, SESSION_COOKIE, sessionCookie } from "../auth/guard.js";
import { permissionsOf, type ApiRole } from "../auth/permissions.js";
import { confirmDealerRequest, dealerRequest, dealerView, grantDealer, requestDealer, revokeDealer } from "../dealer.js";
import { listEvents } from "../events.js";
import { openApiDocument } from "./openapi.js";
import type { RouteDeps } from "./routes.js";
import * as R from "./responses.js";
import { parse, type HttpApi } from "./server.js";
import { actionLogQuery, createApiUserBody, createTokenBody, dealerGrantBody, eventsQuery, signInBody } from "./schemas.js";
import { afterCommit } from "../unit-of-work.js";

const userBody = (p: { userId?: string; id?: string; email: string; name: string; role: ApiRole }) => ({
  id: p.userId ?? p.id!,
  email: p.email,
  name: p.name,
  role: p.role,
  permissions: [...permissionsOf(p.role)],
});

/** Sessions and API users, dealer access (seed doc 002), the action log, events, the OpenAPI document. */
export function registerSessionRoutes(api: HttpApi, { store, auth, dispatcher, deliverer, consoleUrl, secureCookie }: RouteDeps): void {
  api.route("POST", "/api/v1/session", { response: R.session, access: "public", tag: "Sessions", summary: "Sign in: a session cookie (HttpOnly, SameSite=Strict) and its CSRF token", body: signInBody }, async (req) => {
    const body = parse(signInBody, req.body);
    const { token, user } = await auth.signIn(body.email, body.password);
    return { body: { user: userBody(user), csrfToken: csrfTokenFor(token) }, headers: { "set-cookie": sessionCookie(token, auth.policy.absoluteMs, secureCookie) } };
  });

  api.route("GET", "/api/v1/session", { response: R.session, access: "signed_in", tag: "Sessions", summary: "The signed-in user and this session's CSRF token" }, async (req) => {
    const token = cookie(req.headers, SESSION_COOKIE);
    return { body: { user: userBody(req.principal), ...(token && req.principal.via === "session" ? { csrfToken: csrfTokenFor(token) } : {}) } };
  });

  api.route("DELETE", "/api/v1/session", { access: "signed_in", tag: "Sessions", summary: "Sign out: the session ends server-side, the cookie is cleared" }, async (req) => {
    const token = cookie(req.headers, SESSION_COOKIE);
    if (token) await auth.endSession(token);
    return { headers: { "set-cookie": clearedSessionCookie(secureCookie) } };
  });

  api.route("GET", "/api/v1/api-users", { response: R.apiUserRows, access: "manage_api_users", tag: "Administration", summary: "API users and their roles" }, async () => ({ body: { rows: await auth.users() } }));

  api.route("POST", "/api/v1/api-users", { response: R.apiUserFull, access: "manage_api_users", tag: "Administration", summary: "Create an API user (admin, installer, support, viewer)", body: createApiUserBody, status: 201 }, async (req) => {
    const body = parse(createApiUserBody, req.body);
    const u = await auth.createUser({ ...body, role: body.role as ApiRole });
    return { status: 201, body: u, audit: [{ action: `create_api_user:${u.role}` }] };
  });

  api.route("POST", "/api/v1/api-users/:userId/tokens", { response: R.token, access: "manage_api_users", tag: "Administration", summary: "A bearer token for an API client (shown in this response only)", body: createTokenBody, status: 201 }, async (req) => {
    const body = parse(createTokenBody, req.body);
    return { status: 201, body: await auth.createToken(req.params.userId!, body.name), audit: [{ action: "create_api_token" }] };
  });

  api.route("DELETE", "/api/v1/api-tokens/:tokenId", { access: "manage_api_users", tag: "Administration", summary: "Revoke an API client's bearer token" }, async (req) => {
    await auth.revokeToken(req.params.tokenId!);
    return { audit: [{ action: "revoke_api_token" }] };
  });

  api.route("GET", "/api/v1/panels/:panelId/dealer", { response: R.dealer, access: "view_equipment", tag: "Dealer access", summary: "Whether dealer access is open, until when, time left, a pending request" }, async (req) => ({
    body: await dealerView(store, req.params.panelId!),
  }));

  api.route("POST", "/api/v1/panels/:panelId/dealer/grant", { response: R.commandIds, access: "manage_panel_users", tag: "Dealer access", summary: "The Master switches dealer access on for 2 hours", body: dealerGrantBody }, async (req) => {
    parse(dealerGrantBody, req.body);
    const out = await grantDealer(store, req.params.panelId!, req.principal);
    afterCommit(() => dispatcher.kick());
    return { body: out, audit: [{ panelId: req.params.panelId!, action: "grant_dealer_access", commandId: out.commands[0]! }] };
  });

  api.route("POST", "/api/v1/panels/:panelId/dealer/revoke", { response: R.commandIds, access: "manage_panel_users", tag: "Dealer access", summary: "The Master ends dealer access early" }, async (req) => {
    const out = await revokeDealer(store, req.params.panelId!, req.principal);
    afterCommit(() => dispatcher.kick());
    return { body: out, audit: [{ panelId: req.params.panelId!, action: "revoke_dealer_access", commandId: out.commands[0]! }] };
  });

  api.route("POST", "/api/v1/panels/:panelId/dealer/requests", { response: R.created, access: "manage_panel_users", tag: "Dealer access", summary: "A dealer asks for 24 h; the Master gets a one-time link (notification webhook)", status: 201 }, async (req) => {
    const out = await requestDealer(store, req.params.panelId!, req.principal, consoleUrl());
    afterCommit(() => deliverer.kick());
    return { status: 201, body: out, audit: [{ panelId: req.params.panelId!, action: "request_dealer_access" }] };
  });

  // The one-time link is the credential here: the Master who opens it need not be an API user.
  api.route("GET", "/api/v1/dealer-requests/:token", { response: R.dealerRequest, access: "public", tag: "Dealer access", summary: "What a dealer's request link asks (the link token is the credential)" }, async (req) => {
    const v = await dealerRequest(store, req.params.token!);
    return { body: { panelId: v.panelId, requestedAt: v.requestedAt, hours: v.hours, status: v.status } };
  });

  api.route("POST", "/api/v1/dealer-requests/:token/confirm", { response: R.commandIds, access: "public", tag: "Dealer access", summary: "The Master confirms the request: 24 h of dealer access; the link works once" }, async (req) => {
    const out = await confirmDealerRequest(store, req.params.token!);
    afterCommit(() => dispatcher.kick());
    return { body: { commands: out.commands }, audit: [{ panelId: out.panelId, action: "confirm_dealer_request", commandId: out.commands[0]! }] };
  });

  api.route("GET", "/api/v1/action-log", { response: R.pageOf(R.actionEntry), access: "view_action_log", tag: "Logs", summary: "Who changed what: API changes, refusals, 403s, each panel's acks; newest first", query: actionLogQuery }, async (req) => {
    const q = parse(actionLogQuery, Object.fromEntries(req.query));
    return { body: await readActionLog(store.db, { ...(q.panelId ? { panelId: q.panelId } : {}), ...(q.personId ? { personId: q.personId } : {}) }, q.page, q.perPage) };
  });

  api.route("GET", "/api/v1/events", { response: R.pageOf(R.event), access: "view_action_log", tag: "Logs", summary: "The panels' events (access, duress, lockout, one-time use, dealer, local changes) by panel, person, type", query: eventsQuery }, async (req) => {
    const q = parse(eventsQuery, Object.fromEntries(req.query));
    return { body: await listEvents(store.db, { ...(q.panelId ? { panelId: q.panelId } : {}), ...(q.personId ? { personId: q.personId } : {}), ...(q.type ? { type: q.type } : {}) }, q.page, q.perPage) };
  });

  api.route("GET", "/api/v1/openapi.json", { response: R.openApi, access: "public", tag: "Meta", summary: "This document" }, async () => ({ body: openApiDocument(api.routes()) }));
}
