/**
 * What a new user meets first: `npm start` in a fresh clone, in a real terminal (tmux). Within
 * 60 s of starting, the emulator accepts a demo code printed on the start screen.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { tempDirs } from "../helpers/tmp.js";
import { leaks } from "../fleet/leaks.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const hasTmux = spawnSync("tmux", ["-V"]).status === 0;
const isGitCheckout = spawnSync("git", ["-C", root, "rev-parse", "HEAD"]).status === 0;
const dirs = tempDirs();
const server = `panel-agent-start-${process.pid}`;
const tmux = (...args: string[]) => execFileSync("tmux", ["-L", server, ...args], { encoding: "utf8" });
const screen = () => tmux("capture-pane", "-p", "-S", "-200");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(pattern: RegExp, deadline: number, read: () => string = screen): Promise<RegExpMatchArray> {
  for (;;) {
    const m = read().match(pattern);
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`screen never showed ${pattern}:\n${read()}`);
    await sleep(250);
  }
}

afterAll(() => {
  spawnSync("tmux", ["-L", server, "kill-server"]);
  dirs.cleanup();
});

const visible = () => tmux("capture-pane", "-p");
/** The keypad's two display lines as the screen shows them now. */
function keypadLines(): [string, string] {
  const rows = [...visible().matchAll(/^ │ (.*?)\s*│$/gm)].map((m) => m[1]!);
  return [rows[0] ?? "", rows[1] ?? ""];
}

describe("npm start from a fresh clone", () => {
  it.skipIf(!hasTmux || !isGitCheckout)("accepts a printed demo code at the emulator within 60 s; q stops it all with exit 0; a second start's notice stays readable", async () => {
    const clone = join(dirs.make(), "panel-agent");
    execFileSync("git", ["clone", "-q", root, clone]);
    // The dependencies of this checkout stand in for `npm ci` in the clone (same lock file).
    symlinkSync(join(root, "node_modules"), join(clone, "node_modules"), "dir");
    const started = Date.now();
    tmux("new-session", "-d", "-x", "120", "-y", "50", `cd '${clone}' && DEMO_PORT=0 npm start; echo "first start exited $?"; DEMO_PORT=0 npm start; echo "second start exited $?"; sleep 30`);
    const deadline = started + 60_000;
    const owner = await waitFor(/^\s+1\s+(\d{4})\s+Owner\s+Master/m, deadline);
    const anna = await waitFor(/^\s+2\s+(\d{4})\s+Anna\s+User/m, deadline);
    // The code list may say which code is the duress code; its label is a person's name.
    const duress = await waitFor(/^\s+7\s+(\d{4})\s+(\S+)\s+Duress/m, deadline);
    expect(duress[2]).not.toMatch(/duress/i);
    await waitFor(/press Enter to open the keypad/, deadline);
    tmux("send-keys", "-t", "0", "Enter");
    await waitFor(/Enter code/, deadline);
    tmux("send-keys", "-t", "0", owner[1]!);
    await waitFor(/Access granted — Owner/, deadline);
    expect(Date.now() - started).toBeLessThan(60_000);

    // panel-fleet answers with the printed admin: the demo panel enrolled, its users seeded through it.
    const fleetUrl = (await waitFor(/panel-fleet API: (http:\/\/\S+)\/api\/v1/, deadline))[1]!;
    const admin = await waitFor(/admin: (\S+@\S+)\s+password: (\S+)/, deadline);
    const signIn = await fetch(`${fleetUrl}/api/v1/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: admin[1], password: admin[2] }) });
    expect(signIn.status).toBe(200);
    const cookie = signIn.headers.get("set-cookie")!.split(";")[0]!;
    const grid = (await (await fetch(`${fleetUrl}/api/v1/panels/demo/users?perPage=10`, { headers: { cookie } })).json()) as { range: string; rows: { slot: number; label: string | null; codeSet: boolean }[] };
    expect(grid.range).toBe("1-10 of 1000");
    expect(grid.rows.slice(0, 7).map((r) => [r.slot, r.label, r.codeSet])).toEqual([[1, "Owner", true], [2, "Anna", true], [3, "Supervisor", true], [4, "Cleaner", true], [5, "Office hours", true], [6, "Guest week", true], [7, duress[2], true]]);
    const panel = (await (await fetch(`${fleetUrl}/api/v1/panels/demo`, { headers: { cookie } })).json()) as { converged: boolean; reported: { online: boolean } };
    expect(panel).toMatchObject({ converged: true, reported: { online: true } });
    // The console, bundled by npm start itself, is served at the fleet's address.
    const page = await fetch(`${fleetUrl}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<script[^>]+app\.js/);
    expect((await fetch(`${fleetUrl}/app.js`)).status).toBe(200);

    // A duress disarm looks exactly like anyone else's.
    const later = Date.now() + 45_000;
    tmux("send-keys", "-t", "0", duress[1]!);
    await waitFor(new RegExp(`Access granted — ${duress[2]}`), later);
    const underDuress = keypadLines();
    tmux("send-keys", "-t", "0", owner[1]!);
    await waitFor(/P1 Armed away/, later);
    tmux("send-keys", "-t", "0", anna[1]!);
    await waitFor(/Access granted — Anna/, later);
    const normal = keypadLines();
    expect(underDuress).toEqual(["P1 Disarmed", `Access granted — ${duress[2]}`]);
    expect(normal).toEqual(["P1 Disarmed", "Access granted — Anna"]);

    // q quits the emulator and stops the agent and the broker: exit 0, nothing "lost".
    tmux("send-keys", "-t", "0", "q");
    await waitFor(/first start exited \d+/, later);
    expect(screen()).toMatch(/first start exited 0/);
    expect(screen()).not.toMatch(/connection lost/);

    // The second start (state kept) says the codes were printed before, and waits for Enter.
    await waitFor(/seeded on an earlier start/, later, visible);
    await waitFor(/Press Enter to open the keypad/, later, visible);
    await sleep(1_500);
    expect(visible()).toMatch(/seeded on an earlier start/);
    tmux("send-keys", "-t", "0", "Enter");
    await waitFor(/Enter code/, later, visible);
    tmux("send-keys", "-t", "0", duress[1]!);
    await waitFor(new RegExp(`Access granted — ${duress[2]}`), later, visible);

    // *5: a user number the DSC panel does not have (1000 users) is refused before a new code is
    // asked for; an unused one (8) is refused for delete at once.
    tmux("send-keys", "-t", "0", "*", "5", owner[1]!);
    await waitFor(/Enter user number, # exit/, later, visible);
    tmux("send-keys", "-t", "0", "9", "9", "9", "9", "Enter");
    await waitFor(/│ No such user/, later, visible);
    expect(keypadLines()).toEqual(["No such user", "Enter user number, # exit"]);
    tmux("send-keys", "-t", "0", "8", "Enter");
    await waitFor(/│ User 8\s+│/, later, visible);
    tmux("send-keys", "-t", "0", "3");
    await waitFor(/│ No such user/, later, visible);
    expect(keypadLines()).toEqual(["No such user", "Enter user number, # exit"]);
    tmux("send-keys", "-t", "0", "Enter");
    await waitFor(/│ Enter code/, later, visible);

    tmux("send-keys", "-t", "0", "q");
    await waitFor(/second start exited \d+/, later);
    expect(screen()).toMatch(/second start exited 0/);
    expect(existsSync(join(clone, ".data", "keypad.sock"))).toBe(false);

    // No code reaches the agent's log.
    const log = readFileSync(join(clone, ".data", "agent.log"), "utf8");
    expect(log).toMatch(/keypad access/);
    for (const code of [owner[1]!, anna[1]!, duress[1]!]) expect(log).not.toMatch(new RegExp(`(?<!\\d)${code}(?!\\d)`));
    const fleetLog = readFileSync(join(clone, ".data", "fleet.log"), "utf8");
    expect(fleetLog).toMatch(/panel-fleet listening/);
    expect(leaks(fleetLog, [owner[1]!, anna[1]!, duress[1]!])).toEqual([]);
  }, 120_000);
});
