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
    if (file !== root && !file.startsWith(root + sep)) {
      reply(res, req, 404, "text/plain; charset=utf-8", "Not found");
      return true;
    }
    readFile(file).then(
      (body) => reply(res, req, 200, TYPES[extname(file)] ?? "application/octet-stream", body),
      () =>
        isFile
          ? reply(res, req, 404, "text/plain; charset=utf-8", "Not found")
          : reply(res, req, 503, "text/plain; charset=utf-8", "The console is not built: run npm run build."),
    );
    return true;
  };
}

function reply(res: ServerResponse, req: IncomingMessage, status: number, type: string, body: string | Buffer): void {
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  res.writeHead(status, { ...CONSOLE_HEADERS, "content-type": type, "content-length": bytes.length });
  res.end(req.method === "HEAD" ? undefined : bytes);
}
