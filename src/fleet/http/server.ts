import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { z } from "zod";
import type { Logger } from "pino";
import type { ActionEntry } from "../action-log.js";
import { roleAllows, type Permission, type Principal } from "../auth/permissions.js";
import { FleetError } from "../errors.js";

export type Params = Record<string, string>;
export interface Request {
  method: string;
  params: Params;
  query: URLSearchParams;
  body: unknown;
  headers: IncomingHttpHeaders;
  /** The signed-in API user; set on every route that is not public. */
  principal?: Principal;
}
/** What a change wrote, for the action log (without secrets: no codes, no tag ids). */
export type Audit = Omit<ActionEntry, "actor" | "outcome"> & { outcome?: ActionEntry["outcome"] };
export interface Reply {
  status?: number;
  /** Absent: no body (204). */
  body?: unknown;
  headers?: Record<string, string | string[]>;
  audit?: Audit[];
}
export type Handler = (req: Request & { principal: Principal }) => Promise<Reply>;
export type PublicHandler = (req: Request) => Promise<Reply>;

/** Who may call a route: anyone (`public`: sign-in, the OpenAPI document, one-time links), any signed-in user, or holders of a permission. */
export type Access = "public" | "signed_in" | Permission;

/** A route's description: its access rule and, for the OpenAPI document, what it takes and answers. */
export interface RouteMeta {
  access: Access;
  /**
   * A second permission the call needs when its body asks for something that permission governs
   * (seed doc 001: assigning an account needs "manage accounts", even through a route that sets a
   * panel user's other settings too).
   */
  alsoNeeds?: { permission: Permission; when: (body: unknown) => boolean; what: string };
  /** The largest body this route reads (default 64 KiB); a bulk route's list needs more. */
  maxBodyBytes?: number;
  summary: string;
  tag: string;
  body?: z.ZodType;
  query?: z.ZodType;
  /** The success status (default 200). */
  status?: number;
  /** The success body (http/responses.ts). */
  response?: z.ZodType;
}

export interface RouteInfo extends RouteMeta {
  method: string;
  path: string;
}

interface Route extends RouteInfo {
  parts: string[];
  handler: Handler | PublicHandler;
}

/** How requests are authenticated and refusals logged (see src/fleet/auth/guard.ts). */
export interface Guard {
  /** The caller, or a FleetError (`not_signed_in`, `session_expired`, `csrf_failed`). */
  authenticate(req: Request): Promise<Principal>;
  /** Writes action-log entries for a change or a refusal; throws only inside a unit of work (the entries commit with the change or neither does). */
  record(principal: Principal | undefined, entries: ActionEntry[]): Promise<void>;
}

const MAX_BODY = 64 * 1024;

/** Parses with a zod schema; a failure is `invalid_request` with the first issue's path and kind (never the value). */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new FleetError("invalid_request", issue ? { path: issue.path.join(".") || "(root)", issue: issue.code } : undefined);
}

const actorOf = (p: Principal): ActionEntry["actor"] => ({ kind: "api_user", id: p.userId, name: p.name });

/**
 * A small router on node's http module: exact path segments and `:params`, JSON in and out, every
 * refusal `{ error: { code, message, detail? } }` with a stable code. Every route declares who may
 * call it (RouteMeta.access); the guard authenticates the caller before the body is looked at, and
 * a caller without the permission gets 403 `permission_denied`, written to the action log. Request
 * bodies are never logged (a code may be in one); the log has method, route, status and time.
 */
export class HttpApi {
  readonly #routes: Route[] = [];
  readonly #log: Logger;
  readonly #guard: Guard | undefined;
  #server: Server | undefined;
  /** The console's static files (src/console/serve.ts): asked first for every path outside /api/. */
  #fallback: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;

  /** Runs a change and its action-log entries as one transaction (src/fleet/unit-of-work.ts); without it, one after the other. */
  readonly #unitOfWork: <T>(fn: () => Promise<T>) => Promise<T>;

  constructor(logger: Logger, guard?: Guard, unitOfWork?: <T>(fn: () => Promise<T>) => Promise<T>) {
    this.#log = logger;
    this.#guard = guard;
    this.#unitOfWork = unitOfWork ?? ((fn) => fn());
  }

  route(method: string, path: string, meta: RouteMeta & { access: "public" }, handler: PublicHandler): this;
  route(method: string, path: string, meta: RouteMeta, handler: Handler): this;
  route(method: string, path: string, meta: RouteMeta, handler: Handler | PublicHandler): this {
    this.#routes.push({ ...meta, method, path, parts: path.split("/").filter(Boolean), handler });
    return this;
  }

  /** Every route with its access rule and schemas: the OpenAPI document and the role tests read it. */
  routes(): RouteInfo[] {
    return this.#routes.map(({ parts: _p, handler: _h, ...info }) => info);
  }

  fallback(handler: (req: IncomingMessage, res: ServerResponse) => boolean): this {
    this.#fallback = handler;
    return this;
  }

  /** The route a request goes to, or undefined (for tests that check answers against `response`). */
  matchRoute(method: string, pathname: string): RouteInfo | undefined {
    const m = this.#match(method, pathname);
    if (m instanceof FleetError) return undefined;
    const { parts: _p, handler: _h, ...info } = m.route;
    return info;
  }

  async listen(port: number, host = "127.0.0.1"): Promise<{ port: number; url: string }> {
    const server = createServer((req, res) => {
      // #handle answers every request itself; this is the last resort
      // for a fault in its error path, which would otherwise leave the caller waiting and reject unhandled
      this.#handle(req, res).catch((err: unknown) => {
        this.#log.error({ err: (err as Error).message, url: req.url?.split("?")[0] }, "request not answered");
        if (!res.headersSent) send(res, 500, { error: new FleetError("internal_error").toJSON() });
        else res.destroy();
      });
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    const a = server.address() as AddressInfo;
    return { port: a.port, url: `http://${host}:${a.port}` };
  }

  async close(): Promise<void> {
    const s = this.#server;
    if (!s) return;
    this.#server = undefined;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  #match(method: string, pathname: string): { route: Route; params: Params } | FleetError {
    const parts = pathname.split("/").filter(Boolean);
    let pathMatched = false;
    for (const route of this.#routes) {
      if (route.parts.length !== parts.length) continue;
      const params: Params = {};
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const want = route.parts[i]!;
        if (want.startsWith(":")) {
          try {
            params[want.slice(1)] = decodeURIComponent(parts[i]!);
          } catch {
            ok = false;
          }
        } else ok = want === parts[i];
      }
      if (!ok) continue;
      pathMatched = true;
      if (route.method === method) return { route, params };
    }
    return new FleetError(pathMatched ? "method_not_allowed" : "not_found");
  }

  async #authorise(route: Route, req: Request): Promise<void> {
    if (route.access === "public") return;
    if (!this.#guard) throw new FleetError("not_signed_in");
    const principal = await this.#guard.authenticate(req);
    req.principal = principal;
    if (route.access !== "signed_in" && !roleAllows(principal.role, route.access)) await this.#refuse(principal, route, req, route.access);
  }

  /** The second permission a route needs for what this body asks (RouteMeta.alsoNeeds), once the body is read. */
  async #authoriseBody(route: Route, req: Request): Promise<void> {
    const also = route.alsoNeeds;
    if (!also || !req.principal || roleAllows(req.principal.role, also.permission) || !also.when(req.body)) return;
    await this.#refuse(req.principal, route, req, also.permission);
  }

  /** 403 permission_denied, written to the action log first. */
  async #refuse(principal: Principal, route: Route, req: Request, permission: Permission): Promise<never> {
    const e = new FleetError("permission_denied", { permission });
    await this.#guard!.record(principal, [{ actor: actorOf(principal), ...targetOf(req), action: `${route.method} ${route.path}`, outcome: "refused", code: e.code, sentence: e.message }]);
    throw e;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const url = new URL(req.url ?? "/", "http://localhost");
    if (!url.pathname.startsWith("/api/") && this.#fallback?.(req, res)) return;
    let status = 500;
    let routePath = "(none)";
    let request: Request | undefined;
    let route: Route | undefined;
    try {
      const m = this.#match(req.method ?? "GET", url.pathname);
      if (m instanceof FleetError) throw m;
      route = m.route;
      routePath = route.path;
      request = { method: req.method ?? "GET", params: m.params, query: url.searchParams, body: undefined, headers: req.headers };
      await this.#authorise(route, request);
      request.body = await readJson(req, route.maxBodyBytes ?? MAX_BODY);
      await this.#authoriseBody(route, request);
      const asked = request;
      const run = async (): Promise<Reply> => {
        const reply = await route!.handler(asked as Request & { principal: Principal });
        if (reply.audit?.length && this.#guard) {
          const p = asked.principal;
          const actor: ActionEntry["actor"] = p ? actorOf(p) : { kind: "dealer_link", id: asked.params.token ? "one-time-link" : "anonymous" };
          await this.#guard.record(p, reply.audit.map((a) => ({ ...a, actor, outcome: a.outcome ?? "requested" })));
        }
        return reply;
      };
      // A change and its entries commit together (a GET changes nothing: its reads stay on the pool)
      const reply = route.method === "GET" ? await run() : await this.#unitOfWork(run);
      status = reply.status ?? (reply.body === undefined ? 204 : 200);
      send(res, status, reply.body, reply.headers);
    } catch (err) {
      const e = err instanceof FleetError ? err : new FleetError("internal_error");
      if (!(err instanceof FleetError)) this.#log.error({ err: (err as Error).message, route: routePath }, "request failed");
      status = e.status;
      // A change the fleet refused for a rule (not for who asked: that is logged above) is in the action log too.
      const p = request?.principal;
      if (p && route && route.method !== "GET" && e.code !== "permission_denied" && e.code !== "invalid_json" && this.#guard) {
        await this.#guard.record(p, [{ actor: actorOf(p), ...targetOf(request!), action: `${route.method} ${route.path}`, outcome: "refused", code: e.code, sentence: e.message }]);
      }
      // The rest of a body too large is never read: the connection cannot carry another request, and
      // says so, or a client reusing it finds it reset (the next call failed with ECONNRESET).
      send(res, status, { error: e.toJSON() }, e.code === "payload_too_large" && !req.complete ? { connection: "close" } : {});
    } finally {
      this.#log.info({ method: req.method, route: routePath, status, ms: Math.round(performance.now() - started) }, "http");
    }
  }
}

/** The panel, slot and person a request is about, from its path parameters (routes name them panelId, slot, personId). */
function targetOf(req: Request): { panelId: string | null; slot: number | null; personId: string | null } {
  const p = req.params;
  const slot = p.slot !== undefined && /^[0-9]{1,7}$/.test(p.slot) ? Number(p.slot) : null;
  return { panelId: p.panelId ?? null, slot, personId: p.personId ?? null };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  if (body === undefined) {
    res.writeHead(status, { "cache-control": "no-store", ...headers });
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store", ...headers });
  res.end(text);
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  if (req.method === "GET" || req.method === "HEAD") return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new FleetError("payload_too_large", { limit });
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new FleetError("invalid_json");
  }
}
