import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../../src/domain/index.js";
import { errorTableMarkdown } from "../../../protocol/docs.js";
import { EVENT_TYPES, WIRE_KINDS } from "../../../protocol/index.js";

const readme = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "../../../protocol/README.md"), "utf8");

describe("protocol/README.md", () => {
  it("carries the error table generated from ERROR_SENTENCES", () => {
    const m = /<!-- error-table:start -->\n([\s\S]*?)\n<!-- error-table:end -->/.exec(readme);
    expect(m?.[1]).toBe(errorTableMarkdown());
  });

  it("lists every error code", () => {
    for (const code of ERROR_CODES) expect(readme).toContain(`| \`${code}\` |`);
  });

  it("documents every command kind and event type", () => {
    for (const kind of WIRE_KINDS) expect(readme).toContain(`| \`${kind}\` |`);
    for (const type of EVENT_TYPES) expect(readme).toContain(`| \`${type}\` |`);
  });
});
