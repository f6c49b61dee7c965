import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { z } from "zod";
import type { Logger } from "pino";
import { FleetError } from "../errors.js";

export type Params = Record<string, string>;
export interface Request {
  params: Params;
  query: URLSearchParams;
  body: unknown;
}
export interface Reply {
  status?: number;
  body: unknown;
}
export type Handler = (req: Request) => Promise<Reply>;

interface Route {
  method: string;
  parts: string[];
  handler: Handler;
}

const MAX_BODY = 64 * 1024;

/** Parses with a zod schema; a failure is `invalid_request` with the first issue's path and kind (never the value). */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new FleetError("invalid_request", issue ? { path: issue.path.join(".") || "(root)", issue: issue.code } : undefined);
}

/**
 * A small router on node's http module: exact path segments and `:params`, JSON in and out, every
 * refusal `{ error: { code, message, detail? } }` with a stable code. Request bodies are never
 * logged (a code may be in one); the log has method, route, status and time.
 */
export class HttpApi {
  readonly #routes: Route[] = [];
  readonly #log: Logger;
  #server: Server | undefined;
  /** The console's static files (src/console/serve.ts): asked first for every path outside /api/. */
  #fallback: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;

  constructor(logger: Logger) {
    this.#log = logger;
  }

  route(method: string, path: string, handler: Handler): this {
    this.#routes.push({ method, parts: path.split("/").filter(Boolean), handler });
    return this;
  }

  fallback(handler: (req: IncomingMessage, res: ServerResponse) => boolean): this {
    this.#fallback = handler;
    return this;
  }

  async listen(port: number, host = "127.0.0.1"): Promise<{ port: number; url: string }> {
    const server = createServer((req, res) => void this.#handle(req, res));
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

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const url = new URL(req.url ?? "/", "http://localhost");
    if (!url.pathname.startsWith("/api/") && this.#fallback?.(req, res)) return;
    let status = 500;
    let routePath = "(none)";
    try {
      const m = this.#match(req.method ?? "GET", url.pathname);
      if (m instanceof FleetError) throw m;
      routePath = "/" + m.route.parts.join("/");
      const body = await readJson(req);
      const reply = await m.route.handler({ params: m.params, query: url.searchParams, body });
      status = reply.status ?? 200;
      send(res, status, reply.body);
    } catch (err) {
      const e = err instanceof FleetError ? err : new FleetError("internal_error");
      if (!(err instanceof FleetError)) this.#log.error({ err: (err as Error).message, route: routePath }, "request failed");
      status = e.status;
      send(res, status, { error: e.toJSON() });
    } finally {
      this.#log.info({ method: req.method, route: routePath, status, ms: Math.round(performance.now() - started) }, "http");
    }
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  if (req.method === "GET" || req.method === "HEAD") return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new FleetError("payload_too_large", { limit: MAX_BODY });
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new FleetError("invalid_json");
  }
}
