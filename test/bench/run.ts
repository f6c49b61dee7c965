/**
 * `npm run bench` runs every test/bench/*.bench.ts (or those named: `npm run bench -- access`).
 * Each module exports `run(): Promise<Record<string, number>>`, measuring its own floor in the
 * same run. `-- --json` prints one JSON object with every figure; otherwise one line per figure.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const json = args.includes("--json");
const only = args.filter((a) => !a.startsWith("--"));

const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();

const figures: Record<string, number> = {};
for (const f of files) {
  const mod = (await import(pathToFileURL(join(here, f)).href)) as { run: () => Promise<Record<string, number>> };
  const out = await mod.run();
  Object.assign(figures, out);
  if (!json) for (const [k, v] of Object.entries(out)) console.log(`${k.padEnd(28)} ${Number.isInteger(v) ? v : v.toFixed(2)}`);
}
if (json) console.log(JSON.stringify(figures));
process.exit(0);
