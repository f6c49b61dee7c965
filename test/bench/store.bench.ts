/**
 * Start-up figures: `store_cold_start_10k_ms` (open the store with 10k users and build the index, to
 * ready; the modules are loaded before the clock starts) and `store_rss_10k_mb` (resident memory of that process when ready),
 * each in a fresh child process running the compiled agent on plain node, as a device does
 * (median of 5), with the daemon's V8 flag from systemd/panel-agent.service (a 1 MB young
 * generation: the default 16 MB semi-spaces keep ~30 MB of start-up garbage resident).
 * `store_rss_baseline_mb` is the same child opening an empty store, same run.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PanelCore } from "../../src/core.js";
import { Secret, type Command, type PanelConfig } from "../../src/domain/index.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const child = fileURLToPath(new URL("./cold-start-child.mjs", import.meta.url));

function seed(dir: string, config: PanelConfig, users: number): void {
  const core = new PanelCore({ stateDir: dir, config, encodeEvent: () => ({ kind: "evt", body: new Uint8Array() }) });
  const now = Date.now();
  const list = Array.from({ length: users }, (_, i) => ({
    slot: i + 1,
    code: new Secret(String(10_000_000 + i * 7)),
    label: `User ${i + 1}`,
    schedule: i % 3 === 0 ? { kind: "always" as const } : i % 3 === 1 ? { kind: "weekly" as const, windows: [{ days: [1, 2, 3, 4, 5], start: 480, end: 1080 }] } : { kind: "temporary" as const, from: now, to: now + 86_400_000 },
  }));
  core.execute([{ command: { id: "seed", actor: { kind: "system", id: "bench" }, kind: "snapshot", users: list } as Command }]);
  core.close();
}

function measure(dir: string, config: PanelConfig): { ms: number; rss: number; users: number } {
  const out = execFileSync(process.execPath, ["--expose-gc", "--max-semi-space-size=1", child, dir, JSON.stringify(config)], { encoding: "utf8", cwd: root });
  return JSON.parse(out.trim().split("\n").pop()!) as { ms: number; rss: number; users: number };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run(): Promise<Record<string, number>> {
  const config: PanelConfig = { panelId: "bench", type: "site", codeLength: 8, timeZone: "Europe/Berlin", doorLocks: [] };
  execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
  const full = mkdtempSync(join(tmpdir(), "bench-10k-"));
  const empty = mkdtempSync(join(tmpdir(), "bench-0-"));
  try {
    seed(full, config, 10_000);
    seed(empty, config, 0);
    const runs = Array.from({ length: 5 }, () => measure(full, config));
    if (runs[0]!.users !== 10_000) throw new Error(`expected 10,000 indexed users, got ${runs[0]!.users}`);
    const base = Array.from({ length: 3 }, () => measure(empty, config));
    return {
      store_cold_start_10k_ms: median(runs.map((r) => r.ms)),
      store_rss_10k_mb: median(runs.map((r) => r.rss)),
      store_rss_baseline_mb: median(base.map((r) => r.rss)),
    };
  } finally {
    rmSync(full, { recursive: true, force: true });
    rmSync(empty, { recursive: true, force: true });
  }
}
