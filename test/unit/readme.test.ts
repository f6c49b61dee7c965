import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { errorTableMarkdown } from "../../protocol/docs.js";
import { ENV_OVERRIDES } from "../../src/config.js";
import { PANEL_TYPE_IDS } from "../../src/domain/index.js";
import { CLOUD_FAILURES, CLOUD_REFUSALS } from "../../src/cloud/index.js";
import { FAILURES } from "../../src/failures.js";

/** The README's table of the codes outside the rules, built from their tables (src/failures.ts, src/cloud/failures.ts). */
function failureTableMarkdown(): string {
  const rows = [
    ...Object.entries(FAILURES).map(([code, f]) => `| \`${code}\` | agent (exit ${f.exit === "config" ? 78 : 73}) | ${f.meaning} |`),
    ...Object.entries(CLOUD_FAILURES).map(([code, meaning]) => `| \`${code}\` | cloud client (\`CloudError\`) | ${meaning} |`),
    ...Object.entries(CLOUD_REFUSALS).map(([code, meaning]) => `| \`${code}\` | cloud client (rejected outcome, \`local\`) | ${meaning} |`),
  ];
  return ["| code | from | meaning |", "|---|---|---|", ...rows].join("\n");
}

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

  it("carries the table of the codes outside the rules, generated from FAILURES, CLOUD_FAILURES and CLOUD_REFUSALS", () => {
    const m = /<!-- failure-table:start -->\n([\s\S]*?)\n<!-- failure-table:end -->/.exec(readme);
    expect(m?.[1]).toBe(failureTableMarkdown());
  });

  it("documents every environment override and panel type", () => {
    for (const name of Object.keys(ENV_OVERRIDES)) expect(readme).toContain(name);
    for (const type of PANEL_TYPE_IDS) expect(readme).toContain(`| ${type} |`);
  });
});
