import { readdirSync, readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../../src/domain/index.js";
import { ERROR_DETAIL_KEYS, errorTableMarkdown } from "../../../protocol/docs.js";
import { decodeCbor, decodeWith, envelopeSchema, EVENT_TYPES, WIRE_KINDS } from "../../../protocol/index.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

/** Every `RuleError("code", { a, b: ... })` and `fail("code", { ... })` of the agent and protocol sources: code -> literal detail keys. */
function detailKeysInCode(): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  const files = [...sources(join(root, "protocol")), ...["src/domain", "src/access", "src/sync", "src/store", "src/keypad"].flatMap((d) => sources(join(root, d))), join(root, "src/core.ts")];
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/\b(?:RuleError|fail)\(\s*"([a-z_]+)"\s*(?:,\s*\{([^}]*)\})?/g)) {
      const keys = found.get(m[1]!) ?? new Set<string>();
      found.set(m[1]!, keys);
      for (const part of (m[2] ?? "").split(",")) {
        const key = /^\s*([A-Za-z_]\w*)\s*(?::|$)/.exec(part);
        if (key && !part.trim().startsWith("...")) keys.add(key[1]!);
      }
    }
  }
  return found;
}

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

  it("documents the detail keys of every code, and every key the code writes is documented", () => {
    expect(Object.keys(ERROR_DETAIL_KEYS).sort()).toEqual([...ERROR_CODES].sort());
    const found = detailKeysInCode();
    expect(found.size).toBeGreaterThan(30); // the scan sees the rules, not nothing
    const missing: string[] = [];
    for (const [code, keys] of found) {
      expect(ERROR_CODES, `unknown code ${code} in the sources`).toContain(code);
      for (const k of keys) if (!ERROR_DETAIL_KEYS[code as keyof typeof ERROR_DETAIL_KEYS].includes(k)) missing.push(`${code}.${k}`);
    }
    expect(missing).toEqual([]);
    // details built by helpers rather than literals: the CBOR scanner's and the schema check's
    const bad = decodeCbor(Buffer.from([0xa1, 0x01, 0x02]));
    expect(!bad.ok && Object.keys(bad.error.detail!).every((k) => ERROR_DETAIL_KEYS.malformed_payload.includes(k))).toBe(true);
    const schema = decodeWith(envelopeSchema, Buffer.from([0xa1, 0x61, 0x78, 0x01]));
    expect(!schema.ok && schema.error.code === "schema_violation" && Object.keys(schema.error.detail!).every((k) => ERROR_DETAIL_KEYS.schema_violation.includes(k))).toBe(true);
  });
});
