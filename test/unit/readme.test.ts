import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { errorTableMarkdown } from "../../protocol/docs.js";
import { ENV_OVERRIDES } from "../../src/config.js";
import { PANEL_TYPE_IDS } from "../../src/domain/index.js";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

describe("README.md", () => {
  it("starts with the set-up: npm ci, npm start, npm test", () => {
    const setup = readme.slice(readme.indexOf("## Set-up"), readme.indexOf("## Quick start"));
    expect(setup).toContain("npm ci");
    expect(setup).toContain("npm start");
    expect(setup).toContain("npm test");
  });

  it("carries the error table generated from ERROR_SENTENCES", () => {
    const m = /<!-- error-table:start -->\n([\s\S]*?)\n<!-- error-table:end -->/.exec(readme);
    expect(m?.[1]).toBe(errorTableMarkdown());
  });

  it("documents every environment override and panel type", () => {
    for (const name of Object.keys(ENV_OVERRIDES)) expect(readme).toContain(name);
    for (const type of PANEL_TYPE_IDS) expect(readme).toContain(`| ${type} |`);
  });
});
