/**
 * console_users_first_paint_ms: how long the Users tab of a panel with 1,000 users takes to paint
 * its grid in chromium, from navigation start (HTML, the console's JS and CSS, the session, the
 * panel and the first page of users from panel-fleet, the render) to the frame after the grid is
 * in the DOM (the console marks `users-grid-painted` then). Its floor, measured in the same
 * browser in the same run: an empty page marking its first frame the same way.
 *
 * For the bench (test/bench): `const r = await measureUsersFirstPaint(); figures.console_users_first_paint_ms = r.ms;`
 * (r.floorMs is the floor, r.runs every run). It starts and stops its own rig.
 */
import type { Page } from "playwright-core";
import { ConsoleRig } from "./rig.js";

export interface FirstPaint {
  /** median over the runs */
  ms: number;
  /** median first frame of an empty page, same browser, same run */
  floorMs: number;
  runs: number[];
  floorRuns: number[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function markedAt(page: Page, url: string, mark: string): Promise<number> {
  await page.goto(url);
  // a function, not a string: the console's CSP forbids eval, which a string predicate needs
  await page.waitForFunction((name) => performance.getEntriesByName(name).length > 0, mark, { timeout: 15_000 });
  return await page.evaluate<number>(`performance.getEntriesByName(${JSON.stringify(mark)})[0].startTime`);
}

const EMPTY_PAGE = "data:text/html,<!doctype html><title>floor</title><p>.</p><script>requestAnimationFrame(() => setTimeout(() => performance.mark('floor-painted'), 0))</script>";

/** On a running rig whose admin is signed in in the browser: `runs` fresh loads of the Users tab (after one warm-up). */
export async function measureUsersFirstPaintOn(rig: ConsoleRig, panelId: string, runs = 7): Promise<FirstPaint> {
  const page = await rig.context.newPage();
  try {
    const url = `${rig.url}/panels/${encodeURIComponent(panelId)}/users`;
    await markedAt(page, url, "users-grid-painted");
    await markedAt(page, EMPTY_PAGE, "floor-painted");
    const times: number[] = [];
    const floors: number[] = [];
    for (let i = 0; i < runs; i++) {
      floors.push(await markedAt(page, EMPTY_PAGE, "floor-painted"));
      times.push(await markedAt(page, url, "users-grid-painted"));
      const range = await page.locator(".pager .range").textContent();
      if (!range?.endsWith(" of 1000")) throw new Error(`the Users tab painted ${range}, not 1000 users`);
    }
    return { ms: Math.round(median(times)), floorMs: Math.round(median(floors)), runs: times.map(Math.round), floorRuns: floors.map(Math.round) };
  } finally {
    await page.close();
  }
}

/**
 * Standalone: a rig with one DSC panel (1,000 user numbers), `people` of them switched on with a
 * code (through the API, waiting until the panel applied them all), the admin signed in; then the
 * measurement.
 */
export async function measureUsersFirstPaint(opts: { people?: number; runs?: number } = {}): Promise<FirstPaint> {
  const panelId = "350000000009999";
  const rig = new ConsoleRig();
  try {
    await rig.start([panelId]);
    await seedPeople(rig, panelId, opts.people ?? 1000);
    const page = await rig.page();
    await page.goto(rig.url + "/");
    await page.getByLabel("Email").fill(rig.admin.email);
    await page.getByLabel("Password").fill(rig.admin.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Equipment" }).waitFor();
    return await measureUsersFirstPaintOn(rig, panelId, opts.runs);
  } finally {
    await rig.stop();
  }
}

async function seedPeople(rig: ConsoleRig, panelId: string, count: number): Promise<void> {
  const commands: string[] = [];
  const one = async (i: number) => {
    const p = await rig.api.call<{ id: string }>("POST", "/people", { firstName: "Person", lastName: String(i) });
    // distinct 4-digit codes (generated ones would collide on a panel of 1,000 users)
    const code = await rig.api.call<{ commands: string[] }>("PUT", `/people/${p.body.id}/code`, { code: String(1000 + 9 * i) });
    const on = await rig.api.call<{ commands: string[] }>("PUT", `/people/${p.body.id}/panels/${panelId}`, { enabled: true, slot: i + 1, ...(i === 0 ? { role: "Master" } : {}) });
    if (on.status !== 200) throw new Error(`seed ${i}: ${on.status} ${JSON.stringify(on.body)}`);
    commands.push(...(code.body.commands ?? []), ...on.body.commands);
  };
  const CONCURRENCY = 8;
  for (let i = 0; i < count; i += CONCURRENCY) await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count - i) }, (_, k) => one(i + k)));
  // Measure a settled panel: every command applied (the grid would show them pending otherwise).
  const deadline = Date.now() + 300_000;
  for (;;) {
    const last = commands.at(-1);
    const fate = last ? await rig.api.call<{ status: string }>("GET", `/commands/${last}`) : undefined;
    if (!fate || fate.body.status !== "pending") break;
    if (Date.now() > deadline) throw new Error("the seeded commands were not applied in 5 minutes");
    await new Promise((r) => setTimeout(r, 500));
  }
}
