/**
 * The console's static handler on a real HTTP server: files of the bundle, the single page for any
 * other path (so a one-time link opens the console), nothing outside its root, the CSP on all of
 * it, and /api/ left to the API.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConsoleHandler } from "../../src/console/serve.js";
import { tempDirs } from "../helpers/tmp.js";

const dirs = tempDirs();
let server: Server;
let base = "";

beforeAll(async () => {
  const top = dirs.make("console-serve-");
  const root = join(top, "console");
  mkdirSync(root);
  writeFileSync(join(root, "index.html"), "<!doctype html><head><title>console</title></head>");
  writeFileSync(join(root, "app.js"), "export {};");
  writeFileSync(join(top, "secret.txt"), "outside the root");
  const handle = createConsoleHandler({ root });
  server = createServer((req, res) => {
    if (!handle(req, res)) res.writeHead(418, { "content-type": "text/plain" }).end("not the console's");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  dirs.cleanup();
});

const get = async (path: string, method = "GET") => {
  const res = await fetch(base + path, { method });
  return { status: res.status, type: res.headers.get("content-type"), csp: res.headers.get("content-security-policy"), referrer: res.headers.get("referrer-policy"), body: await res.text() };
};

describe("the console's static handler", () => {
  it("serves the bundle's files with their types and the CSP", async () => {
    const js = await get("/app.js");
    expect(js).toMatchObject({ status: 200, type: "text/javascript; charset=utf-8", body: "export {};" });
    expect(js.csp).toContain("default-src 'self'");
    expect(js.referrer).toBe("no-referrer");
  });

  it("answers every other path with the single page, so /dealer-requests/<token> opens the console", async () => {
    for (const path of ["/", "/panels/350000000000001/dealer", "/dealer-requests/abc123"]) {
      expect(await get(path)).toMatchObject({ status: 200, type: "text/html; charset=utf-8", body: "<!doctype html><head><title>console</title></head>" });
    }
  });

  it("on a Users tab, the single page preloads the session and the grid's page with the panel: the URLs the console asks for", async () => {
    const link = (href: string) => `<link rel="preload" as="fetch" crossorigin="use-credentials" href="${href}" />`;
    const page = await get("/panels/350000000000001/users?page=2&perPage=50");
    expect(page).toMatchObject({ status: 200, type: "text/html; charset=utf-8" });
    expect(page.body).toBe(`<!doctype html><head><title>console</title>${link("/api/v1/session")}${link("/api/v1/panels/350000000000001/users?page=2&amp;perPage=50&amp;include=panel")}</head>`);
    // a page size the grid does not offer, or no page, is what the console falls back to
    expect((await get("/panels/350000000000001/users?perPage=20&page=x")).body).toContain(link("/api/v1/panels/350000000000001/users?page=1&amp;perPage=15&amp;include=panel"));
    // an id is escaped as the console escapes it; markup in it cannot leave the attribute
    expect((await get('/panels/a%22%3Cb/users')).body).toContain(link("/api/v1/panels/a%22%3Cb/users?page=1&amp;perPage=15&amp;include=panel"));
  });

  it("gives nothing outside its root, and 404 for a missing file", async () => {
    expect((await get("/%2e%2e/secret.txt")).status).toBe(404);
    expect((await get("/..%2fsecret.txt")).status).toBe(404);
    expect((await get("/missing.js")).status).toBe(404);
    expect((await get("/%E0%A4%A.js")).status).toBe(400);
  });

  it("leaves /api/ and writes to the API", async () => {
    expect((await get("/api/v1/session")).status).toBe(418);
    expect((await get("/", "POST")).status).toBe(418);
    expect(await get("/app.js", "HEAD")).toMatchObject({ status: 200, body: "" });
  });
});
