import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EMULATOR, REPO, startKeypadFixture, TSX, type KeypadFixture } from "../helpers/keypad-fixture.js";

/**
 * The interactive emulator in a real terminal: tmux runs it in a detached 100x30 session on a
 * private tmux server (its own socket in the test's temp dir), keys go in with send-keys and the
 * screen comes back with capture-pane.
 */
const tmuxVersion = spawnSync("tmux", ["-V"], { encoding: "utf8" });
const HAVE_TMUX = tmuxVersion.status === 0;
if (!HAVE_TMUX) console.warn("emulator-tty: SKIPPED, tmux is not installed (apt-get install tmux; CI installs it)");

let fx: KeypadFixture;
let tmuxSocket: string;
let session: string;

function tmux(...args: string[]): string {
  const r = spawnSync("tmux", ["-S", tmuxSocket, ...args], { encoding: "utf8", env: { ...process.env, LANG: "C.UTF-8", LC_ALL: "C.UTF-8" } });
  if (r.status !== 0) throw new Error(`tmux ${args[0]} failed: ${r.stderr}`);
  return r.stdout;
}

const screen = () => tmux("capture-pane", "-p", "-t", session);

async function waitFor(predicate: (text: string) => boolean, what: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = "";
  while (Date.now() < deadline) {
    text = screen();
    if (predicate(text)) return text;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`screen never showed ${what}; last screen:\n${text}`);
}

describe.skipIf(!HAVE_TMUX)("emulator in a terminal (tmux)", () => {
  beforeEach(async () => {
    fx = await startKeypadFixture({ codeLength: 4 });
    tmuxSocket = join(fx.dir, "tmux.sock");
    session = `kp-${process.pid}-${Date.now().toString(36)}`;
    const cmd = [TSX, EMULATOR, "--socket", fx.path, "--keypad", "kpTTY", "--partition", "1,2"].map((a) => `'${a}'`).join(" ");
    // The shell stays a while after the emulator, so its exit code and last words can be read.
    tmux("new-session", "-d", "-s", session, "-x", "100", "-y", "30", "-c", REPO, `${cmd}; echo "emulator exited $?"; sleep 60`);
  });

  afterEach(async () => {
    spawnSync("tmux", ["-S", tmuxSocket, "kill-server"]);
    await fx.stop();
  });

  it("punching a code shows the grant on screen; digits never appear", async () => {
    const first = await waitFor((t) => t.includes("Enter code"), "the idle prompt");
    expect(first).toContain("P1 Disarmed  P2 Disarmed");
    expect(first).toContain("[ Stay       s ]");
    expect(first).toContain("q quit");

    tmux("send-keys", "-t", session, "1", "2");
    const typing = await waitFor((t) => t.includes("Code: **"), "two stars");
    expect(typing).not.toMatch(/Code: .*[12]/);

    tmux("send-keys", "-t", session, "3", "4");
    const granted = await waitFor((t) => t.includes("Access granted — Master"), "the grant");
    expect(granted).toContain("P1 Armed away  P2 Armed away");
    expect(granted).not.toContain("1234");
    expect(fx.backend.calls.at(-1)).toMatchObject({ keypadId: "kpTTY", action: "arm_away", ok: true });

    // a wrong code, then disarm with the d key and Enter as #
    tmux("send-keys", "-t", session, "5", "6", "7", "8");
    await waitFor((t) => t.includes("Access denied"), "the denial");
    tmux("send-keys", "-t", session, "d", "1", "2", "3", "4", "Enter");
    await waitFor((t) => t.includes("P1 Disarmed  P2 Disarmed") && t.includes("Access granted — Master"), "the disarm");
  });

  it("presents a tag through the prompt (masked), switches partition, and quits with q", async () => {
    await waitFor((t) => t.includes("Enter code"), "the idle prompt");
    tmux("send-keys", "-t", session, "P", "2");
    await waitFor((t) => /│ P2 Disarmed\s+│/.test(t) && t.includes("acting on P2"), "partition 2 selected");

    tmux("send-keys", "-t", session, "]");
    await waitFor((t) => t.includes("acting on all"), "all partitions");

    tmux("send-keys", "-t", session, "t", "0", "4", "A", "1");
    const prompt = await waitFor((t) => t.includes("Tag id: ****_"), "the masked tag prompt");
    expect(prompt).not.toContain("04A1");
    tmux("send-keys", "-t", session, "B", "2", "C", "3", "Enter");
    // User 4 has partition 1 only, so a tag for both partitions is refused
    await waitFor((t) => t.includes("Access denied"), "the tag denial");
    tmux("send-keys", "-t", session, "P", "1", "t", "0", "4", "A", "1", "B", "2", "C", "3", "Enter");
    await waitFor((t) => t.includes("Access granted — User 4") && t.includes("P1 Armed away"), "the tag grant");

    tmux("send-keys", "-t", session, "q");
    const after = await waitFor((t) => /emulator exited \d+/.test(t), "the emulator's exit");
    expect(after).toContain("emulator exited 0");
    expect(after).not.toContain("connection lost");
  });

  it("exits 0 on Ctrl-C too, and 1 with 'connection lost' when the agent goes away", async () => {
    await waitFor((t) => t.includes("Enter code"), "the idle prompt");
    tmux("send-keys", "-t", session, "C-c");
    const quit = await waitFor((t) => /emulator exited \d+/.test(t), "the emulator's exit");
    expect(quit).toContain("emulator exited 0");
    expect(quit).not.toContain("connection lost");

    tmux("respawn-pane", "-k", "-t", session, `'${TSX}' '${EMULATOR}' --socket '${fx.path}' --keypad kpTTY2; echo "emulator exited $?"; sleep 60`);
    await waitFor((t) => t.includes("Enter code") && t.includes("registered as kpTTY2"), "the second emulator");
    await fx.server.stop();
    const lost = await waitFor((t) => /emulator exited \d+/.test(t), "the emulator's exit");
    expect(lost).toContain("connection lost");
    expect(lost).toContain("emulator exited 1");
  });
});
