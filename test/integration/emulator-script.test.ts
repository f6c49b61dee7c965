import { spawn, type ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EMULATOR, REPO, startKeypadFixture, TSX, type KeypadFixture } from "../helpers/keypad-fixture.js";

let fx: KeypadFixture;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  fx = await startKeypadFixture({ codeLength: 4 });
});
afterEach(() => {
  for (const c of children) c.kill("SIGKILL");
  children.clear();
});
afterAll(async () => {
  await fx.stop();
});

function emulator(args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, [EMULATOR, ...args], { cwd: REPO, stdio: ["pipe", "pipe", "pipe"] });
    children.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.once("error", reject);
    child.once("close", (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin ?? "");
  });
}

describe("emulator --script", () => {
  it("runs a script file and prints each display update as one line", async () => {
    const script = join(fx.dir, "arm.txt");
    await writeFile(
      script,
      [
        "# arm with the Master code, disarm with a whole entry",
        "keys 1234#",
        "entry disarm 4444",
        "stay",
        "keys 44",
        "wait 20",
        "keys 44",
        "keys 5678",
        "tag 04A1B2C3",
        "door front 4444",
        "partition 2",
        "partition 0",
        "",
      ].join("\n"),
    );
    const { code, stdout, stderr } = await emulator(["--socket", fx.path, "--keypad", "kpS", "--partition", "1", "--script", script]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout.trimEnd().split("\n")).toEqual([
      "P1 Disarmed | Enter code",
      "P1 Disarmed | Code: *",
      "P1 Disarmed | Code: **",
      "P1 Disarmed | Code: ***",
      "P1 Armed away | Access granted — Master",
      "P1 Disarmed | Access granted — User 4",
      "P1 Disarmed | Arm stay: enter code",
      "P1 Disarmed | Arm stay: *",
      "P1 Disarmed | Arm stay: **",
      "P1 Disarmed | Arm stay: ***",
      "P1 Armed stay | Access granted — User 4",
      "P1 Armed stay | Code: *",
      "P1 Armed stay | Code: **",
      "P1 Armed stay | Code: ***",
      "P1 Armed stay | Access denied",
      "P1 Disarmed | Access granted — User 4",
      "P1 Disarmed | Access granted — User 4",
      "P1 Disarmed | Partition 2 not assigned",
      "P1 Disarmed | Enter code",
    ]);
    expect(fx.backend.calls.filter((c) => c.keypadId === "kpS").map((c) => `${c.action}:${c.ok}`)).toEqual([
      "arm_away:true",
      "disarm:true",
      "arm_stay:true",
      "disarm:false",
      "disarm:true",
      "open:true",
    ]);
  });

  it("reads a script from stdin with --script - (user programming)", async () => {
    const script = "keys *51234\nkeys 07#1\nkeys 2468\nkeys #3\n";
    const { code, stdout } = await emulator(["--socket", fx.path, "--keypad", "kpP", "--script", "-"], script);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines).toContain("User 7 code set | 1 Code  2 Partitions  3 Delete  # Back");
    expect(lines.at(-1)).toBe("User 7 deleted | Enter user number, # exit");
    expect(stdout).not.toMatch(/1234|2468/);
    expect(fx.backend.users.has(7)).toBe(false);
  });

  it("refuses a user number at once: out of range for the panel, or unused for partitions and delete", async () => {
    const before = fx.backend.calls.length;
    const { code, stdout } = await emulator(["--socket", fx.path, "--keypad", "kpN", "--script", "-"], "keys *51234\nkeys 9999#\nkeys 8#2\nkeys 8#3\nkeys 8#1\n");
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines.slice(lines.indexOf("User programming | Enter user number, # exit"))).toEqual([
      "User programming | Enter user number, # exit",
      "User programming | User number: 9",
      "User programming | User number: 99",
      "User programming | User number: 999",
      "User programming | User number: 9999",
      "No such user | Enter user number, # exit", // at once: no new code asked for
      "User programming | User number: 8",
      "User 8 | 1 Code  2 Partitions  3 Delete  # Back",
      "No such user | Enter user number, # exit", // 2 partitions: nobody there
      "User programming | User number: 8",
      "User 8 | 1 Code  2 Partitions  3 Delete  # Back",
      "No such user | Enter user number, # exit", // 3 delete: nobody there
      "User programming | User number: 8",
      "User 8 | 1 Code  2 Partitions  3 Delete  # Back",
      "User 8 new code | Enter new code", // 1 set code: a new user may be made
    ]);
    // only the checks reached the backend: nothing was changed or asked for a code
    expect(fx.backend.calls.slice(before).map((c) => `${c.action}:${c.ok}`)).toEqual(["check_user:true", "check_user:true", "check_user:true", "check_user:true"]);
    expect(stdout).not.toMatch(/1234/);
  });

  it("shows a lockout counting down while the script waits", async () => {
    const own = await startKeypadFixture({ codeLength: 4 }); // its own backend: the lockout stays here
    try {
      const { code, stdout } = await emulator(["--socket", own.path, "--keypad", "kpL", "--script", "-"], "keys 5678\nkeys 5679\nkeys 5670\nwait 2300\n");
      expect(code).toBe(0);
      const lines = stdout.trimEnd().split("\n");
      const locked = lines.filter((l) => l.includes("Keypad locked")).map((l) => Number(/locked (\d+) s/.exec(l)![1]));
      expect(locked[0]).toBe(90);
      // one display a second, each a second less (the first tick may land a few ms later)
      expect(locked.length).toBeGreaterThanOrEqual(3);
      locked.forEach((n, i) => expect(n).toBe(90 - i));
      expect(stdout).not.toMatch(/567[890]/);
    } finally {
      await own.stop();
    }
  });

  it("reports every bad script line at once, without quoting codes, and sends nothing", async () => {
    const before = fx.backend.calls.length;
    const { code, stdout, stderr } = await emulator(["--socket", fx.path, "--script", "-"], "keys 12a4\nentry disarm 12ab34\nfly away\nwait soon\nkeys 1234#\n");
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr.trimEnd().split("\n")).toEqual([
      "emulator: script line 1: keys takes digits, * and # only",
      "emulator: script line 2: entry code must be 1 to 8 digits",
      expect.stringMatching(/^emulator: script line 3: unknown command/),
      "emulator: script line 4: wait takes milliseconds (0-600000)",
    ]);
    expect(stderr).not.toMatch(/12a4|12ab34/);
    expect(fx.backend.calls.length).toBe(before);
  });

  it("exits 1 when the socket is not there, 2 on bad flags", async () => {
    const missing = await emulator(["--socket", join(fx.dir, "nope.sock"), "--script", "-"], "keys 1\n");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot connect .*ENOENT/);
    const bad = await emulator(["--partition", "x"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--socket PATH is required/);
    expect(bad.stderr).toMatch(/--partition/);
  });
});
