/**
 * Builds the console into dist/console: app.js (one esbuild bundle of src/console/app), app.css
 * and index.html. `npm run build` runs it after tsc (as dist/src/console/build.js); the browser
 * tests call buildConsole() first. Each file is written beside its place and renamed over it, so
 * a server reading dist/console never serves half a file.
 */
import { readFile, mkdir, rename, writeFile } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
// src/console -> the package root; the compiled dist/src/console -> the package root too.
const packageRoot = resolve(here, here.includes(`${sep}dist${sep}`) ? "../../.." : "../..");

async function writeAtomically(path: string, content: Uint8Array | string): Promise<void> {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, content);
  await rename(tmp, path);
}

export async function buildConsole(outdir = join(packageRoot, "dist", "console")): Promise<string> {
  const app = join(packageRoot, "src", "console", "app");
  await mkdir(outdir, { recursive: true });
  const result = await build({
    entryPoints: [join(app, "main.ts")],
    outfile: join(outdir, "app.js"),
    bundle: true,
    format: "esm",
    target: "es2022",
    minify: true,
    legalComments: "none",
    logLevel: "warning",
    write: false,
  });
  for (const f of result.outputFiles) await writeAtomically(f.path, f.contents);
  await writeAtomically(join(outdir, "app.css"), await readFile(join(app, "styles.css")));
  await writeAtomically(join(outdir, "index.html"), await readFile(join(app, "index.html")));
  return outdir;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const out = await buildConsole();
  console.log(`console built into ${out}`);
}
