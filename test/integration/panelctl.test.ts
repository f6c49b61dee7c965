import { execFile } from "node:child_process";
import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSigningKey } from "../../protocol/index.js";
import type { Agent } from "../../src/agent.js";
import { isWeakCode } from "../../src/cloud/index.js";
import { ERROR_SENTENCES } from "../../src/domain/index.js";
import { cloudAgentConfig, runAgent } from "../helpers/cloud-harness.js";
import { MOSQUITTO_BIN, Mosquitto } from "../helpers/mosquitto.js";
import { tempDirs } from "../helpers/tmp.js";

const TSX = join(process.cwd(), "node_modules/.bin/tsx");
const CLI = join(process.cwd(), "src/bin/panelctl.ts");

const dirs = tempDirs();
let mosq: Mosquitto;
let agent: Agent;
let dir: string;
let keyFile: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function panelctl(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(TSX, [CLI, ...args], { env: { ...process.env, PANELCTL_SEQ_FILE: join(dir, "seq.json"), ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? -1) : 0;
      resolve({ code: typeof code === "number" ? code : -1, stdout, stderr });
    });
  });
}

const common = () => ["--broker", mosq.url, "--key", keyFile, "--timeout", "10"];
const lines = (s: string) => s.trim().split("\n").filter(Boolean);

beforeAll(async () => {
  if (!MOSQUITTO_BIN) throw new Error("mosquitto missing: apt-get install mosquitto");
  dir = dirs.make("panelctl-");
  keyFile = join(dir, "cloud.key");
  mosq = await new Mosquitto().start();
  const keygen = await panelctl(["keygen", "--out", keyFile, "--json"]);
  expect(keygen.code).toBe(0);
  const { publicKey } = JSON.parse(keygen.stdout) as { publicKey: string };
  const signingKey = loadSigningKey(Buffer.from(readFileSync(keyFile, "utf8").trim(), "hex"));
  expect(signingKey.publicRaw.toString("hex")).toBe(publicKey);
  agent = await runAgent(cloudAgentConfig(join(dir, "agent"), mosq.url, "p1", signingKey));
});

afterAll(async () => {
  await agent?.stop();
  await mosq?.dispose();
  dirs.cleanup();
});

describe("panelctl", () => {
  it("keygen writes the seed 0600 and the public key for trustedCloudKeys", () => {
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile + ".pub", "utf8").trim()).toMatch(/^[0-9a-f]{64}$/);
  });

  it("set-code --generate prints the generated code once; users --json then shows the slot with a code", async () => {
    const set = await panelctl(["set-code", "--panel", "p1", "--slot", "2", "--generate", "--json", ...common()]);
    expect(set.code).toBe(0);
    const out = JSON.parse(set.stdout) as { panel: string; status: string; generatedCode: string; seq: number };
    expect(out).toMatchObject({ panel: "p1", status: "applied" });
    expect(out.generatedCode).toMatch(/^[0-9]{4}$/);
    expect(isWeakCode(out.generatedCode)).toBe(false);
    expect(set.stdout.split(out.generatedCode).length - 1).toBe(1);
    expect(set.stderr).not.toContain(out.generatedCode);

    const users = await panelctl(["users", "--panel", "p1", "--per-page", "10", "--json", ...common()]);
    expect(users.code).toBe(0);
    const page = JSON.parse(users.stdout) as { range: string; rows: { number: number; codeSet: boolean }[] };
    expect(page.range).toBe("1-10 of 1000");
    expect(page.rows[1]).toMatchObject({ number: 2, codeSet: true });
    expect(users.stdout).not.toContain(out.generatedCode);

    const table = await panelctl(["users", "--panel", "p1", "--per-page", "10", ...common()]);
    expect(table.code).toBe(0);
    expect(lines(table.stdout).at(-1)).toBe("1-10 of 1000");
    expect(lines(table.stdout)[2]).toMatch(/^2\s.*✓/);
  });

  it("exits 2 with the code when a command is rejected", async () => {
    const r = await panelctl(["set-label", "--panel", "p1", "--slot", "9", "--label", "Nobody", "--json", ...common()]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ panel: "p1", status: "rejected", code: "code_required", detail: expect.anything(), message: ERROR_SENTENCES.code_required });
    const human = await panelctl(["set-label", "--panel", "p1", "--slot", "9", "--label", "Nobody", ...common()]);
    expect(human.code).toBe(2);
    expect(human.stdout).toContain(`rejected  code_required  ${ERROR_SENTENCES.code_required}`);
  });

  it("says why a panel without retained state is pending, at once, naming the panel and the broker", async () => {
    const t0 = Date.now();
    const r = await panelctl(["set-label", "--panel", "nosuch", "--slot", "2", "--label", "x", ...common()]);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain(`no retained state was found for panel nosuch on broker ${mosq.url}: is the panel id right, is the agent connected?`);
    expect(Date.now() - t0).toBeLessThan(9000);
  });

  it("refuses misleading usage before sending, in words, without echoing a code", async () => {
    const perPage = await panelctl(["users", "--panel", "p1", "--per-page", "7", ...common()]);
    expect(perPage.code).toBe(1);
    expect(perPage.stderr).toContain("--per-page is 10, 15, 50, 100 or 200");
    const grant24 = await panelctl(["dealer", "grant", "--panel", "p1", "--hours", "24", ...common()]);
    expect(grant24.code).toBe(1);
    expect(grant24.stderr).toContain("--hours 24 answers a dealer's request: give --request ID");
    for (const slot of [["--slot", "-3"], ["--slot=-3"], ["--slot", "0"]]) {
      const neg = await panelctl(["set-label", "--panel", "p1", ...slot, "--label", "x", ...common()]);
      expect(neg.code).toBe(1);
      expect(neg.stderr).toContain("--slot is a user number: a whole number, 1 or more");
    }
    const negCode = await panelctl(["set-code", "--panel", "p1", "--slot", "2", "--code", "-4821", ...common()]);
    expect(negCode.code).toBe(1);
    expect(negCode.stdout + negCode.stderr).not.toContain("4821");
    const stray = await panelctl(["set-code", "--panel", "p1", "--slot", "2", "-4821", ...common()]);
    expect(stray.code).toBe(1);
    expect(stray.stdout + stray.stderr).not.toContain("4821");
    const noScheme = await panelctl(["users", "--panel", "p1", "--key", keyFile, "--broker", "127.0.0.1:1883"]);
    expect(noScheme.code).toBe(1);
    expect(noScheme.stderr).toContain("the broker URL needs mqtt://, mqtts://, ws:// or wss://");
  });

  it("stops quietly (exit 0, no stack trace) when the reader of its output goes away", async () => {
    const r = await new Promise<Run>((resolve) => {
      const cmd = `set -o pipefail; "${TSX}" "${CLI}" users --panel p1 --per-page 200 --broker ${mosq.url} --key "${keyFile}" | true`;
      execFile("bash", ["-c", cmd], { env: { ...process.env, PANELCTL_SEQ_FILE: join(dir, "seq.json") }, timeout: 30_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
      });
    });
    expect(r.stderr).not.toMatch(/EPIPE|Error|at /);
    expect(r.code).toBe(0);
  });

  it("acts as a dealer with --actor-kind dealer: read-only until the Master grants, never codes", async () => {
    const before = await panelctl(["set-label", "--panel", "p1", "--slot", "2", "--label", "Dealer", "--actor-kind", "dealer", "--actor", "acme", "--json", ...common()]);
    // p1's dealer window may be open from the grant test above; revoke it first for a clean start.
    if (JSON.parse(before.stdout).status === "applied") expect((await panelctl(["dealer", "revoke", "--panel", "p1", ...common()])).code).toBe(0);
    const ro = await panelctl(["set-label", "--panel", "p1", "--slot", "2", "--label", "Dealer", "--actor-kind", "dealer", "--actor", "acme", "--json", ...common()]);
    expect(JSON.parse(ro.stdout)).toMatchObject({ status: "rejected", code: expect.stringMatching(/^dealer_(read_only|access_expired)$/) });
    const self = await panelctl(["dealer", "grant", "--panel", "p1", "--actor-kind", "dealer", "--actor", "acme", "--json", ...common()]);
    expect(JSON.parse(self.stdout)).toMatchObject({ status: "rejected", code: "master_required", message: ERROR_SENTENCES.master_required });
    const grant = await panelctl(["dealer", "grant", "--panel", "p1", "--request", "REQ-7", ...common()]);
    expect(grant.code).toBe(0);
    expect(grant.stdout).toMatch(/applied .*dealer access until \d{4}-\d\d-\d\dT\S+Z \(\d{4}-\d\d-\d\d \d\d:\d\d Europe\/Berlin\), 24 h, answering request REQ-7/);
    const ok = await panelctl(["set-label", "--panel", "p1", "--slot", "2", "--label", "Dealer", "--actor-kind", "dealer", "--actor", "acme", ...common()]);
    expect(ok.code).toBe(0);
    const codes = await panelctl(["set-code", "--panel", "p1", "--slot", "2", "--generate", "--actor-kind", "dealer", "--actor", "acme", "--json", ...common()]);
    expect(JSON.parse(codes.stdout)).toMatchObject({ status: "rejected", code: "dealer_cannot_change_codes" });
    let status: { dealerAccess: null | Record<string, unknown> } = { dealerAccess: null };
    for (let i = 0; i < 5 && status.dealerAccess?.hours !== 24; i++) status = JSON.parse((await panelctl(["dealer", "status", "--panel", "p1", "--json", "--broker", mosq.url])).stdout) as typeof status;
    expect(status.dealerAccess).toMatchObject({ hours: 24, how: "request", timeZone: "Europe/Berlin", untilIso: expect.stringMatching(/Z$/) });
    const human = await panelctl(["dealer", "status", "--panel", "p1", "--broker", mosq.url]);
    expect(human.stdout).toMatch(/granted {3}until \S+Z \(.* Europe\/Berlin\), 24 h, answering a dealer's request/);
    const bad = await panelctl(["users", "--panel", "p1", "--actor-kind", "keypad_user", ...common()]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("--actor-kind is cloud, master, dealer");
    expect((await panelctl(["dealer", "revoke", "--panel", "p1", ...common()])).code).toBe(0);
  });

  it("sends to several panels with one outcome line each; an unreachable panel is pending (exit 3)", async () => {
    writeFileSync(join(dir, "panels.txt"), "p1\n# a comment\nghost\n");
    const m = await panelctl(["set-label", "--panels-file", join(dir, "panels.txt"), "--slot", "2", "--label", "Front", "--json", ...common().slice(0, 4), "--timeout", "3"]);
    expect(m.code).toBe(3);
    const outs = lines(m.stdout).map((l) => JSON.parse(l) as { panel: string; status: string; reason?: string });
    expect(outs.map((o) => [o.panel, o.status, o.reason])).toEqual([["p1", "applied", undefined], ["ghost", "pending", "no_state"]]);
  });

  it("grants dealer access as the Master and shows it in dealer status", async () => {
    const before = await panelctl(["dealer", "status", "--panel", "p1", "--json", "--broker", mosq.url]);
    expect(before.code).toBe(0);
    expect(JSON.parse(before.stdout)).toMatchObject({ panel: "p1", dealerAccess: null });
    const grant = await panelctl(["dealer", "grant", "--panel", "p1", ...common()]);
    expect(grant.code).toBe(0);
    expect(grant.stdout).toMatch(/^p1\s+applied/);
    // The retained state is republished shortly after the change.
    let status = { dealerAccess: null as null | { hours: number } };
    for (let i = 0; i < 5 && !status.dealerAccess; i++) status = JSON.parse((await panelctl(["dealer", "status", "--panel", "p1", "--json", "--broker", mosq.url])).stdout) as typeof status;
    expect(status.dealerAccess).toMatchObject({ hours: 2 });
  });

  it("after the agent's state is wiped it refuses the panel's new identity until `panelctl trust`; then the next command is applied and the reset is said once", async () => {
    const signingKey = loadSigningKey(Buffer.from(readFileSync(keyFile, "utf8").trim(), "hex"));
    const config = cloudAgentConfig(join(dir, "agent-r1"), mosq.url, "r1", signingKey);
    let r1 = await runAgent(config);
    try {
      for (const label of ["One", "Two"]) {
        const o = await panelctl(["set-code", "--panel", "r1", "--slot", "2", "--generate", "--json", ...common()]);
        expect(o.code).toBe(0);
        expect((await panelctl(["set-label", "--panel", "r1", "--slot", "2", "--label", label, ...common()])).code).toBe(0);
      }
      const seqs = JSON.parse(readFileSync(join(dir, "seq.json"), "utf8")) as Record<string, { seq: number; epoch: string; identity: string }>;
      expect(seqs.r1).toMatchObject({ seq: 4, epoch: expect.stringMatching(/^[0-9a-f]{16}$/), identity: expect.stringMatching(/^[0-9a-f]{64}$/) });
      const oldEpoch = seqs.r1!.epoch;

      // The whole state directory goes: a new database and a new identity key. A new key cannot
      // be told from a forger's, so the panel is refused, and the sentence says what to run.
      await r1.stop();
      rmSync(join(dir, "agent-r1", "state"), { recursive: true, force: true });
      r1 = await runAgent(config);
      const refused = await panelctl(["set-label", "--panel", "r1", "--slot", "2", "--label", "Three", ...common(), "--timeout", "3"]);
      expect(refused.code).toBe(3);
      expect(refused.stderr).toMatch(/panel r1: dropped a state message not signed by its pinned identity .*run `panelctl trust --panel r1`/);

      const trust = await panelctl(["trust", "--panel", "r1", "--seq-file", join(dir, "seq.json")]);
      expect(trust.code).toBe(0);
      expect(trust.stdout).toMatch(/panel r1: identity [0-9a-f]{16} forgotten/);

      const next = await panelctl(["set-code", "--panel", "r1", "--slot", "3", "--generate", "--json", ...common()]);
      expect(next.code).toBe(0);
      expect(JSON.parse(next.stdout)).toMatchObject({ panel: "r1", status: "applied", seq: 1 });
      expect(next.stderr).toMatch(/panel r1: identity [0-9a-f]{16} trusted on first use/);
      expect(next.stderr).toMatch(/panel r1 was reset \(new database epoch [0-9a-f]{16}\): its sequence restarts at 1; its table must be sent again with `panelctl snapshot`/);
      expect(next.stderr).not.toContain(oldEpoch);
      const again = await panelctl(["users", "--panel", "r1", ...common()]);
      expect(again.code).toBe(0);
      expect(again.stderr).not.toContain("was reset");
    } finally {
      await r1.stop();
    }
  }, 90_000); // eight panelctl processes and two agent starts: ~17 s on a loaded 2-core machine

  it("JSON output: null where the grid shows -, ISO-8601 beside every ms time; snapshot prints its added/changed/removed slots", async () => {
    const set = await panelctl(["set-code", "--panel", "p1", "--slot", "5", "--generate", "--json", ...common()]);
    expect(set.code).toBe(0);
    expect((JSON.parse(set.stdout) as { slots: { account: unknown }[] }).slots[0]!.account).toBeNull();
    const users = JSON.parse((await panelctl(["users", "--panel", "p1", "--per-page", "10", "--json", ...common()])).stdout) as { rows: Record<string, unknown>[] };
    expect(users.rows[4]).toMatchObject({ number: 5, codeSet: true, account: null, created: null });
    expect(JSON.stringify(users)).not.toContain('"-"');
    const assign = await panelctl(["assign-account", "--panel", "p1", "--slot", "5", "--account-id", "acc-5", "--email", "five@example.com", "--created", "2026-11-30T12:00:00Z", ...common()]);
    expect(assign.code).toBe(0);
    const after = JSON.parse((await panelctl(["users", "--panel", "p1", "--per-page", "10", "--json", ...common()])).stdout) as { rows: Record<string, unknown>[] };
    expect(after.rows[4]).toMatchObject({ account: "five@example.com", created: Date.parse("2026-11-30T12:00:00Z"), createdIso: "2026-11-30T12:00:00.000Z" });
    const log = JSON.parse((await panelctl(["log", "--panel", "p1", "--per-page", "10", "--json", ...common()])).stdout) as { rows: { at: number; atIso: string }[] };
    expect(log.rows[0]!.atIso).toBe(new Date(log.rows[0]!.at).toISOString());

    const file = join(dir, "snap.json");
    writeFileSync(file, JSON.stringify({ users: [{ slot: 1, code: "8264", label: "Owner" }, { slot: 2, code: "3917", label: "Front" }, { slot: 7, code: "5938", label: "New" }] }));
    const first = await panelctl(["snapshot", "--panel", "p1", "--file", file, "--json", ...common()]);
    expect(first.code).toBe(0);
    const j = JSON.parse(first.stdout) as { added: number[]; changed: number[]; removed: number[] };
    expect(j.added).toContain(7);
    expect(j.removed).toContain(5);
    for (const pin of ["8264", "3917", "5938"]) expect(first.stdout + first.stderr).not.toContain(pin);
    writeFileSync(file, JSON.stringify({ users: [{ slot: 1, code: "keep", label: "Owner" }, { slot: 2, code: "keep", label: "Front" }, { slot: 7, code: "keep", label: "New" }] }));
    const human = await panelctl(["snapshot", "--panel", "p1", "--file", file, ...common()]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/applied {3}seq=\d+ {2}added none; changed none; removed none/);
  });

  it("uses exit 1 for usage errors (never echoing a stray argument) and 4 when the broker is unreachable", async () => {
    const usage = await panelctl(["set-code", "--panel", "p1", "--slot", "2", "8642", ...common()]);
    expect(usage.code).toBe(1);
    expect(usage.stdout + usage.stderr).not.toContain("8642");
    const down = await panelctl(["users", "--panel", "p1", "--key", keyFile, "--broker", "mqtt://127.0.0.1:1", "--timeout", "2"]);
    expect(down.code).toBe(4);
  });
});
