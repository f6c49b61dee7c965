/**
 * panelctl's command line, in process: usage errors give exit 1 and a sentence that never repeats
 * a code typed in the wrong place; help is printed and exits 0; env defaults apply; the value
 * parsers read what the flags document. Nothing here reaches a broker except the exit-4 case
 * (a refused TCP connection to port 1).
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { jsonView } from "../../../src/cli/panelctl/output.js";
import { main } from "../../../src/cli/panelctl/program.js";
import { parseWeekly } from "../../../src/cli/panelctl/usage.js";
import { tempDirs } from "../../helpers/tmp.js";

const PIN = "4821";
const dirs = tempDirs();
afterAll(() => dirs.cleanup());

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await main(argv, { json: false, print: (l) => stdout.push(l), error: (l) => stderr.push(l) });
  return { code, stdout: stdout.join("\n"), stderr: stderr.join("\n") };
}

/** Options that would reach no broker if parsing let a command through (it would then exit 4, not 1). */
const NOWHERE = ["--broker", "mqtt://127.0.0.1:1", "--timeout", "1"];

const saved = { ...process.env };
beforeEach(() => {
  // The tests give what they mean on the command line: nothing from the environment panelctl reads.
  for (const k of ["PANELCTL_BROKER", "PANELCTL_KEY", "PANELCTL_PASSWORD"]) delete process.env[k];
  process.env.PANELCTL_SEQ_FILE = join(dirs.make("panelctl-seq-"), "seq.json");
});
afterEach(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
});

describe("panelctl usage errors", () => {
  // The PIN typed where it does not belong: as a stray argument, as the value of the wrong flag, as a flag, as a command.
  const misplaced: string[][] = [
    ["set-code", "--panel", "p1", "--slot", "2", PIN],
    ["set-code", "--panel", "p1", "--slot", "2", `-${PIN}`],
    ["set-code", "--panel", "p1", "--slot", "2", "--code", `-${PIN}`],
    ["set-code", "--panel", "p1", "--slot", `-${PIN}`, "--generate"],
    ["set-code", "--panel", "p1", "--slot", `${PIN}x`, "--generate"],
    ["set-code", "--panel", "p1", `--slot=-${PIN}`, "--generate"],
    ["set-code", "--panel", "p1", "--slot", "2", `--${PIN}`],
    ["set-code", "--panel", "p1", "--slot", "2", `--code=${PIN}`, "--generate"],
    ["set-code", "--panel", "p1", "--slot", "2", `--generate=${PIN}`],
    ["set-code", "--panel", "p1", "--slot", "2", `--json=${PIN}`, "--generate"],
    ["set-label", "--panel", "p1", "--slot", "2", "--label", "x", "--expected-version", `${PIN}.5`],
    ["set-role", "--panel", "p1", "--slot", "2", "--role", PIN],
    ["set-partitions", "--panel", "p1", "--slot", "2", "--partitions", `${PIN}x`],
    ["set-schedule", "--panel", "p1", "--slot", "2", "--weekly", PIN],
    ["set-schedule", "--panel", "p1", "--slot", "2", "--from", `x${PIN}`, "--to", "2026-01-01T00:00:00Z"],
    ["users", "--panel", "p1", "--per-page", PIN],
    ["users", "--panel", "p1", "--page", `-${PIN}`],
    ["users", "--panel", "p1", "--mqtt", PIN],
    ["trust", "--panel", "p1", "--identity", PIN],
    ["trust", "--panel", PIN + "!"],
    ["trust", PIN],
    ["users", "--panel", "p1", "--timeout", `${PIN}x`],
    ["users", "--panel", "p1", "--actor-kind", PIN],
    ["users", "--panel", `-${PIN}`],
    ["users", "--panel", `${PIN}/x`],
    ["users", "--panel", "p1", "--broker", PIN],
    ["assign-account", "--panel", "p1", "--slot", "2", "--account-id", "a", "--email", "e", "--status", PIN],
    ["dealer", "grant", "--panel", "p1", "--hours", PIN],
    ["set-label", "--panel", "p1", "--slot", "2", "--label", "x", "--key", PIN],
    ["users", "--panels-file", PIN],
    ["users", "--panel", "p1", "--ca", PIN],
    ["snapshot", "--panel", "p1", "--file", PIN],
    ["dealer", PIN],
    [PIN],
    [`--${PIN}`],
  ];
  for (const argv of misplaced) {
    it(`exits 1 without echoing the code: panelctl ${argv.join(" ")}`, async () => {
      const r = await run([...argv, ...NOWHERE]);
      expect(r.code).toBe(1);
      expect(r.stderr).not.toBe("");
      expect(r.stdout + r.stderr).not.toContain(PIN);
    });
  }

  it("says what is wrong in words of its own", async () => {
    expect((await run(["set-code", "--panel", "p1", "--slot", "2", PIN, ...NOWHERE])).stderr).toContain("panelctl set-code: unexpected argument (flags take their value as --flag VALUE)");
    expect((await run(["set-code", "--panel", "p1", "--slot", "2", "--code", `-${PIN}`, ...NOWHERE])).stderr).toContain("--code takes digits only");
    expect((await run(["set-label", "--panel", "p1", "--label", "x", ...NOWHERE])).stderr).toContain("--slot is required (the user number, 1 for the Master)");
    expect((await run(["set-label", "--panel", "p1", "--slot", "2", "--label", "--json", ...NOWHERE])).stderr).toContain("--label needs a value");
    expect((await run(["set-label", "--panel", "p1", "--slot", "2", ...NOWHERE])).stderr).toContain("give --label or --first/--last");
    // A value that starts with a dash is taken when it is attached with =, as util.parseArgs took it (here the key is what is missing).
    expect((await run(["set-label", "--panel", "p1", "--slot", "2", "--label=-x", ...NOWHERE])).stderr).toContain("give --key FILE (or set PANELCTL_KEY)");
    expect((await run(["set-code", "--panel", "p1", "--slot", "2", "--cod", "1", ...NOWHERE])).stderr).toContain("unknown option --cod (did you mean --code?)");
    expect((await run(["set-code", "--panel", "p1", "--slot", "2", ...NOWHERE])).stderr).toContain("give exactly one of --code or --generate");
    expect((await run(["set-role", "--panel", "p1", "--slot", "2", ...NOWHERE])).stderr).toContain("--role is required");
    expect((await run(["users", "--panel", "p1", "--mqtt", "3", ...NOWHERE])).stderr).toContain("--mqtt is 4 or 5");
    expect((await run(["users", "--panel", "p1", "--timeout", "0", ...NOWHERE])).stderr).toContain("--timeout is seconds, > 0");
    expect((await run(["users", ...NOWHERE])).stderr).toContain("give --panel ID (repeatable) or --panels-file FILE");
    expect((await run(["set-label", "--panel", "p1", "--slot", "2", "--label", "x", ...NOWHERE])).stderr).toContain("give --key FILE (or set PANELCTL_KEY)");
    expect((await run(["dealer", "grant", "--panel", "p1", "--request", "R", "--hours", "2", ...NOWHERE])).stderr).toContain("a grant answering a request (--request) lasts 24 h");
    expect((await run(["dealer", "frobnicate", ...NOWHERE])).stderr).toContain('unknown command "frobnicate"; panelctl dealer takes grant, revoke or status');
    expect((await run(["set-schedule", "--panel", "p1", "--slot", "2", "--always", "--weekly", "1-5 08:00-17:00", ...NOWHERE])).stderr).toContain("give exactly one of --always, --weekly or --from/--to");
  });

  it("takes its defaults from the environment, and checks them as it checks flags", async () => {
    process.env.PANELCTL_BROKER = "127.0.0.1:1883";
    const r = await run(["users", "--panel", "p1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the broker URL needs mqtt://, mqtts://, ws:// or wss://");
    process.env.PANELCTL_BROKER = "mqtt://127.0.0.1:1";
    process.env.PANELCTL_KEY = join(dirs.make("panelctl-nokey-"), "absent.key");
    const noKey = await run(["set-label", "--panel", "p1", "--slot", "2", "--label", "x"]);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain(`cannot read the key file ${process.env.PANELCTL_KEY}`);
  });
});

describe("panelctl help, keygen and connection failure", () => {
  it("prints the commands and exit codes with --help (exit 0), and on stderr with no command (exit 1)", async () => {
    const help = await run(["--help"]);
    expect(help.code).toBe(0);
    for (const name of ["keygen", "set-code", "set-label", "set-partitions", "set-role", "set-schedule", "disable", "assign-account", "unassign-account", "remove-account", "users", "log", "snapshot", "dealer", "watch"]) expect(help.stdout).toMatch(new RegExp(`^  ${name} `, "m"));
    expect(help.stdout).toContain("Exit codes: 0 all applied, 1 usage, 2 rejected (any), 3 pending/timeout (any), 4 connection failure.");
    const none = await run([]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("Usage: panelctl <command>");
  });

  it("prints a subcommand's options with their defaults and environment variables", async () => {
    const help = await run(["set-code", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: panelctl set-code --panel ID --slot N (--code DIGITS | --code - | --generate)");
    expect(help.stdout).toMatch(/--broker <URL> +the MQTT broker \(default: "mqtt:\/\/127\.0\.0\.1:1883",\s+env: PANELCTL_BROKER\)/);
    expect(help.stdout).toMatch(/--key <FILE>.*env: PANELCTL_KEY/);
    expect(help.stdout).toMatch(/--mqtt <VERSION> +MQTT version \(choices: "4", "5", default: 4\)/);
    const dealer = await run(["help", "dealer"]);
    expect(dealer.code).toBe(0);
    expect(dealer.stdout).toMatch(/grant \[options\]/);
    expect((await run(["dealer", "grant", "--help"])).stdout).toMatch(/--hours <H> [^\n]*\(choices:\s+"2", "24"\)/);
  });

  it("keygen writes the seed 0600 and its public key, and refuses to overwrite without --force", async () => {
    const file = join(dirs.make("panelctl-keygen-"), "cloud.key");
    const first = await run(["keygen", "--out", file, "--json"]);
    expect(first.code).toBe(0);
    const { publicKey } = JSON.parse(first.stdout) as { publicKey: string };
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file + ".pub", "utf8").trim()).toBe(publicKey);
    expect(first.stdout).not.toContain(readFileSync(file, "utf8").trim());
    const again = await run(["keygen", "--out", file]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${file} exists (use --force to replace it)`);
    expect((await run(["keygen", "--out", file, "--force"])).code).toBe(0);
  });

  it("exits 4 when the broker cannot be reached", async () => {
    const file = join(dirs.make("panelctl-down-"), "cloud.key");
    expect((await run(["keygen", "--out", file])).code).toBe(0);
    const r = await run(["users", "--panel", "p1", "--key", file, "--broker", "mqtt://127.0.0.1:1", "--timeout", "2"]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^panelctl: /);
  });
});

describe("panelctl value parsers", () => {
  it("reads weekly windows as the help says (days 0-6 or names, ranges wrap, 24:00 ends a day)", () => {
    expect(parseWeekly("1-5 08:00-17:00")).toEqual({ days: [1, 2, 3, 4, 5], start: 480, end: 1020 });
    expect(parseWeekly("fri-mon 22:00-06:00")).toEqual({ days: [0, 1, 5, 6], start: 1320, end: 360 });
    expect(parseWeekly("sat,sun 00:00-24:00")).toEqual({ days: [0, 6], start: 0, end: 1440 });
    expect(() => parseWeekly("1-5 08:00-00:00")).toThrow("--weekly times are 00:00..23:59 (24:00 as an end)");
    expect(() => parseWeekly("someday 08:00-09:00")).toThrow("--weekly days are 0-6 (0 = Sunday) or sun..sat");
  });

  it("gives JSON null for the grid's dash and ISO text beside epoch-ms times", () => {
    expect(jsonView({ account: "-", created: 0, rows: [{ at: 1_764_633_600_000, label: "x" }] })).toEqual({
      account: null,
      created: 0,
      createdIso: "1970-01-01T00:00:00.000Z",
      rows: [{ at: 1_764_633_600_000, atIso: "2025-12-02T00:00:00.000Z", label: "x" }],
    });
  });
});

describe("panelctl trust", () => {
  const KEY = "ab".repeat(32);
  it("pins the identity given, then forgets it, in the seq file, naming the key ids only", async () => {
    const pin = await run(["trust", "--panel", "p1", "--identity", KEY]);
    expect(pin.code).toBe(0);
    expect(pin.stdout).toMatch(/^panel p1: identity [0-9a-f]{16} pinned$/);
    const file = JSON.parse(readFileSync(process.env.PANELCTL_SEQ_FILE!, "utf8")) as Record<string, { identity?: string }>;
    expect(file.p1?.identity).toBe(KEY);
    const forget = await run(["trust", "--panel", "p1", "--json"]);
    expect(forget.code).toBe(0);
    expect(JSON.parse(forget.stdout)).toMatchObject({ panel: "p1", was: expect.stringMatching(/^[0-9a-f]{16}$/), pinned: null });
    expect((JSON.parse(readFileSync(process.env.PANELCTL_SEQ_FILE!, "utf8")) as Record<string, { identity?: string }>).p1?.identity).toBeUndefined();
  });

  it("needs a panel", async () => {
    const r = await run(["trust"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/trust needs --panel ID/);
  });
});
