import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const ALLOWED_DIRS = ["src/fleet", "src/cloud", "src/domain", "protocol"];
const ALLOWED_PACKAGES = ["pg", "@electric-sql/pglite", "pino", "zod"];
/** The console's static handler, mounted by app.ts (the API contract: same origin as the API). */
const ALLOWED_FILES = ["src/console/serve.js"];

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
}

describe("the fleet's import boundary", () => {
  it("imports only protocol/, src/cloud, src/domain, its own files, node: modules and its packages (never the agent's store, access, sync or keypad)", () => {
    const wrong: string[] = [];
    for (const file of [...files(join(root, "src/fleet")), join(root, "src/bin/panel-fleet.ts")]) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(?\s*)["']([^"']+)["']/g)) {
        const spec = m[1]!;
        if (spec.startsWith("node:")) continue;
        if (spec.startsWith(".")) {
          const target = relative(root, resolve(dirname(file), spec));
          if (!ALLOWED_DIRS.some((d) => target === d || target.startsWith(`${d}/`)) && !ALLOWED_FILES.includes(target)) wrong.push(`${relative(root, file)} -> ${target}`);
        } else if (!ALLOWED_PACKAGES.includes(spec)) wrong.push(`${relative(root, file)} -> ${spec}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
