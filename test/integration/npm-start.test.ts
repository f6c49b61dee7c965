/**
 * What a new user meets first: `npm start` in a fresh clone, in a real terminal (tmux). Within
 * 60 s of starting, the emulator accepts a demo code printed on the start screen.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { tempDirs } from "../helpers/tmp.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const hasTmux = spawnSync("tmux", ["-V"]).status === 0;
const isGitCheckout = spawnSync("git", ["-C", root, "rev-parse", "HEAD"]).status === 0;
const dirs = tempDirs();
const server = `panel-agent-start-${process.pid}`;
const tmux = (...args: string[]) => execFileSync("tmux", ["-L", server, ...args], { encoding: "utf8" });
const screen = () => tmux("capture-pane", "-p", "-S", "-200");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(pattern: RegExp, deadline: number): Promise<RegExpMatchArray> {
  for (;;) {
    const m = screen().match(pattern);
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`screen never showed ${pattern}:\n${screen()}`);
    await sleep(250);
  }
}

afterAll(() => {
  spawnSync("tmux", ["-L", server, "kill-server"]);
  dirs.cleanup();
});

describe("npm start from a fresh clone", () => {
  it.skipIf(!hasTmux || !isGitCheckout)("accepts a printed demo code at the emulator within 60 s", async () => {
    const clone = join(dirs.make(), "panel-agent");
    execFileSync("git", ["clone", "-q", root, clone]);
    // The dependencies of this checkout stand in for `npm ci` in the clone (same lock file).
    symlinkSync(join(root, "node_modules"), join(clone, "node_modules"), "dir");
    const started = Date.now();
    tmux("new-session", "-d", "-x", "120", "-y", "50", `cd '${clone}' && DEMO_PORT=0 npm start; sleep 5`);
    const deadline = started + 60_000;
    const owner = await waitFor(/^\s+1\s+(\d{4})\s+Owner\s+Master/m, deadline);
    await waitFor(/press Enter to open the keypad/, deadline);
    tmux("send-keys", "-t", "0", "Enter");
    await waitFor(/Enter code/, deadline);
    tmux("send-keys", "-t", "0", owner[1]!);
    await waitFor(/Access granted — Owner/, deadline);
    expect(Date.now() - started).toBeLessThan(60_000);
    tmux("send-keys", "-t", "0", "q");
  }, 90_000);
});
