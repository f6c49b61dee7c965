/**
 * The console's test rig: the console built with esbuild, panel-fleet on PGlite serving it, real
 * agents on a real mosquitto, a local webhook receiver (the dealer's emailed link arrives there),
 * and Debian's chromium driven headless by playwright-core with a fresh profile.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page, type Request, type Response } from "playwright-core";
import { buildConsole } from "../../src/console/build.js";
import { startFleet, type RunningFleet } from "../../src/fleet/app.js";
import { CodeVault } from "../../src/fleet/code-vault.js";
import type { Db } from "../../src/fleet/db.js";
import { freshPglite } from "../fleet/databases.js";
import { AgentFleet, captureLog } from "../fleet/fixture.js";
import { WebhookReceiver } from "../fleet/webhook-receiver.js";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** The flags the console's browser tests run chromium with (nothing reaches outside the machine). */
export const CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
export const ARTIFACTS = join(import.meta.dirname, "artifacts");

/** The API from node with a signed-in session (cookie + CSRF token), as the console uses it. */
export class SessionClient {
  cookie = "";
  csrf = "";
  constructor(readonly base: string) {}

  async signIn(email: string, password: string): Promise<this> {
    const res = await fetch(`${this.base}/api/v1/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password }) });
    if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${await res.text()}`);
    this.cookie = (res.headers.get("set-cookie") ?? "").split(";")[0]!;
    this.csrf = ((await res.json()) as { csrfToken: string }).csrfToken;
    return this;
  }

  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { cookie: this.cookie };
    if (method !== "GET") headers["x-csrf-token"] = this.csrf;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${this.base}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }
}

export interface TrafficEntry {
  url: string;
  method: string;
  status: number;
  requestBody: string;
  responseBody: string;
}

export class ConsoleRig {
  readonly agents = new AgentFleet();
  /** The fleet's notification and account hooks, as a real local HTTP receiver (the fleet tests' own). */
  readonly hooks = new WebhookReceiver();
  readonly log = captureLog();
  readonly admin = { email: "admin@fleet.test", password: "correct horse battery staple" };
  fleet!: RunningFleet;
  db!: Db;
  api!: SessionClient;
  context!: BrowserContext;
  #profile = "";
  /** Every request and response of the whole browser session (for the code scans). */
  readonly traffic: TrafficEntry[] = [];
  readonly #reads: Promise<void>[] = [];

  get url(): string {
    return this.fleet.url;
  }

  async start(panels: string[]): Promise<this> {
    await buildConsole();
    await Promise.all([this.agents.start(panels), this.hooks.start()]);
    this.db = await freshPglite();
    this.fleet = await startFleet({
      db: this.db,
      vault: new CodeVault(Buffer.alloc(32, 5)),
      brokerUrl: this.agents.broker.url,
      signingKey: this.agents.signingKey,
      logger: this.log.logger,
      port: 0,
      workerId: "console-test",
      admin: this.admin,
      webhooks: { notificationUrl: `${this.hooks.url}/notify`, accountUrl: `${this.hooks.url}/account` },
    });
    this.api = await new SessionClient(this.fleet.url).signIn(this.admin.email, this.admin.password);
    for (const id of panels) {
      // the agents' door lock ("front", test/helpers/agent-harness.ts), so the details panel can assign it
      const r = await this.api.call("POST", "/panels", { id, doorLocks: ["front"] });
      if (r.status !== 201) throw new Error(`enrol ${id}: ${r.status} ${JSON.stringify(r.body)}`);
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    this.#profile = mkdtempSync(join(tmpdir(), "console-chromium-"));
    this.context = await chromium.launchPersistentContext(this.#profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1280, height: 860 },
      colorScheme: "light",
      timezoneId: "UTC",
    });
    this.context.setDefaultTimeout(15_000);
    this.context.on("request", (req) => this.#record(req));
    return this;
  }

  /**
   * A second browser with no session (the Master opening an emailed link on another device): a
   * context of its own, its traffic recorded with the console's for the code scans. Close it after.
   */
  async otherBrowser(): Promise<BrowserContext> {
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: "light", timezoneId: "UTC" });
    context.setDefaultTimeout(15_000);
    context.on("request", (req) => this.#record(req));
    context.on("close", () => void browser.close());
    return context;
  }

  #record(req: Request): void {
    const entry: TrafficEntry = { url: req.url(), method: req.method(), status: 0, requestBody: req.postData() ?? "", responseBody: "" };
    this.traffic.push(entry);
    this.#reads.push(
      req.response().then(
        async (res: Response | null) => {
          if (!res) return;
          entry.status = res.status();
          try {
            entry.responseBody = (await res.body()).toString("utf8");
          } catch {
            // a redirect or an aborted navigation has no body
          }
        },
        () => undefined,
      ),
    );
  }

  /** Waits until every response seen so far has been read. */
  async settledTraffic(): Promise<TrafficEntry[]> {
    await Promise.all(this.#reads);
    return this.traffic;
  }

  async page(): Promise<Page> {
    return this.context.pages()[0] ?? (await this.context.newPage());
  }

  async stop(): Promise<void> {
    await this.context?.close().catch(() => undefined);
    await this.fleet?.stop();
    await this.db?.close();
    await this.hooks.stop();
    await this.agents.stop();
    if (this.#profile) rmSync(this.#profile, { recursive: true, force: true });
  }
}

/**
 * Screenshots of the page in both themes (test artifacts, not compared), then back to the theme it
 * was in. A code on screen (the generated one, shown once) is masked: no code in a test artifact.
 */
/** Controls without an accessible name, per screen shot (every screen is checked where it is photographed). */
export const unlabelled: string[] = [];

export async function shootBothThemes(page: Page, name: string, opts: { fullPage?: boolean } = {}): Promise<void> {
  const missing = await page.evaluate<string[]>(`(() => {
    const named = (el) => {
      if (el.getAttribute("aria-label") || el.getAttribute("aria-labelledby")) return true;
      if (el.closest("label")) return true;
      if (el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]')) return true;
      if (el.tagName === "BUTTON" || el.tagName === "A") return (el.textContent || "").trim().length > 0;
      return false;
    };
    return [...document.querySelectorAll("input, select, textarea, button, a[href], [role=switch], [role=combobox], [role=menuitem]")]
      .filter((el) => el.getClientRects().length > 0 && !el.closest("[inert]") && !named(el))
      .map((el) => el.outerHTML.slice(0, 120));
  })()`);
  unlabelled.push(...missing.map((m) => `${name}: ${m}`));
  const before = await page.evaluate("document.documentElement.dataset.theme ?? ''");
  for (const theme of ["light", "dark"]) {
    await page.evaluate(`document.documentElement.dataset.theme = ${JSON.stringify(theme)}`);
    await page.screenshot({ path: join(ARTIFACTS, `${name}-${theme}.png`), fullPage: opts.fullPage ?? false, mask: [page.locator("[data-secret=generated]")] });
  }
  await page.evaluate(before ? `document.documentElement.dataset.theme = ${JSON.stringify(before)}` : "delete document.documentElement.dataset.theme");
}

/** Everything a page holds that a code could hide in: the markup, every field's live value, localStorage, the URL. */
export async function pageText(page: Page): Promise<string> {
  return await page.evaluate<string>(`(() => {
    const values = [...document.querySelectorAll("input, textarea, select")].map((e) => e.value).join("\\n");
    const storage = Object.keys(localStorage).map((k) => k + "=" + localStorage.getItem(k)).join("\\n");
    return document.documentElement.outerHTML + "\\n" + values + "\\n" + storage + "\\n" + location.href + "\\n" + document.title;
  })()`);
}
