/**
 * The console in a real browser (Debian's chromium, headless, driven by playwright-core), served
 * by panel-fleet on PGlite with real agents on a real mosquitto: each reference document's steps
 * as a person does them, by label and role, with screenshots of each screen in both themes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { KeypadTestClient, lastDisplay } from "../helpers/keypad-client.js";
import { ConsoleRig, pageText, shootBothThemes } from "./rig.js";

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
const generatedCodes: string[] = [];
const domSnapshots: string[] = [];
const remember = async () => domSnapshots.push(await pageText(page));

async function keypadAnswer(panelId: string, code: string): Promise<string> {
  const c = await KeypadTestClient.connect(rig.agents.agent(panelId).config.keypadSocket);
  try {
    await c.hello("kp-console", [1]);
    c.send({ t: "entry", action: "arm_away", code });
    return String(lastDisplay(await c.sync())?.line2 ?? "");
  } finally {
    c.close();
  }
}

/** Waits for the fate box to leave pending; returns its final state and text. */
async function fateOf(scope: Page | ReturnType<Page["locator"]> = page): Promise<{ fate: string; text: string }> {
  const box = scope.locator(".fate").first();
  await expect.poll(async () => box.getAttribute("data-fate"), { timeout: 20_000 }).toMatch(/^(applied|rejected|mixed|superseded|none|error)$/);
  return { fate: (await box.getAttribute("data-fate"))!, text: (await box.textContent()) ?? "" };
}

async function signIn(email: string, password: string): Promise<void> {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

describe("the console", () => {
  it("signs in with an HttpOnly SameSite=Strict session; the page has its CSP and loads nothing from elsewhere", async () => {
    const res = await page.goto(rig.url + "/");
    expect(res?.headers()["content-security-policy"]).toContain("default-src 'self'");
    await expect.poll(() => page.getByRole("heading", { name: "Sign in to panel-fleet" }).isVisible()).toBe(true);
    await shootBothThemes(page, "sign-in");
    await signIn(rig.admin.email, "wrong password");
    await expect.poll(() => page.getByRole("alert").textContent()).toMatch(/\w+/);
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
    await expect.poll(() => grid.getByRole("row").count()).toBe(1 + PANELS.length);
    await shootBothThemes(page, "equipment");
    await page.getByLabel("Search panels").fill("0002");
    await page.getByRole("button", { name: "Search" }).click();
    await expect.poll(() => grid.getByRole("row").count()).toBe(2);
    await grid.getByRole("link", { name: PANELS[1]! }).click();
    await page.getByRole("heading", { name: "Equipment users" }).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/panels/${PANELS[1]}/users`);
  });

  it("the Users tab lists all 1000 panel user numbers, 15 a page, with previous, next and users per page", async () => {
    await page.goto(`${rig.url}/panels/${PANELS[0]}/users`);
    await page.getByRole("heading", { name: "Equipment users" }).waitFor();
    const range = page.locator(".pager .range");
    await expect.poll(() => range.textContent()).toBe("1-15 of 1000");
    expect(await page.locator(".users-count").textContent()).toBe("1000 users");
    const rows = page.getByRole("table", { name: "Panel users" }).locator("tbody tr");
    expect(await rows.count()).toBe(15);
    expect(await page.getByRole("button", { name: "Previous page" }).isDisabled()).toBe(true);
    await shootBothThemes(page, "users-grid");
    await page.getByRole("button", { name: "Next page" }).click();
    await expect.poll(() => range.textContent()).toBe("16-30 of 1000");
    expect(await rows.first().getAttribute("data-slot")).toBe("16");
    await page.getByRole("button", { name: "Previous page" }).click();
    await expect.poll(() => range.textContent()).toBe("1-15 of 1000");
    expect(await page.getByLabel("Users per page").locator("option").allTextContents()).toEqual(["10", "15", "50", "100", "200"]);
    await page.getByLabel("Users per page").selectOption("200");
    await expect.poll(() => range.textContent()).toBe("1-200 of 1000");
    for (const expected of ["201-400 of 1000", "401-600 of 1000", "601-800 of 1000", "801-1000 of 1000"]) {
      await page.getByRole("button", { name: "Next page" }).click();
      await expect.poll(() => range.textContent()).toBe(expected);
    }
    expect(await page.getByRole("button", { name: "Next page" }).isDisabled()).toBe(true);
    expect(await rows.last().getAttribute("data-slot")).toBe("1000");
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
    await page.getByRole("button", { name: "Save", exact: true }).click();
    const generated = page.getByRole("region", { name: "Generated code" });
    await generated.waitFor();
    const code = (await generated.locator(".generated-code").textContent())!.trim();
    expect(code).toMatch(/^\d{4}$/);
    generatedCodes.push(code);
    const fate = await fateOf();
    expect(fate).toMatchObject({ fate: "applied" });
    expect(fate.text).toContain(PANELS[0]);
    await shootBothThemes(page, "device-access-generated");
    for (const id of PANELS) expect(await keypadAnswer(id, code)).toMatch(/^Access granted/);
    await generated.getByRole("button", { name: "Dismiss" }).click();
    expect(await generated.count()).toBe(0);
    expect(await pageText(page)).not.toContain(code);
    await remember();

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
    await dialog.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => dialog.count()).toBe(0);
    expect((await fateOf()).fate).toBe("applied");
    expect(await page.locator("[data-field=access-period]").textContent()).toBe("Restricted Schedule: Mon Wed Fri 08:00-18:00");
    const person = await rig.api.call<{ accessPeriod: unknown; panels: { panelId: string; enabled: boolean }[] }>("GET", `/people/${graceId}`);
    expect(person.body.accessPeriod).toEqual({ kind: "weekly", windows: [{ days: [1, 3, 5], start: 480, end: 1080 }] });
    expect(person.body.panels.filter((p) => p.enabled).map((p) => p.panelId).sort()).toEqual([...PANELS].sort());

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
    await expect.poll(() => contact.count()).toBe(0);
    await page.getByRole("button", { name: "Add Contact" }).click();
    await contact.getByRole("radio", { name: "Email Address" }).check();
    await contact.getByRole("textbox", { name: "Email Address" }).fill("grace@example.com");
    await contact.getByRole("switch", { name: "Enable" }).last().check();
    await contact.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => contact.count()).toBe(0);
    await expect.poll(() => page.locator(".contacts li").count()).toBe(2);
    await shootBothThemes(page, "user-profile");
    const withContacts = await rig.api.call<{ contacts: { kind: string; value: string; country: string | null; carrier: string | null; enabled: boolean }[] }>("GET", `/people/${graceId}`);
    expect(withContacts.body.contacts).toEqual([
      { kind: "mobile", value: "+1 555 0100", country: "US", carrier: "Verizon", enabled: true },
      { kind: "email", value: "grace@example.com", country: null, carrier: null, enabled: true },
    ]);
    await remember();
  }, 90_000);
});
