/**
 * `npm run bench` runs every test/bench/*.bench.ts (or those named: `npm run bench -- access`).
 * Each module exports `run(): Promise<Record<string, number>>`, measuring its own floor in the
 * same run. `-- --json` prints one JSON object with every figure; otherwise one line per figure.
 *
 * Each module runs in a process of its own: the access bench leaves a heap of 100k-user tables
 * behind, and the sync bench's cloud client (which lives in the bench process) paid for it in
 * garbage collection (measured: burst 19.5k/s after the other benches, 22-23k/s alone).
 */
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const json = args.includes("--json");
const child = args.includes("--child");
const only = args.filter((a) => !a.startsWith("--"));

const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();

const print = (out: Record<string, number>) => {
  for (const [k, v] of Object.entries(out)) console.log(`${k.padEnd(28)} ${Number.isInteger(v) ? v : v.toFixed(2)}`);
};

if (child) {
  // one module, in this process; its figures as the last line of stdout
  const mod = (await import(pathToFileURL(join(here, files[0]!)).href)) as { run: () => Promise<Record<string, number>> };
  console.log(JSON.stringify(await mod.run()));
} else {
  const figures: Record<string, number> = {};
  for (const f of files) {
    const stdout = execFileSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), f.replace(/\.bench\.ts$/, ""), "--child"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      maxBuffer: 64 * 1024 * 1024,
    });
    const out = JSON.parse(stdout.trim().split("\n").pop()!) as Record<string, number>;
    Object.assign(figures, out);
    if (!json) print(out);
  }
  if (json) console.log(JSON.stringify(figures));
}
process.exit(0);
