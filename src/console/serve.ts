import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Serves the console's static files (dist/console, built by `npm run build`) on panel-fleet's
 * origin. Every GET outside /api/ is the console's: a path with a file extension is a file of the
 * bundle, any other path is the single page (index.html), so a link such as
 * /dealer-requests/<token> opens the console, which routes it. Nothing is fetched from elsewhere:
 * the CSP is `default-src 'self'` (the console works offline on a site's network).
 */

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
};

export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
  "x-content-type-options": "nosniff",
  // The dealer-request link carries a one-time token in its path: never send it on as a referrer.
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cache-control": "no-cache",
};

/** dist/console of the package this file belongs to (from src/console or dist/src/console alike). */
export function defaultConsoleRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return join(dir, "dist", "console");
    const up = dirname(dir);
    if (up === dir) return resolve("dist", "console");
    dir = up;
  }
}

export function createConsoleHandler(opts: { root?: string } = {}): (req: IncomingMessage, res: ServerResponse) => boolean {
  const root = resolve(opts.root ?? defaultConsoleRoot());
  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname === "/api" || url.pathname.startsWith("/api/")) return false;
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      reply(res, req, 400, "text/plain; charset=utf-8", "Bad path");
      return true;
    }
    const isFile = extname(path) !== "";
    const file = isFile ? normalize(join(root, path)) : join(root, "index.html");
    const preloads = isFile ? [] : preloadsFor(url);
    if (file !== root && !file.startsWith(root + sep)) {
      reply(res, req, 404, "text/plain; charset=utf-8", "Not found");
      return true;
    }
    readFile(file).then(
      (body) => reply(res, req, 200, TYPES[extname(file)] ?? "application/octet-stream", preloads.length > 0 ? withPreloads(body, preloads) : body),
      () =>
        isFile
          ? reply(res, req, 404, "text/plain; charset=utf-8", "Not found")
          : reply(res, req, 503, "text/plain; charset=utf-8", "The console is not built: run npm run build."),
    );
    return true;
  };
}

const PAGE_SIZES = [10, 15, 50, 100, 200];

/**
 * The API reads a screen needs first, for the page to preload while its script is still on the
 * way (console_users_first_paint_ms): on a Users tab, the session and the grid's page with the
 * panel. The URLs are exactly those the console asks for (app/screens/users.ts usersPagePath, the
 * session check in app/main.ts); app/api.ts prefetch() fetches them the way a preload is reused.
 */
export function preloadsFor(url: URL): string[] {
  const m = /^\/panels\/([^/]+)\/users$/.exec(url.pathname);
  if (!m) return [];
  let id: string;
  try {
    id = encodeURIComponent(decodeURIComponent(m[1]!));
  } catch {
    return [];
  }
  const pageN = Number(url.searchParams.get("page"));
  const perPageN = Number(url.searchParams.get("perPage"));
  const q = new URLSearchParams({ page: String(Number.isInteger(pageN) && pageN >= 1 ? pageN : 1), perPage: String(PAGE_SIZES.includes(perPageN) ? perPageN : 15), include: "panel" });
  return ["/api/v1/session", `/api/v1/panels/${id}/users?${q.toString()}`];
}

const attr = (s: string) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function withPreloads(html: Buffer, urls: string[]): Buffer {
  const links = urls.map((u) => `<link rel="preload" as="fetch" crossorigin="use-credentials" href="${attr(u)}" />`).join("");
  const text = html.toString("utf8");
  const at = text.indexOf("</head>");
  return Buffer.from(at < 0 ? text : text.slice(0, at) + links + text.slice(at), "utf8");
}

function reply(res: ServerResponse, req: IncomingMessage, status: number, type: string, body: string | Buffer): void {
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  res.writeHead(status, { ...CONSOLE_HEADERS, "content-type": type, "content-length": bytes.length });
  res.end(req.method === "HEAD" ? undefined : bytes);
}
