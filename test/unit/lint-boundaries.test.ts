/**
 * The lint config enforces every boundary the README draws: a forbidden import fails lint, the
 * allowed neighbour of it passes. Linted through ESLint's API against eslint.config.js, as
 * `npm run check` does, on source text placed at a path inside each layer.
 */
import { fileURLToPath } from "node:url";
import { ESLint } from "eslint";
import tseslint from "typescript-eslint";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
// The snippets are placed at paths no tsconfig holds: lint them without type information (the
// boundary rules need none).
const eslint = new ESLint({ cwd: root, overrideConfig: [tseslint.configs.disableTypeChecked] });

async function restricted(filePath: string, specifier: string): Promise<string[]> {
  const [result] = await eslint.lintText(`import * as m from "${specifier}";\nexport const used = m;\n`, { filePath });
  return result!.messages.filter((m) => m.ruleId === "no-restricted-imports").map((m) => m.message);
}

const cases: [layer: string, file: string, forbidden: string[], allowed: string[]][] = [
  ["protocol/", "protocol/x.ts", ["../src/store/store.js", "../src/sync/link.js", "../src/domain/apply.js", "../src/cloud/index.js"], ["../src/domain/index.js", "./schema.js", "zod"]],
  ["protocol/vectors/", "protocol/vectors/x.ts", ["../../src/access/index.js"], ["../../src/domain/index.js", "../envelope.js"]],
  ["emulator/", "emulator/x.ts", ["../src/keypad/protocol.js", "../src/domain/index.js"], ["./client.js", "node:net"]],
  ["the cloud client", "src/cloud/x.ts", ["../store/store.js", "../access/index.js", "../sync/engine.js", "../keypad/protocol.js"], ["../../protocol/index.js", "../domain/index.js", "./seq-store.js"]],
  ["panel-fleet", "src/fleet/http/x.ts", ["../../store/store.js", "../../sync/digest.js"], ["../store.js", "../../cloud/index.js"]],
  ["panelctl", "src/bin/panelctl.ts", ["../store/device-key.js", "../keypad/session.js"], ["../cloud/index.js", "../mqtt-log.js"]],
  ["panelctl's commands", "src/cli/panelctl/x.ts", ["../../access/schedule.js"], ["../../cloud/index.js"]],
  ["the pure domain", "src/domain/x.ts", ["../store/store.js", "../sync/link.js", "../core.js", "../cloud/index.js", "node:fs", "better-sqlite3"], ["./model.js", "zod"]],
  ["the pure access layer", "src/access/x.ts", ["../keypad/server.js", "../housekeeping.js", "mqtt"], ["../domain/model.js", "node:crypto"]],
];

describe("eslint.config.js boundaries", () => {
  it.each(cases)("%s: forbidden imports fail, allowed ones pass", async (_layer, file, forbidden, allowed) => {
    for (const spec of forbidden) expect(await restricted(file, spec), `${file} importing ${spec}`).toHaveLength(1);
    for (const spec of allowed) expect(await restricted(file, spec), `${file} importing ${spec}`).toEqual([]);
  }, 60_000);

  it("the agent's shells may import the pure layers and the store (the rules are scoped, not global)", async () => {
    expect(await restricted("src/sync/x.ts", "../store/store.js")).toEqual([]);
    expect(await restricted("src/core.ts", "./access/index.js")).toEqual([]);
  }, 60_000);
});
