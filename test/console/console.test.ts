/**
 * The console in a real browser (Debian's chromium, headless, driven by playwright-core), served
 * by panel-fleet on PGlite with real agents on a real mosquitto: each reference document's steps
 * as a person does them, by label and role, with screenshots of each screen in both themes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { leaks } from "../fleet/leaks.js";
import { KeypadTestClient, lastDisplay } from "../helpers/keypad-client.js";
import { measureUsersFirstPaintOn } from "./first-paint.js";
import { ConsoleRig, pageText, SessionClient, shootBothThemes, unlabelled } from "./rig.js";

const PANELS = ["350000000000001", "350000000000002"];
const rig = new ConsoleRig();
let page: Page;

beforeAll(async () => {
  await rig.start(PANELS);
  page = await rig.page();
}, 90_000);

afterAll(async () => {
  await rig.stop();
}, 30_000);

/** Every code the session used: a typed one never leaves the request that set it; a generated one is in the generating response only. */
const typedCodes: string[] = [];
/** the ones typed in the browser (the rest went through the API from node) */
const typedInBrowser: string[] = [];
const generatedCodes: string[] = [];
const domSnapshots: string[] = [];
const remember = async () => domSnapshots.push(await pageText(page));

async function keypadAnswer(panelId: string, code: string): Promise<string> {
  const c = await KeypadTestClient.connect(rig.agents.agent(panelId).config.keypadSocket);
  try {
    await c.hello("kp-console", [1]);
    c.send({ t: "entry", action: "arm_away", code });
    const line2 = lastDisplay(await c.sync())?.line2;
    return typeof line2 === "string" ? line2 : "";
  } finally {
    c.close();
  }
}

/** What a keypad with a proximity reader answers a tag read with (no pending action: the bare action; at a door lock: open it). */
async function tagAnswer(panelId: string, tag: string, door?: string): Promise<string> {
  const c = await KeypadTestClient.connect(rig.agents.agent(panelId).config.keypadSocket);
  try {
    await c.hello("kp-console-tag", [1]);
    c.send(door ? { t: "tag", tag, door } : { t: "tag", tag });
    const line2 = lastDisplay(await c.sync())?.line2;
    return typeof line2 === "string" ? line2 : "";
  } finally {
    c.close();
  }
}

/** Runs a step that saves, then waits for the fate of THAT save (the box's data-seq moves on) to leave pending. */
async function saved(step: () => Promise<void>, scope: Page | ReturnType<Page["locator"]> = page): Promise<{ fate: string; text: string }> {
  const box = scope.locator(".fate").first();
  const before = (await box.count()) > 0 ? await box.getAttribute("data-seq") : null;
  await step();
  await eventually(async () => box.getAttribute("data-seq")).not.toBe(before);
  await expect.poll(async () => box.getAttribute("data-fate"), { timeout: 20_000 }).toMatch(/^(applied|rejected|mixed|superseded|none|error)$/);
  return { fate: (await box.getAttribute("data-fate"))!, text: (await box.textContent()) ?? "" };
}

/** expect.poll with room for a loaded CI machine (its default gives up after one second). */
const eventually = <T>(probe: () => T | Promise<T>) => expect.poll(probe, { timeout: 10_000, interval: 100 });

async function signIn(email: string, password: string): Promise<void> {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** A write made from the signed-in page itself, with the session's CSRF token: what the API answers the person in the browser. */
async function fromPage(method: string, apiPath: string): Promise<{ status: number; body: { error: { code: string; detail?: Record<string, unknown> } } }> {
  return page.evaluate(`(async () => {
      const s = await (await fetch("/api/v1/session")).json();
      const r = await fetch(${JSON.stringify(apiPath)}, { method: ${JSON.stringify(method)}, headers: { "x-csrf-token": s.csrfToken } });
      return { status: r.status, body: await r.json() };
    })()`);
}

describe("the console", () => {
  it("signs in with an HttpOnly SameSite=Strict session; the page has its CSP and loads nothing from elsewhere", async () => {
    const res = await page.goto(rig.url + "/");
    expect(res?.headers()["content-security-policy"]).toContain("default-src 'self'");
    await eventually(() => page.getByRole("heading", { name: "Sign in to panel-fleet" }).isVisible()).toBe(true);
    await shootBothThemes(page, "sign-in");
    await signIn(rig.admin.email, "wrong password");
    await eventually(() => page.getByRole("alert").textContent()).toMatch(/\w+/);
    await signIn(rig.admin.email, rig.admin.password);
    await page.getByRole("heading", { name: "Equipment" }).waitFor();
    const cookies = await rig.context.cookies();
    const session = cookies.find((c) => c.name === "fleet_session");
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Strict" });
    expect(await page.evaluate("document.cookie")).not.toContain("fleet_session");
    const origin = new URL(rig.url).origin;
    expect(rig.traffic.filter((t) => new URL(t.url).origin !== origin)).toEqual([]);
  });

  it("Equipment lists the fleet's panels, searchable, and opens a panel's Users tab", async () => {
    const grid = page.getByRole("table", { name: "Panels" });
    await eventually(() => grid.getByRole("row").count()).toBe(1 + PANELS.length);
    await shootBothThemes(page, "equipment");
    await page.getByLabel("Search panels").fill("0002");
    await page.getByRole("button", { name: "Search" }).click();
    await eventually(() => grid.getByRole("row").count()).toBe(2);
    await grid.getByRole("link", { name: PANELS[1]! }).click();
    await page.getByRole("heading", { name: "Equipment users" }).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/panels/${PANELS[1]}/users`);
  });

  it("the Users tab lists all 1000 panel user numbers, 15 a page, with previous, next and users per page", async () => {
    await page.goto(`${rig.url}/panels/${PANELS[0]}/users`);
    await page.getByRole("heading", { name: "Equipment users" }).waitFor();
    const range = page.locator(".pager .range");
    await eventually(() => range.textContent()).toBe("1-15 of 1000");
    expect(await page.locator(".users-count").textContent()).toBe("1000 users");
    const rows = page.getByRole("table", { name: "Panel users" }).locator("tbody tr");
    expect(await rows.count()).toBe(15);
    expect(await page.getByRole("button", { name: "Previous page" }).isDisabled()).toBe(true);
    await shootBothThemes(page, "users-grid", { fullPage: true });
    await page.getByRole("button", { name: "Next page" }).click();
    await eventually(() => range.textContent()).toBe("16-30 of 1000");
    expect(await rows.first().getAttribute("data-slot")).toBe("16");
    await page.getByRole("button", { name: "Previous page" }).click();
    await eventually(() => range.textContent()).toBe("1-15 of 1000");
    expect(await page.getByLabel("Users per page").locator("option").allTextContents()).toEqual(["10", "15", "50", "100", "200"]);
    await page.getByLabel("Users per page").selectOption("200");
    await eventually(() => range.textContent()).toBe("1-200 of 1000");
    for (const expected of ["201-400 of 1000", "401-600 of 1000", "601-800 of 1000", "801-1000 of 1000"]) {
      await page.getByRole("button", { name: "Next page" }).click();
      await eventually(() => range.textContent()).toBe(expected);
    }
    expect(await page.getByRole("button", { name: "Next page" }).isDisabled()).toBe(true);
    expect(await rows.last().getAttribute("data-slot")).toBe("1000");
    await page.locator(".pager").scrollIntoViewIfNeeded();
    await shootBothThemes(page, "users-navigation");
  });

  let graceId = "";
  it("New user (000): name, Create; Device Access with a generated code on two panels; the Time tile's Restricted Schedule; a mobile number and an email", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "New user" }).click();
    await page.getByRole("heading", { name: "New User" }).waitFor();
    await shootBothThemes(page, "new-user");
    await page.getByLabel("First Name").fill("Grace");
    await page.getByLabel("Last Name").fill("Hopper");
    await page.getByRole("button", { name: "Create" }).click();
    await page.getByRole("heading", { name: "Device Access" }).waitFor();
    graceId = new URL(page.url()).pathname.split("/")[2]!;
    for (const id of PANELS) await page.getByRole("switch", { name: id }).check();
    await page.getByRole("button", { name: "Generate code" }).click();
    await shootBothThemes(page, "device-access");
    const generated = page.getByRole("region", { name: "Generated code" });
    const fate = await saved(() => page.getByRole("button", { name: "Save", exact: true }).click());
    const code = (await generated.locator(".generated-code").textContent())!.trim();
    expect(code).toMatch(/^\d{4}$/);
    generatedCodes.push(code);
    expect(fate).toMatchObject({ fate: "applied" });
    expect(fate.text).toContain(PANELS[0]);
    await shootBothThemes(page, "device-access-generated");
    for (const id of PANELS) expect(await keypadAnswer(id, code)).toMatch(/^Access granted/);
    await generated.getByRole("button", { name: "Dismiss" }).click();
    expect(await generated.count()).toBe(0);
    expect(await pageText(page)).not.toContain(code);
    await remember();

    // A specific code typed in ACCESS CODE instead: the field is empty once Save is pressed.
    const specific = "6142";
    typedCodes.push(specific);
    typedInBrowser.push(specific);
    await page.getByLabel("ACCESS CODE").fill(specific);
    expect((await saved(() => page.getByRole("button", { name: "Save", exact: true }).click())).fate).toBe("applied");
    expect(await page.getByLabel("ACCESS CODE").inputValue()).toBe("");
    await remember();
    for (const id of PANELS) expect(await keypadAnswer(id, specific)).toMatch(/^Access granted/);
    expect(await keypadAnswer(PANELS[1]!, code)).toBe("Access denied");

    // The Time tile: Restricted Schedule, Monday, Wednesday and Friday 08:00 to 18:00.
    await page.getByRole("button", { name: /^Time/ }).click();
    const dialog = page.getByRole("dialog", { name: "Access Period" });
    await dialog.getByLabel(/Restricted Schedule/).check();
    for (const [i, day] of ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"].entries()) {
      await dialog.getByLabel(`${day}, time frame 1`).setChecked(i === 1 || i === 3 || i === 5);
    }
    await dialog.getByLabel("From").fill("08:00");
    await dialog.getByLabel("To").fill("18:00");
    await shootBothThemes(page, "access-period");
    expect((await saved(() => dialog.getByRole("button", { name: "Save" }).click())).fate).toBe("applied");
    expect(await dialog.count()).toBe(0);
    expect(await page.locator("[data-field=access-period]").textContent()).toBe("Restricted Schedule: Mon Wed Fri 08:00-18:00");
    const person = await rig.api.call<{ accessPeriod: unknown; panels: { panelId: string; enabled: boolean }[] }>("GET", `/people/${graceId}`);
    expect(person.body.accessPeriod).toEqual({ kind: "weekly", windows: [{ days: [1, 3, 5], start: 480, end: 1080 }] });
    expect(person.body.panels.filter((p) => p.enabled).map((p) => p.panelId).sort()).toEqual([...PANELS].sort());
    // The panels hold the schedule: the keypad answers by it (the agents' time zone is Europe/Berlin).
    const berlin = new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/Berlin", weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(new Date());
    const part = (t: string) => berlin.find((p) => p.type === t)!.value;
    const minutes = Number(part("hour")) * 60 + Number(part("minute"));
    const inWindow = ["Mon", "Wed", "Fri"].includes(part("weekday")) && minutes >= 480 && minutes < 1080;
    if (minutes % 60 !== 59) expect(await keypadAnswer(PANELS[0]!, specific)).toMatch(inWindow ? /^Access granted/ : /^Access denied/);

    // Temporary Access: from an hour ago to tomorrow (the browser runs in UTC).
    const local = (ms: number) => new Date(ms).toISOString().slice(0, 16);
    const from = Date.now() - 3600_000;
    const to = Date.now() + 86_400_000;
    await page.getByRole("button", { name: /^Time/ }).click();
    await dialog.getByLabel(/Temporary Access/).check();
    await dialog.getByLabel("Starting at").fill(local(from));
    await dialog.getByLabel("Ending at").fill(local(to));
    await shootBothThemes(page, "access-period-temporary");
    expect((await saved(() => dialog.getByRole("button", { name: "Save" }).click())).fate).toBe("applied");
    expect(await page.locator("[data-field=access-period]").textContent()).toMatch(/^Temporary Access: .+ to .+$/);
    const temporary = await rig.api.call<{ accessPeriod: { kind: string; from: number; to: number } }>("GET", `/people/${graceId}`);
    expect(temporary.body.accessPeriod).toEqual({ kind: "temporary", from: Math.floor(from / 60_000) * 60_000, to: Math.floor(to / 60_000) * 60_000 });
    expect(await keypadAnswer(PANELS[1]!, specific)).toMatch(/^Access granted/);

    // ... and back to At All Times.
    await page.getByRole("button", { name: /^Time/ }).click();
    await dialog.getByLabel(/At All Times/).check();
    expect((await saved(() => dialog.getByRole("button", { name: "Save" }).click())).fate).toBe("applied");
    expect(await dialog.count()).toBe(0);
    expect(await page.locator("[data-field=access-period]").textContent()).toBe("At All Times");
    expect(await keypadAnswer(PANELS[0]!, specific)).toMatch(/^Access granted/);

    // CONTACT INFORMATION: a mobile number (country, carrier, enabled), then an email address.
    await page.getByRole("button", { name: "Add Contact" }).click();
    const contact = page.getByRole("dialog", { name: "Add Contact" });
    await contact.getByRole("radio", { name: "Mobile Number" }).check();
    await contact.getByLabel("Mobile Number (SMS)").fill("+1 555 0100");
    await contact.getByLabel("Country").selectOption("US");
    await contact.getByLabel("Carrier").fill("Verizon");
    await contact.getByRole("switch", { name: "Enable" }).first().check();
    await shootBothThemes(page, "contact-mobile");
    await contact.getByRole("button", { name: "Save" }).click();
    await eventually(() => contact.count()).toBe(0);
    await page.getByRole("button", { name: "Add Contact" }).click();
    await contact.getByRole("radio", { name: "Email Address" }).check();
    await contact.getByRole("textbox", { name: "Email Address" }).fill("grace@example.com");
    await contact.getByRole("switch", { name: "Enable" }).last().check();
    await contact.getByRole("button", { name: "Save" }).click();
    await eventually(() => contact.count()).toBe(0);
    await eventually(() => page.locator(".contacts li").count()).toBe(2);
    await shootBothThemes(page, "user-profile");
    const withContacts = await rig.api.call<{ contacts: { kind: string; value: string; country: string | null; carrier: string | null; enabled: boolean }[] }>("GET", `/people/${graceId}`);
    expect(withContacts.body.contacts).toEqual([
      { kind: "mobile", value: "+1 555 0100", country: "US", carrier: "Verizon", enabled: true },
      { kind: "email", value: "grace@example.com", country: null, carrier: null, enabled: true },
    ]);
    await remember();
  }, 90_000);

  it("Users (000 steps 3-4): the people by name, Add opens New User; a name opens the profile with Device Access, the Time tile and contacts", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" }).click();
    await page.getByRole("heading", { name: "Users", exact: true }).waitFor();
    expect(await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" }).getAttribute("aria-current")).toBe("page");
    await page.getByLabel("Search users").fill("  hopper ");
    await page.getByRole("button", { name: "Search" }).click();
    const people = page.getByRole("table", { name: "Users" });
    await eventually(() => people.locator("tbody tr").count()).toBe(1);
    const grace = people.locator(`tr[data-person="${graceId}"]`);
    expect((await grace.locator("td").allTextContents()).map((t) => t.trim())).toEqual(["Grace Hopper", "", [...PANELS].sort().join(", ")]);
    expect(await grace.getByRole("img", { name: "Code set" }).count()).toBe(1);
    await shootBothThemes(page, "users-list");
    await page.getByLabel("Search users").fill("nobody at all");
    await page.getByRole("button", { name: "Search" }).click();
    await eventually(() => people.locator("td.empty").textContent()).toBe("No user is named like “nobody at all”.");
    await page.getByLabel("Search users").fill("Grace");
    await page.getByRole("button", { name: "Search" }).click();
    await people.getByRole("link", { name: "Grace Hopper" }).click();
    await page.getByRole("heading", { name: "Grace Hopper" }).waitFor();
    expect(await page.locator("[data-field=access-period]").textContent()).toBe("At All Times");
    expect(await page.locator(".contacts li").count()).toBe(2);
    for (const id of PANELS) expect(await page.getByRole("switch", { name: id }).isChecked()).toBe(true);
    await page.goBack();
    await page.getByRole("heading", { name: "Users", exact: true }).waitFor();
    await page.getByRole("link", { name: "Add", exact: true }).click();
    await page.getByRole("heading", { name: "New User" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/people/new");
  });

  const CREATED = /^\d{1,2}:\d{2}:\d{2} (AM|PM) (Sun|Mon|Tue|Wed|Thu|Fri|Sat) \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec), \d{4}$/;
  const row = (slot: number) => page.locator(`tr.user-row[data-slot="${slot}"]`);
  const cells = async (slot: number) => (await row(slot).locator("td").allTextContents()).map((t) => t.trim());
  let graceSlot = 0;
  /** Grace's code from the details panel on (the one the keypads are asked with after) */
  let graceCode = "";

  it("Assign account (001): the email must be picked from the suggestions, a suspended account is refused; the grid shows email, Created and Status", async () => {
    for (const [email, status] of [["ada@example.com", "Active"], ["ada.suspended@example.com", "Suspended"]] as const) {
      expect((await rig.api.call("POST", "/accounts", { email, status })).status).toBe(201);
    }
    const grace = await rig.api.call<{ panels: { panelId: string; slot: number }[] }>("GET", `/people/${graceId}`);
    graceSlot = grace.body.panels.find((p) => p.panelId === PANELS[0])!.slot;
    await page.goto(`${rig.url}/panels/${PANELS[0]}/users`);
    await page.getByRole("button", { name: "Assign account" }).click();
    const dialog = page.getByRole("dialog", { name: `Assign account to panel ${PANELS[0]}` });
    await dialog.waitFor();
    const email = dialog.getByRole("combobox", { name: "Email" });
    await email.fill("ada");
    const suggestions = dialog.getByRole("listbox", { name: "Matching accounts" });
    await eventually(() => suggestions.getByRole("option").count()).toBe(2);
    await shootBothThemes(page, "assign-account");
    await dialog.getByLabel("User").selectOption(String(graceSlot));
    await dialog.getByRole("button", { name: "Save" }).click();
    expect(await dialog.getByRole("alert").textContent()).toBe("Select the account from the suggestions.");
    await email.fill("ada.susp");
    await eventually(() => suggestions.getByRole("option").allTextContents()).toEqual(["ada.suspended@example.com Suspended"]);
    // marked aria-disabled, but a person can still click it: the console says why it is refused
    await suggestions.getByRole("option", { name: /ada\.suspended@example\.com/ }).click({ force: true });
    expect(await dialog.getByRole("alert").textContent()).toBe("A suspended account cannot be assigned to a panel user.");
    await email.fill("ada@");
    await eventually(() => suggestions.getByRole("option").count()).toBe(1);
    await suggestions.getByRole("option", { name: /^ada@example\.com/ }).click();
    expect(await email.inputValue()).toBe("ada@example.com");
    expect((await saved(() => dialog.getByRole("button", { name: "Save" }).click())).fate).toBe("applied");
    expect(await dialog.count()).toBe(0);
    await eventually(async () => (await cells(graceSlot))[4]).toBe("ada@example.com");
    const [, , , , , created, status] = await cells(graceSlot);
    expect(created).toMatch(CREATED);
    expect(status).toMatch(/^Not confirmed|^Active/);
    await shootBothThemes(page, "users-grid-assigned");
  }, 60_000);

  it("the details panel (001) opens from the right, keeps focus inside, closes on Escape; a typed code, a label and partitions are saved and applied", async () => {
    await row(graceSlot).click();
    await page.getByRole("dialog", { name: "Grace Hopper" }).waitFor();
    // the title follows the label, so the drawer is found by its kind from here on
    const drawer = page.locator(".drawer[role=dialog]");
    expect(await drawer.locator("[data-field=code]").textContent()).toBe("Set");
    expect(await drawer.getByText("ada@example.com").count()).toBeGreaterThan(0);
    for (const name of ["Unassign account", "Reset password", "Remove account"]) expect(await drawer.getByRole("button", { name }).count()).toBe(1);
    await shootBothThemes(page, "user-details");
    for (let i = 0; i < 25; i++) {
      await page.keyboard.press("Tab");
      expect(await page.evaluate("!!document.activeElement.closest('[role=dialog]')")).toBe(true);
    }
    await page.keyboard.press("Escape");
    await eventually(() => drawer.count()).toBe(0);
    expect(await page.evaluate("document.activeElement.dataset.slot")).toBe(String(graceSlot));

    await page.keyboard.press("Enter");
    await drawer.waitFor();
    const typed = "4821";
    graceCode = typed;
    typedCodes.push(typed);
    typedInBrowser.push(typed);
    await drawer.getByRole("button", { name: "Edit code" }).click();
    await drawer.getByLabel(/New code/).fill(typed);
    expect((await saved(() => drawer.getByRole("button", { name: "Save", exact: true }).click(), drawer)).fate).toBe("applied");
    expect(await drawer.getByLabel(/New code/).count()).toBe(0);
    expect(await keypadAnswer(PANELS[0]!, typed)).toMatch(/^Access granted/);
    expect(await keypadAnswer(PANELS[0]!, generatedCodes[0]!)).toBe("Access denied");
    await remember();

    await drawer.getByRole("button", { name: "Edit label" }).click();
    await drawer.getByRole("textbox", { name: "Label", exact: true }).fill("Front desk");
    expect((await saved(() => drawer.getByRole("button", { name: "Save", exact: true }).click(), drawer)).fate).toBe("applied");
    await eventually(() => drawer.locator("[data-field=label]").textContent()).toBe("Front desk");
    for (let n = 1; n <= 8; n++) await drawer.getByLabel(`Partition ${n}`, { exact: true }).setChecked([1, 4, 6].includes(n));
    expect((await saved(() => drawer.getByRole("button", { name: "Save partitions" }).click(), drawer)).fate).toBe("applied");
    await page.keyboard.press("Escape");
    await eventually(async () => (await cells(graceSlot))[1]).toMatch(/^Front desk/);
    expect((await cells(graceSlot))[3]).toBe("1, 4, 6");
    await remember();
  }, 60_000);

  /** Tag ids used in the session: secrets like codes (typed in the browser, never rendered back). */
  const typedTags: string[] = [];

  it("the details panel (001): the role from the panel type's roles; proximity tags where the type has them, added and removed, never shown back; a tag in use is refused with the panel's sentence", async () => {
    await page.goto(`${rig.url}/panels/${PANELS[0]}/users`);
    await row(graceSlot).click();
    const drawer = page.locator(".drawer[role=dialog]");
    await drawer.locator("[data-field=role]").waitFor();
    expect(await drawer.locator("[data-field=role]").textContent()).toBe("User");
    // a DSC panel's roles, less the Master (the Master's user number keeps it)
    expect(await drawer.getByRole("combobox", { name: "Change role" }).locator("option").allTextContents()).toEqual(["Supervisor", "User", "One-time User", "Duress"]);
    await drawer.getByRole("combobox", { name: "Change role" }).selectOption("Supervisor");
    await shootBothThemes(page, "user-details-role");
    expect((await saved(() => drawer.getByRole("button", { name: "Save role" }).click(), drawer)).fate).toBe("applied");
    await eventually(() => drawer.locator("[data-field=role]").textContent()).toBe("Supervisor");
    expect(await keypadAnswer(PANELS[0]!, graceCode)).toMatch(/^Access granted/);

    expect(await drawer.getByRole("link", { name: "Open user profile" }).getAttribute("href")).toBe(`/people/${graceId}`);

    // Legacy proximity tags (keypads with proximity readers) and doorlock proximity tags: a DSC has both, two tags a user.
    const keypadTags = drawer.getByRole("region", { name: "Legacy proximity tags" });
    const doorTags = drawer.getByRole("region", { name: "Doorlock proximity tags" });
    expect(await keypadTags.locator("[data-field=tags-keypad]").textContent()).toBe("No proximity tags");
    expect(await doorTags.locator("[data-field=tags-doorlock]").textContent()).toBe("No doorlock proximity tags");
    const keypadTag = "KPT7Q2X9";
    const doorTag = "DLT5M3P8";
    typedTags.push(keypadTag, doorTag);
    await keypadTags.getByRole("button", { name: "Add legacy proximity tag" }).click();
    await keypadTags.getByLabel(/^Tag id/).fill(keypadTag);
    expect(await keypadTags.getByLabel(/^Tag id/).getAttribute("type")).toBe("password");
    await shootBothThemes(page, "user-details-tag");
    expect((await saved(() => keypadTags.getByRole("button", { name: "Save tag" }).click(), drawer)).fate).toBe("applied");
    await eventually(() => keypadTags.locator("[data-field=tags-keypad]").textContent()).toBe("1 tag for keypads with proximity readers");
    expect(await keypadTags.locator("li").textContent()).toContain("Tag 1: Set");
    expect(await tagAnswer(PANELS[0]!, keypadTag)).toMatch(/^Access granted/);
    await remember();
    await doorTags.getByRole("button", { name: "Add doorlock proximity tag" }).click();
    await doorTags.getByLabel(/^Tag id/).fill(doorTag);
    expect((await saved(() => doorTags.getByRole("button", { name: "Save tag" }).click(), drawer)).fate).toBe("applied");
    await eventually(() => doorTags.locator("[data-field=tags-doorlock]").textContent()).toBe("1 tag for Yale Doorman L2/L3 door locks");
    // two tags: the most a DSC user holds, so no Add until one is removed
    expect(await drawer.getByRole("button", { name: /^Add .*proximity tag$/ }).count()).toBe(0);
    expect(await keypadTags.getByText(/at most 2 proximity tags per user/).count()).toBe(1);
    await shootBothThemes(page, "user-details-tags");
    await remember();

    // Door locks: the panel's "front", assigned; the doorlock tag then opens it (read at that door).
    const doors = drawer.getByRole("region", { name: "Door locks" });
    expect(await doors.locator("[data-field=door-locks]").textContent()).toBe("No door locks");
    expect(await tagAnswer(PANELS[0]!, doorTag, "front")).not.toMatch(/granted/i);
    await doors.getByLabel("front").check();
    expect((await saved(() => doors.getByRole("button", { name: "Save door locks" }).click(), drawer)).fate).toBe("applied");
    await eventually(() => doors.locator("[data-field=door-locks]").textContent()).toBe("1 door lock");
    expect(await doors.locator("li").allTextContents()).toEqual(["front"]);
    expect(await tagAnswer(PANELS[0]!, doorTag, "front")).toMatch(/granted/i);

    // Remove the keypad tag: the doorlock tag stays (the panel holds it; the keypad no longer takes the other).
    await keypadTags.getByRole("button", { name: "Remove legacy proximity tag 1" }).click();
    const confirm = page.getByRole("dialog", { name: "Remove proximity tag?" });
    expect((await saved(() => confirm.getByRole("button", { name: "Remove tag" }).click(), drawer)).fate).toBe("applied");
    await eventually(() => keypadTags.locator("[data-field=tags-keypad]").textContent()).toBe("No proximity tags");
    expect(await doorTags.locator("[data-field=tags-doorlock]").textContent()).toBe("1 tag for Yale Doorman L2/L3 door locks");
    expect((await rig.api.call<{ tags: { kind: string }[] }>("GET", `/panels/${PANELS[0]}/users/${graceSlot}`)).body.tags).toEqual([{ kind: "doorlock" }]);
    expect(await tagAnswer(PANELS[0]!, keypadTag)).toBe("Access denied");
    await page.keyboard.press("Escape");
    await eventually(() => drawer.count()).toBe(0);

    // Another user given Grace's doorlock tag: the fleet refuses it before writing anything (409 tag_in_use, as the
    // panel would), and the console says the panel's sentence.
    const alan = await rig.api.call<{ id: string }>("POST", "/people", { firstName: "Alan", lastName: "Turing" });
    expect((await rig.api.call("PUT", `/people/${alan.body.id}/code`, { code: "2719" })).status).toBe(200);
    typedCodes.push("2719");
    const on = await rig.api.call<{ access: { slot: number } }>("PUT", `/people/${alan.body.id}/panels/${PANELS[0]}`, { enabled: true });
    expect(on.status).toBe(200);
    await page.reload();
    await row(on.body.access.slot).click();
    await drawer.getByRole("region", { name: "Doorlock proximity tags" }).getByRole("button", { name: "Add doorlock proximity tag" }).click();
    await drawer.getByLabel(/^Tag id/).fill(doorTag);
    const refused = await saved(() => drawer.getByRole("button", { name: "Save tag" }).click(), drawer);
    expect(refused.fate).toBe("error");
    expect(refused.text).toContain("Another user on this panel already has that proximity tag.");
    expect((await rig.api.call<{ tags: { kind: string }[] }>("GET", `/panels/${PANELS[0]}/users/${on.body.access.slot}`)).body.tags).toEqual([]);
    await remember();
    await page.keyboard.press("Escape");
  }, 90_000);

  it("keyboard: the role chosen and saved, a tag added and removed, without a mouse; focus stays in the details panel", async () => {
    await page.goto(`${rig.url}/panels/${PANELS[0]}/users`);
    await row(graceSlot).focus();
    await page.keyboard.press("Enter");
    const drawer = page.locator(".drawer[role=dialog]");
    const role = drawer.getByRole("combobox", { name: "Change role" });
    await role.waitFor();
    expect(await role.inputValue()).toBe("Supervisor");
    await role.focus();
    await page.keyboard.press("ArrowDown");
    expect(await role.inputValue()).toBe("User");
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement.textContent")).toBe("Save role");
    expect((await saved(() => page.keyboard.press("Enter"), drawer)).fate).toBe("applied");
    await eventually(() => drawer.locator("[data-field=role]").textContent()).toBe("User");
    const inside = () => page.evaluate<boolean>("!!document.activeElement?.closest('.drawer[role=dialog]')");
    expect(await inside()).toBe(true);

    const keyboardTag = "KBT4W8Z6";
    typedTags.push(keyboardTag);
    await drawer.getByRole("button", { name: "Add legacy proximity tag" }).focus();
    await page.keyboard.press("Enter");
    expect(await page.evaluate("document.activeElement.dataset.secret")).toBe("tag");
    await page.keyboard.type(keyboardTag);
    expect((await saved(() => page.keyboard.press("Enter"), drawer)).fate).toBe("applied");
    await eventually(() => drawer.locator("[data-field=tags-keypad]").textContent()).toBe("1 tag for keypads with proximity readers");
    expect(await inside()).toBe(true);
    expect(await tagAnswer(PANELS[0]!, keyboardTag)).toMatch(/^Access granted/);
    await remember();
    await drawer.getByRole("button", { name: "Remove legacy proximity tag 1" }).focus();
    await page.keyboard.press("Enter");
    const confirm = page.getByRole("dialog", { name: "Remove proximity tag?" });
    await confirm.waitFor();
    // the confirmation starts on Cancel; Tab reaches Remove tag
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement.textContent")).toBe("Remove tag");
    expect((await saved(() => page.keyboard.press("Enter"), drawer)).fate).toBe("applied");
    await eventually(() => drawer.locator("[data-field=tags-keypad]").textContent()).toBe("No proximity tags");
    expect(await tagAnswer(PANELS[0]!, keyboardTag)).toBe("Access denied");
    await page.keyboard.press("Escape");
    await eventually(() => drawer.count()).toBe(0);
  }, 60_000);

  it("the three-dot menu (001): none without a code, no Disable for a Master; Disable panel user on one panel, Unassign account on the other", async () => {
    const mary = await rig.api.call<{ id: string }>("POST", "/people", { firstName: "Mary", lastName: "Master" });
    expect((await rig.api.call("PUT", `/people/${mary.body.id}/code`, { code: "7395" })).status).toBe(200);
    typedCodes.push("7395");
    expect((await rig.api.call("PUT", `/people/${mary.body.id}/panels/${PANELS[1]}`, { enabled: true, slot: 1, role: "Master" })).status).toBe(200);
    await page.goto(`${rig.url}/panels/${PANELS[1]}/users`);
    await eventually(async () => (await cells(1))[1]).toMatch(/Master/);
    expect((await cells(1))[3]).toBe("1, 2, 3, 4, 5, 6, 7, 8");
    // a Master without an account: no Disable, so no menu at all
    expect(await page.getByRole("button", { name: "Actions for panel user 1" }).count()).toBe(0);
    // ... and the Master's role is fixed in the details panel: no role to choose
    await row(1).click();
    const masterDrawer = page.locator(".drawer[role=dialog]");
    await masterDrawer.locator("[data-field=role]").waitFor();
    expect(await masterDrawer.locator("[data-field=role]").textContent()).toBe("Master");
    expect(await masterDrawer.getByText("The Master user's role is fixed").count()).toBe(1);
    expect(await masterDrawer.getByRole("combobox", { name: "Change role" }).count()).toBe(0);
    expect(await masterDrawer.getByRole("button", { name: "Save role" }).count()).toBe(0);
    await page.keyboard.press("Escape");
    await eventually(() => masterDrawer.count()).toBe(0);
    expect(await page.getByRole("button", { name: "Actions for panel user 5" }).count()).toBe(0);

    await page.getByRole("button", { name: `Actions for panel user ${graceSlot}` }).click();
    await page.getByRole("menuitem", { name: "Disable panel user" }).click();
    const confirm = page.getByRole("dialog", { name: /^Disable/ });
    await shootBothThemes(page, "disable-confirm");
    expect((await saved(() => confirm.getByRole("button", { name: "Disable panel user" }).click())).fate).toBe("applied");
    await eventually(() => row(graceSlot).locator(".code-unset").count()).toBe(1);
    expect(await keypadAnswer(PANELS[1]!, graceCode)).toBe("Access denied");
    expect(await keypadAnswer(PANELS[0]!, graceCode)).toMatch(/^Access granted/);

    await page.goto(`${rig.url}/panels/${PANELS[0]}/users`);
    await page.getByRole("button", { name: `Actions for panel user ${graceSlot}` }).click();
    expect(await page.getByRole("menuitem").allTextContents()).toEqual(["Disable panel user", "Unassign account"]);
    await page.getByRole("menuitem", { name: "Unassign account" }).click();
    expect((await saved(() => page.getByRole("dialog", { name: "Unassign account?" }).getByRole("button", { name: "Unassign account" }).click())).fate).toMatch(/^(applied|none)$/);
    await eventually(async () => (await cells(graceSlot)).slice(4, 7)).toEqual(["-", "-", "Unknown"]);
    const ada = await rig.api.call<{ rows: { email: string }[] }>("GET", "/accounts?q=ada%40");
    expect(ada.body.rows.map((r) => r.email)).toEqual(["ada@example.com"]);
  }, 60_000);

  it("a grey minus row (001 troubleshooting): select it, set the code in the details panel, and the grid shows the green check", async () => {
    await page.goto(`${rig.url}/panels/${PANELS[0]}/users`);
    expect(await row(5).locator(".code-unset").count()).toBe(1);
    await row(5).click();
    await page.getByRole("dialog", { name: "# 5" }).waitFor();
    const drawer = page.locator(".drawer[role=dialog]");
    expect(await drawer.locator("[data-field=code]").textContent()).toBe("No code");
    expect(await drawer.getByRole("button", { name: "Edit label" }).count()).toBe(0);
    expect(await drawer.getByText("You cannot change the label until a PIN/code is set for the panel user.").count()).toBe(1);
    expect(await drawer.getByLabel("Partition 1", { exact: true }).isDisabled()).toBe(true);
    await shootBothThemes(page, "user-details-no-code");
    const typed = "5306";
    typedCodes.push(typed);
    typedInBrowser.push(typed);
    await drawer.getByRole("button", { name: "Set code" }).click();
    await drawer.getByLabel(/New code/).fill(typed);
    expect((await saved(() => drawer.getByRole("button", { name: "Save", exact: true }).click(), drawer)).fate).toBe("applied");
    await remember();
    await eventually(() => drawer.locator("[data-field=code]").textContent()).toBe("Set");
    await page.keyboard.press("Escape");
    await eventually(() => row(5).locator(".code-set").count()).toBe(1);
    expect(await keypadAnswer(PANELS[0]!, typed)).toMatch(/^Access granted/);
  }, 60_000);

  it("a Save to a panel that is offline stays pending, never a success it has not seen, and turns applied when the panel is back; a refusal shows the API's sentence", async () => {
    await page.goto(`${rig.url}/panels/${PANELS[1]}/users`);
    await row(1).click();
    const drawer = page.locator(".drawer[role=dialog]");
    await drawer.getByRole("button", { name: "Edit label" }).click();
    await drawer.getByRole("textbox", { name: "Label", exact: true }).fill("A label far too long for a DSC");
    const refused = await saved(() => drawer.getByRole("button", { name: "Save", exact: true }).click(), drawer);
    expect(refused.fate).toBe("error");
    expect(refused.text).toMatch(/label/i);
    const box = drawer.locator(".fate");
    await rig.agents.restart(PANELS[1]!, {
      whileDown: async () => {
        await drawer.getByRole("textbox", { name: "Label", exact: true }).fill("Owner");
        await drawer.getByRole("button", { name: "Save", exact: true }).click();
        await eventually(() => box.getAttribute("data-fate")).toBe("pending");
        await new Promise((r) => setTimeout(r, 1500));
        expect(await box.getAttribute("data-fate")).toBe("pending");
        expect(await box.textContent()).toMatch(/pending, 0 of 1 answered/);
        await shootBothThemes(page, "fate-pending");
      },
    });
    await expect.poll(() => box.getAttribute("data-fate"), { timeout: 30_000 }).toBe("applied");
    await eventually(() => drawer.locator("[data-field=label]").textContent()).toBe("Owner");
    await page.keyboard.press("Escape");
  }, 90_000);

  it("Reset password and Remove account (001) from the details panel: each confirmed first; the account system is asked through its webhook, and a removed account is gone from the panel user", async () => {
    const created = await rig.api.call<{ id: string }>("POST", "/accounts", { email: "grace.app@example.com", status: "Active" });
    expect(created.status).toBe(201);
    await page.goto(`${rig.url}/panels/${PANELS[0]}/users`);
    await row(graceSlot).click();
    const drawer = page.locator(".drawer[role=dialog]");
    await drawer.getByRole("button", { name: "Assign account" }).click();
    const dialog = page.getByRole("dialog", { name: `Assign account to panel ${PANELS[0]}` });
    await eventually(() => dialog.getByLabel("User").inputValue()).toBe(String(graceSlot));
    await dialog.getByRole("combobox", { name: "Email" }).fill("grace.app");
    await dialog.getByRole("option", { name: /^grace\.app@example\.com/ }).click();
    await dialog.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => drawer.getByText("grace.app@example.com").count(), { timeout: 15_000 }).toBeGreaterThan(0);

    await drawer.getByRole("button", { name: "Reset password" }).click();
    const reset = page.getByRole("dialog", { name: "Reset password?" });
    expect(await reset.textContent()).toContain("The old password may remain valid");
    await shootBothThemes(page, "reset-password-confirm");
    await reset.getByRole("button", { name: "Reset password" }).click();
    await expect.poll(() => rig.hooks.received.some((d) => d.body.hook === "account" && d.body.data?.accountId === created.body.id && /reset/.test(d.body.event)), { timeout: 15_000 }).toBe(true);

    await drawer.getByRole("button", { name: "Remove account" }).click();
    const remove = page.getByRole("dialog", { name: "Remove account?" });
    expect(await remove.textContent()).toContain("deletes the customer account grace.app@example.com entirely");
    await shootBothThemes(page, "remove-account-confirm");
    const fate = await saved(() => remove.getByRole("button", { name: "Remove account" }).click(), drawer);
    expect(fate.fate).toBe("applied");
    await eventually(() => drawer.getByText("No account assigned.").count()).toBe(1);
    expect((await rig.api.call<{ rows: unknown[] }>("GET", "/accounts?q=grace.app")).body.rows).toEqual([]);
    await expect.poll(() => rig.hooks.received.some((d) => d.body.hook === "account" && d.body.data?.accountId === created.body.id && /remove/.test(d.body.event)), { timeout: 15_000 }).toBe(true);
    await page.keyboard.press("Escape");
  }, 60_000);

  it("keyboard: the three-dot menu opens with Enter, arrows move, Escape closes it and focus goes back to its button; a confirmation is answered from the keyboard", async () => {
    await page.goto(`${rig.url}/panels/${PANELS[0]}/users`);
    const menuButton = page.getByRole("button", { name: `Actions for panel user ${graceSlot}` });
    await menuButton.focus();
    await page.keyboard.press("Enter");
    expect(await page.evaluate("document.activeElement.textContent")).toBe("Disable panel user");
    expect(await menuButton.getAttribute("aria-expanded")).toBe("true");
    await shootBothThemes(page, "users-row-menu");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("Escape");
    expect(await menuButton.getAttribute("aria-expanded")).toBe("false");
    expect(await page.evaluate("document.activeElement.getAttribute('aria-label')")).toBe(`Actions for panel user ${graceSlot}`);
    await page.keyboard.press("Enter");
    await page.keyboard.press("Enter");
    const confirm = page.getByRole("dialog", { name: /^Disable/ });
    await confirm.waitFor();
    expect(await page.evaluate("document.activeElement.textContent")).toBe("Cancel");
    await page.keyboard.press("Enter");
    await eventually(() => confirm.count()).toBe(0);
    expect(await row(graceSlot).locator(".code-set").count()).toBe(1);
  });

  it("Security Professional access (002): the Master's switch with its warning for 2 hours, the time left, off early; a dealer's request confirmed through the emailed link for 24 hours", async () => {
    await page.goto(`${rig.url}/panels/${PANELS[0]}/users`);
    await page.getByRole("navigation", { name: "Panel" }).getByRole("link", { name: "Security Professional access" }).click();
    await page.getByRole("heading", { name: "Security Professional Access" }).waitFor();
    const sw = page.getByRole("switch", { name: "Security Professional Access" });
    expect(await sw.isChecked()).toBe(false);
    await sw.check();
    const warning = page.getByRole("dialog", { name: "Security Professional Access" });
    expect(await warning.textContent()).toContain("will have access to your account for 2 hours");
    await shootBothThemes(page, "dealer-warning");
    await warning.getByRole("button", { name: "OK" }).click();
    expect((await saved(() => page.getByRole("button", { name: "SAVE" }).click())).fate).toBe("applied");
    await eventually(() => page.locator("[data-field=dealer-status]").textContent()).toMatch(/^Enabled for 2 hours, until /);
    expect(await page.locator("[data-field=time-left]").textContent()).toMatch(/^Time left: 1 h 5\d min \d+ s$/);
    await shootBothThemes(page, "dealer-on");
    await sw.uncheck();
    expect((await saved(() => page.getByRole("button", { name: "SAVE" }).click())).fate).toBe("applied");
    await eventually(() => page.locator("[data-field=dealer-status]").textContent()).toBe("Off: the dealer has read-only access.");
    expect((await rig.api.call<{ open: boolean }>("GET", `/panels/${PANELS[0]}/dealer`)).body.open).toBe(false);

    // The dealer asks; the Master receives the link (the notification webhook) and confirms it.
    await page.getByRole("button", { name: "Request access (as the dealer)" }).click();
    await eventually(() => page.locator("[data-field=pending-request]").count()).toBe(1);
    const delivery = await expect
      .poll(() => rig.hooks.received.find((d) => typeof d.body.data?.link === "string")?.body.data.link as string | undefined, { timeout: 15_000 })
      .toMatch(/\/dealer-requests\//)
      .then(() => rig.hooks.received.find((d) => typeof d.body.data?.link === "string")!.body.data.link as string);
    const link = new URL(delivery);
    expect(link.origin).toBe(new URL(rig.url).origin);
    // The Master is no API user: the link works without a session. It opens in a browser of its
    // own (no cookie of the console's), while the console's screen stays open and signed in.
    const mailer = await rig.otherBrowser();
    const mail = await mailer.newPage();
    try {
      await mail.goto(link.href);
      await mail.getByRole("heading", { name: "Grant Security Professional Access" }).waitFor();
      expect(await mail.locator("main").textContent()).toContain("24 hours");
      await shootBothThemes(mail, "dealer-request-link");
      const box = mail.locator(".fate");
      await mail.getByRole("button", { name: "Confirm" }).click();
      // no session here: the page says it was sent, not that the panel applied it
      await eventually(() => box.textContent()).toMatch(/^Confirmed: Security Professional Access for 24 hours has been sent to the panel/);
      await mail.reload();
      await eventually(() => mail.locator("[data-field=request-status]").textContent()).toMatch(/confirmed|already used/);
    } finally {
      await mailer.close();
    }
    // The screen was left open: it shows the window once the panel has applied and reported it
    // (its own poll; no reload), however long the panel takes under load.
    await expect.poll(() => page.locator("[data-field=dealer-status]").textContent(), { timeout: 30_000, interval: 200 }).toMatch(/^Enabled for 24 hours, until /);
    expect(await page.locator("[data-field=time-left]").textContent()).toMatch(/^Time left: 23 h 5\d min \d+ s$/);
    await sw.uncheck();
    expect((await saved(() => page.getByRole("button", { name: "SAVE" }).click())).fate).toBe("applied");
    await eventually(() => page.locator("[data-field=dealer-status]").textContent()).toMatch(/^Off/);
  }, 60_000);

  it("the Action log lists every change made on these screens, the panels' acks and refusals; filterable by panel and user", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Action log" }).click();
    await page.getByRole("heading", { name: "Action Log" }).waitFor();
    await page.getByLabel("Panel").fill(PANELS[1]!);
    await page.getByRole("button", { name: "Filter" }).click();
    await eventually(() => page.locator("tbody tr").count()).toBeGreaterThan(2);
    const rows = await page.evaluate<string[][]>(`[...document.querySelectorAll("tbody tr")].map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? ""))`);
    expect(rows.every((r) => r[2] === PANELS[1])).toBe(true);
    expect(rows.some((r) => /disable/i.test(r[4] ?? "") && r[5] === "requested" && r[1] === "Administrator")).toBe(true);
    expect(rows.some((r) => r[5] === "applied")).toBe(true);
    expect(page.url()).toContain(`panelId=${PANELS[1]}`);
    // every change made on the first panel's screens, each by the admin, with the panel's answers
    await page.getByLabel("Panel").fill(PANELS[0]!);
    await page.evaluate("document.querySelector('.pager select').dataset.stale = 'yes'");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.locator(".pager select:not([data-stale])").waitFor();
    await page.getByLabel("Entries per page").selectOption("200");
    await eventually(() => page.locator("tbody tr").count()).toBeGreaterThan(15);
    const first = await page.locator("tbody tr td:nth-child(5)").allTextContents();
    for (const action of ["assign_account", "unassign_account", "set_access", "grant_dealer_access", "revoke_dealer_access", "confirm_dealer_request", "remove_account"]) {
      expect(first.some((a) => a.includes(action)), action).toBe(true);
    }
    await shootBothThemes(page, "action-log");
    // ... and one user's, from the details panel's link
    await page.goto(`${rig.url}/panels/${PANELS[0]}/users`);
    await row(graceSlot).click();
    await page.locator(".drawer[role=dialog]").getByRole("link", { name: "This user in the Action log" }).click();
    await page.getByRole("heading", { name: "Action Log" }).waitFor();
    await eventually(() => page.getByLabel("User", { exact: true }).inputValue()).toBe("Grace Hopper");
    await eventually(async () => (await page.locator("tbody tr td:nth-child(4)").allTextContents()).every((t) => t.startsWith("Grace Hopper"))).toBe(true);
    await page.getByLabel("Panel").fill("");
    // the grid of this filter, not the one still on screen while it loads
    await page.evaluate("document.querySelector('.pager select').dataset.stale = 'yes'");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.locator(".pager select:not([data-stale])").waitFor();
    await page.getByLabel("Entries per page").selectOption("200");
    await eventually(() => page.locator("tbody tr").count()).toBeGreaterThan(15);
    await eventually(() => page.locator("tbody tr td:nth-child(5)").allTextContents()).toEqual(expect.arrayContaining(["set_code", "set_access_period", "set_contacts"]));
  });

  it("the Action log's user filter takes a name as a person types it: suggestions, one match or a choice among several, and a sentence for none", async () => {
    const kay = await rig.api.call<{ id: string }>("POST", "/people", { firstName: "Alan", lastName: "Kay" });
    await page.goto(`${rig.url}/action-log`);
    await page.getByRole("heading", { name: "Action Log" }).waitFor();
    const user = page.getByLabel("User", { exact: true });
    // lower case and with extra spaces, as typed
    await user.fill("grace   hopper");
    await eventually(() => page.locator("#action-log-people option").evaluateAll((os) => os.map((o) => (o as unknown as { value: string }).value))).toEqual(["Grace Hopper"]);
    await page.evaluate("document.querySelector('.pager select').dataset.stale = 'yes'");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.locator(".pager select:not([data-stale])").waitFor();
    expect(new URL(page.url()).searchParams.get("personId")).toBe(graceId);
    await eventually(() => page.locator("tbody tr").count()).toBeGreaterThan(3);
    expect((await page.locator("tbody tr td:nth-child(4)").allTextContents()).every((t) => t.startsWith("Grace Hopper"))).toBe(true);
    expect(await page.locator("tbody tr td:nth-child(5)").allTextContents()).toEqual(expect.arrayContaining(["add_tag:keypad", "remove_tag:keypad", "set_access"]));
    // "Alan": Alan Turing and Alan Kay; the console asks which
    await user.fill("Alan");
    await page.getByRole("button", { name: "Filter" }).click();
    const note = page.locator(".person-note");
    await eventually(() => note.getByRole("alert").textContent()).toBe("2 users match “Alan”: choose one.");
    await shootBothThemes(page, "action-log-user-choice");
    await note.getByRole("button", { name: /^Alan Kay/ }).click();
    await eventually(() => new URL(page.url()).searchParams.get("personId")).toBe(kay.body.id);
    await eventually(() => page.locator("tbody tr td.empty").count()).toBe(0);
    expect((await page.locator("tbody tr td:nth-child(4)").allTextContents()).every((t) => t.startsWith("Alan Kay"))).toBe(true);
    await eventually(() => user.inputValue()).toBe("Alan Kay");
    // "turing": the only match
    await user.fill("turing");
    await page.getByRole("button", { name: "Filter" }).click();
    await eventually(() => user.inputValue()).toBe("Alan Turing");
    expect(new URL(page.url()).searchParams.get("personId")).not.toBe(kay.body.id);
    await eventually(async () => (await page.locator("tbody tr td:nth-child(4)").allTextContents()).every((t) => t.startsWith("Alan Turing"))).toBe(true);
    // nobody by that name
    await user.fill("Nobody Here");
    await page.getByRole("button", { name: "Filter" }).click();
    await eventually(() => note.getByRole("alert").textContent()).toBe("No user is named “Nobody Here”. Check the spelling, or leave User empty for everyone.");
  });

  it("themes: a toggle, remembered across a reload; with no choice the page follows prefers-color-scheme", async () => {
    const theme = () => page.evaluate("getComputedStyle(document.documentElement).colorScheme");
    await page.evaluate("localStorage.clear()");
    await page.emulateMedia({ colorScheme: "dark" });
    await page.reload();
    await page.getByRole("heading", { name: "Action Log" }).waitFor();
    expect(await theme()).toBe("dark");
    await page.emulateMedia({ colorScheme: "light" });
    expect(await theme()).toBe("light");
    await page.reload();
    await page.getByRole("heading", { name: "Action Log" }).waitFor();
    const toggle = page.getByRole("button", { name: "Dark theme" });
    expect(await toggle.getAttribute("aria-pressed")).toBe("false");
    await toggle.click();
    expect(await theme()).toBe("dark");
    await page.reload();
    await page.getByRole("heading", { name: "Action Log" }).waitFor();
    expect(await theme()).toBe("dark");
    expect(await page.getByRole("button", { name: "Dark theme" }).getAttribute("aria-pressed")).toBe("true");
    await page.getByRole("button", { name: "Dark theme" }).click();
    expect(await theme()).toBe("light");
  });

  it("who sees what: a viewer gets no Assign account, three-dot menu, edit icon, Save or switch, and the API refuses the call anyway (403, in the action log); an installer gets no Assign account (and the API refuses its unassign), support gets Assign account and its suggestions (001)", async () => {
    for (const [email, role] of [["viewer@fleet.test", "viewer"], ["installer@fleet.test", "installer"], ["support@fleet.test", "support"]] as const) {
      expect((await rig.api.call("POST", "/api-users", { email, name: `${role[0]!.toUpperCase()}${role.slice(1)}`, role, password: "a long viewer password" })).status).toBe(201);
    }
    await page.goto(`${rig.url}/panels/${PANELS[0]}/users`);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in to panel-fleet" }).waitFor();
    expect((await rig.context.cookies()).find((c) => c.name === "fleet_session")).toBeUndefined();
    await signIn("viewer@fleet.test", "a long viewer password");
    await page.getByRole("heading", { name: "Equipment", exact: true }).waitFor();
    await page.goto(`${rig.url}/panels/${PANELS[0]}/users`);
    await page.getByRole("heading", { name: "Equipment users" }).waitFor();
    await eventually(() => page.locator(".pager .range").textContent()).toBe("1-15 of 1000");
    const nav = page.getByRole("navigation", { name: "Main" });
    expect(await nav.getByRole("link").allTextContents()).toEqual(["Equipment", "Users"]);
    // the viewer finds people but cannot add one
    await nav.getByRole("link", { name: "Users" }).click();
    await eventually(() => page.getByRole("table", { name: "Users" }).locator("tbody tr").count()).toBeGreaterThan(2);
    expect(await page.getByRole("link", { name: "Add", exact: true }).count()).toBe(0);
    await page.goto(`${rig.url}/panels/${PANELS[0]}/users`);
    await page.getByRole("heading", { name: "Equipment users" }).waitFor();
    expect(await page.getByRole("button", { name: "Assign account" }).count()).toBe(0);
    expect(await page.locator("button.dots").count()).toBe(0);
    await shootBothThemes(page, "users-grid-viewer");
    await row(graceSlot).click();
    const drawer = page.locator(".drawer[role=dialog]");
    await drawer.locator("[data-field=code]").waitFor();
    await drawer.getByRole("region", { name: "Doorlock proximity tags" }).waitFor();
    for (const name of ["Edit code", "Edit label", "Save partitions", "Save role", "Unassign account", "Reset password", "Remove account", "Assign account", "Add legacy proximity tag", "Add doorlock proximity tag", "Remove doorlock proximity tag 1"]) expect(await drawer.getByRole("button", { name }).count()).toBe(0);
    expect(await drawer.getByRole("combobox", { name: "Change role" }).count()).toBe(0);
    // the viewer still sees that the tag is there, not what it is
    expect(await drawer.locator("[data-field=tags-doorlock]").textContent()).toBe("1 tag for Yale Doorman L2/L3 door locks");
    expect(await drawer.locator("button.dots").count()).toBe(0);
    expect(await drawer.getByRole("checkbox").evaluateAll((boxes) => boxes.every((b) => (b as unknown as { disabled: boolean }).disabled))).toBe(true);
    await shootBothThemes(page, "user-details-viewer");
    await page.keyboard.press("Escape");
    await page.goto(`${rig.url}/panels/${PANELS[0]}/dealer`);
    await page.locator("[data-field=dealer-status]").waitFor();
    expect(await page.getByRole("switch", { name: "Security Professional Access" }).isDisabled()).toBe(true);
    expect(await page.getByRole("button", { name: "SAVE" }).count()).toBe(0);
    // The API refuses the call anyway, made from the viewer's own page with the session's CSRF token.
    const refused = await fromPage("POST", `/api/v1/panels/${PANELS[0]}/users/${graceSlot}/disable`);
    expect(refused).toMatchObject({ status: 403, body: { error: { code: "permission_denied", detail: { permission: "manage_panel_users" } } } });
    const tagRefused = await fromPage("DELETE", `/api/v1/panels/${PANELS[0]}/users/${graceSlot}/tags/0`);
    expect(tagRefused).toMatchObject({ status: 403, body: { error: { code: "permission_denied" } } });
    expect((await rig.api.call<{ tags: { kind: string }[] }>("GET", `/panels/${PANELS[0]}/users/${graceSlot}`)).body.tags).toEqual([{ kind: "doorlock" }]);
    const log = await rig.api.call<{ rows: { outcome: string; code?: string; actor: { name?: string } }[] }>("GET", `/action-log?panelId=${PANELS[0]}`);
    expect(log.body.rows.some((r) => r.outcome === "refused" && r.code === "permission_denied" && r.actor.name === "Viewer")).toBe(true);

    // 001: an installer manages panel users but not accounts: no Assign account, no Unassign account;
    // support manages accounts but not panel users: Assign account and its suggestions.
    await page.getByRole("button", { name: "Sign out" }).click();
    await signIn("installer@fleet.test", "a long viewer password");
    await page.getByRole("heading", { name: "Equipment", exact: true }).waitFor();
    await page.goto(`${rig.url}/panels/${PANELS[0]}/users`);
    await eventually(() => page.locator(".pager .range").textContent()).toBe("1-15 of 1000");
    expect(await page.getByRole("button", { name: "Assign account" }).count()).toBe(0);
    // the API says the same to a call made anyway from the installer's page
    const installerAssign = await fromPage("DELETE", `/api/v1/panels/${PANELS[0]}/users/${graceSlot}/account`);
    expect(installerAssign).toMatchObject({ status: 403, body: { error: { code: "permission_denied", detail: { permission: "manage_accounts" } } } });
    await page.getByRole("button", { name: "Sign out" }).click();
    await signIn("support@fleet.test", "a long viewer password");
    await page.getByRole("heading", { name: "Equipment", exact: true }).waitFor();
    await page.goto(`${rig.url}/panels/${PANELS[0]}/users`);
    await page.getByRole("button", { name: "Assign account" }).click();
    const dialog = page.getByRole("dialog", { name: `Assign account to panel ${PANELS[0]}` });
    await dialog.getByRole("combobox", { name: "Email" }).fill("ada");
    await eventually(() => dialog.getByRole("listbox", { name: "Matching accounts" }).getByRole("option").count()).toBeGreaterThan(0);
    // the first Escape closes the suggestions, the second the dialog
    await page.keyboard.press("Escape");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
  }, 60_000);

  it("a session ended on the server (signed out elsewhere, or expired) brings the console back to its sign-in, without a crash", async () => {
    const cookie = (await rig.context.cookies()).find((c) => c.name === "fleet_session")!;
    const other = new SessionClient(rig.url);
    other.cookie = `fleet_session=${cookie.value}`;
    other.csrf = ((await other.call<{ csrfToken: string }>("GET", "/session")).body).csrfToken;
    expect((await other.call("DELETE", "/session")).status).toBe(204);
    await page.getByRole("button", { name: "Next page" }).click();
    await page.getByRole("heading", { name: "Sign in to panel-fleet" }).waitFor();
    expect(await page.locator("#signin-error").textContent()).toBe("You were signed out: the session was ended on the server. Sign in again to go on where you were.");
    await signIn(rig.admin.email, rig.admin.password);
    // signed in again, the console shows the page that was asked for
    await page.getByRole("heading", { name: "Equipment users" }).waitFor();
    // a write with the session cookie but without its CSRF token is refused
    const forged = await page.evaluate<{ status: number; body: { error: { code: string } } }>(`(async () => {
      const r = await fetch("/api/v1/people/${graceId}/contacts", { method: "PUT", headers: { "content-type": "application/json" }, body: "[]" });
      return { status: r.status, body: await r.json() };
    })()`);
    expect(forged).toMatchObject({ status: 403, body: { error: { code: "csrf_failed" } } });
  });

  it("a session that expires while a screen is open brings the sign-in back by itself with the API's sentence, and signing in returns to the same place", async () => {
    await page.goto(`${rig.url}/panels/${PANELS[0]}/users?page=3&perPage=50`);
    await eventually(() => page.locator(".pager .range").textContent()).toBe("101-150 of 1000");
    // the Security Professional screen polls while it is shown: the person does nothing
    await page.getByRole("navigation", { name: "Panel" }).getByRole("link", { name: "Security Professional access" }).click();
    await page.locator("[data-field=dealer-status]").waitFor();
    const where = page.url();
    await rig.db.query("UPDATE api_sessions SET expires_at = now() - interval '1 second'");
    await page.getByRole("heading", { name: "Sign in to panel-fleet" }).waitFor({ timeout: 20_000 });
    expect(await page.locator("#signin-error").textContent()).toBe("The session has expired; sign in again. You will be back on this page after signing in.");
    expect(page.url()).toBe(where);
    // the person who was signed in is asked for the password only
    expect(await page.getByLabel("Email").inputValue()).toBe(rig.admin.email);
    expect(await page.evaluate("document.activeElement.id")).toBe("signin-password");
    await shootBothThemes(page, "session-expired");
    await page.getByLabel("Password").fill(rig.admin.password);
    await page.keyboard.press("Enter");
    await page.locator("[data-field=dealer-status]").waitFor();
    expect(page.url()).toBe(where);
    // back where the person came from: the Users tab's page and page size
    await page.goBack();
    await eventually(() => page.locator(".pager .range").textContent()).toBe("101-150 of 1000");

    // A Users tab does not poll: its session ends while the tab is in the background, and the
    // sign-in is there as soon as the person comes back to the tab (the browser's visibilitychange).
    await rig.db.query("UPDATE api_sessions SET expires_at = now() - interval '1 second'");
    await page.evaluate("document.dispatchEvent(new Event('visibilitychange'))");
    await page.getByRole("heading", { name: "Sign in to panel-fleet" }).waitFor();
    expect(new URL(page.url()).search).toBe("?page=3&perPage=50");
    await page.getByLabel("Password").fill(rig.admin.password);
    await page.keyboard.press("Enter");
    await eventually(() => page.locator(".pager .range").textContent()).toBe("101-150 of 1000");
  }, 60_000);

  it("the codes used in this session are in no page, no URL, no local storage, and in no response but the one that generated a code", async () => {
    await remember();
    const traffic = await rig.settledTraffic();
    expect(traffic.length).toBeGreaterThan(50);
    // and the whole session fetched nothing from anywhere but panel-fleet
    const origin = new URL(rig.url).origin;
    expect(traffic.filter((t) => !t.url.startsWith("data:") && new URL(t.url).origin !== origin).map((t) => t.url)).toEqual([]);
    const all = [...typedCodes, ...generatedCodes];
    expect(all.length).toBe(6);
    for (const snapshot of domSnapshots) expect(leaks(snapshot, all)).toEqual([]);
    expect(leaks(traffic.map((t) => t.url).join("\n"), all)).toEqual([]);
    // a typed code: only in the body of the one request that set it, never in any response
    expect(typedInBrowser.length).toBe(3);
    for (const typed of typedInBrowser) {
      const carriers = traffic.filter((t) => leaks(t.requestBody, [typed]).length > 0).map((t) => `${t.method} ${new URL(t.url).pathname}`);
      expect(carriers).toHaveLength(1);
      expect(carriers[0]).toMatch(/^PUT \/api\/v1\/people\/[^/]+\/code$/);
    }
    for (const code of all) {
      const inResponses = traffic.filter((t) => leaks(t.responseBody, [code]).length > 0).map((t) => `${t.method} ${new URL(t.url).pathname}`);
      expect(inResponses).toEqual(generatedCodes.includes(code) ? [`PUT /api/v1/people/${graceId}/code`] : []);
    }
    const storage = await page.evaluate<string>("JSON.stringify(Object.entries(localStorage))");
    expect(leaks(storage, all)).toEqual([]);
    expect(leaks(rig.log.lines.join("\n"), all)).toEqual([]);

    // a proximity tag's id, like a typed code: only in the one request that added it
    expect(typedTags.length).toBe(3);
    for (const snapshot of domSnapshots) expect(leaks(snapshot, typedTags)).toEqual([]);
    expect(leaks(traffic.map((t) => t.url + "\n" + t.responseBody).join("\n"), typedTags)).toEqual([]);
    expect(leaks(storage + rig.log.lines.join("\n"), typedTags)).toEqual([]);
    const tagRequests = traffic.filter((t) => leaks(t.requestBody, typedTags).length > 0).map((t) => `${t.method} ${new URL(t.url).pathname}`);
    // Grace's two tags, the one added from the keyboard and Alan's refused one
    expect(tagRequests).toEqual(Array(4).fill(expect.stringMatching(/^POST \/api\/v1\/panels\/[^/]+\/users\/\d+\/tags$/)));
    const logged = await rig.db.query<{ n: unknown }>("SELECT count(*) AS n FROM action_log WHERE concat_ws(' ', action, code, sentence, actor_name) ~ 'KPT7Q2X9|DLT5M3P8|KBT4W8Z6'");
    expect(Number(logged.rows[0]!.n)).toBe(0);
  });

  it("console_users_first_paint_ms can be measured here: the Users tab of a 1000-user panel paints after an empty page's first frame", async () => {
    // the page's preloads are what the console uses: one request each, started by the page's <link>
    await page.goto(`${rig.url}/panels/${PANELS[0]}/users?perPage=50`);
    await eventually(() => page.locator(".pager .range").textContent()).toBe("1-50 of 1000");
    const loads = await page.evaluate<{ name: string; initiatorType: string }[]>(`performance.getEntriesByType("resource").filter((e) => e.name.includes("/api/v1/")).map((e) => ({ name: new URL(e.name).pathname + new URL(e.name).search, initiatorType: e.initiatorType }))`);
    // both preloads start together, so either may be listed first
    const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    expect(loads.filter((l) => l.name === "/api/v1/session" || l.name.endsWith("include=panel")).sort(byName)).toEqual([
      { name: "/api/v1/session", initiatorType: "link" },
      { name: `/api/v1/panels/${PANELS[0]}/users?page=1&perPage=50&include=panel`, initiatorType: "link" },
    ].sort(byName));
    const r = await measureUsersFirstPaintOn(rig, PANELS[0]!, 3);
    expect(r.runs).toHaveLength(3);
    expect(r.floorMs).toBeGreaterThan(0);
    expect(r.ms).toBeGreaterThan(r.floorMs);
    // not the target (the bench reports the figure on a seeded panel); a sanity bound for a loaded CI machine
    expect(r.ms).toBeLessThan(5000);
  });

  it("every control on every screen photographed has a label", () => {
    expect(unlabelled).toEqual([]);
  });
});
