import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { tableDigest } from "../../protocol/digest.js";
import { slotView, type PanelTable } from "../../src/domain/index.js";
import { TableDigest } from "../../src/sync/digest.js";
import { Panel, pin } from "./access/fixtures.js";

/**
 * The definition (protocol/README.md section 7.1) written out again without the agent's code: the
 * views of the users with a code in slot order, as RFC 8785 canonical JSON (keys sorted, no
 * whitespace), one array, SHA-256. As a cloud computes it from the slot views its acks carried.
 */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return "[" + v.map(canonical).join(",") + "]";
  if (v !== null && typeof v === "object") {
    return "{" + Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => JSON.stringify(k) + ":" + canonical(x)).join(",") + "}";
  }
  return JSON.stringify(v);
}

function reference(table: PanelTable): string {
  const views = table.activeSlotNumbers().map((n) => {
    const { version: _version, ...content } = slotView(table.slot(n));
    return content;
  });
  return createHash("sha256").update(canonical(views)).digest("hex");
}

describe("retained state digest", () => {
  it("kept from slot to slot equals the digest computed from scratch, whatever the changes", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("set_code" as const), slot: fc.integer({ min: 2, max: 8 }), code: fc.constantFrom("1111", "2222", "3333", "4444") }),
      fc.record({ kind: fc.constant("set_label" as const), slot: fc.integer({ min: 2, max: 8 }), label: fc.constantFrom("Anna", "Ben", "Cleaner") }),
      fc.record({ kind: fc.constant("set_partitions" as const), slot: fc.integer({ min: 2, max: 8 }), partitions: fc.constantFrom([1], [1, 2]) }),
      fc.record({ kind: fc.constant("disable_user" as const), slot: fc.integer({ min: 2, max: 8 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const p = new Panel();
        const digest = new TableDigest();
        let version = 0;
        expect(digest.of(p.table, version)).toBe(reference(p.table));
        for (const o of ops) {
          try {
            p.apply(o.kind === "set_code" ? { ...o, code: pin(o.code) } : o);
            version++;
          } catch {
            continue; // refused: nothing changed, the version stays
          }
          expect(digest.of(p.table, version)).toBe(reference(p.table));
        }
      }),
      { numRuns: 100 },
    );
  });

  it("is the SHA-256 of exactly this text for a known table (what protocol/vectors/digest.json shows)", () => {
    const p = new Panel();
    p.user(2, "1234");
    p.apply({ kind: "set_label", slot: 2, label: "Ann \"Å\"" });
    const text = canonical(p.table.activeSlotNumbers().map((n) => {
      const { version: _v, ...c } = slotView(p.table.slot(n));
      return c;
    }));
    expect(text).toBe('[{"account":null,"codeSet":true,"doorLocks":[],"label":"Ann \\"Å\\"","number":2,"partitions":[1,2,3,4,5,6,7,8],"role":"User","schedule":{"kind":"always"},"tags":[]}]');
    const digest = new TableDigest().of(p.table, 1);
    expect(digest).toBe(createHash("sha256").update(text).digest("hex"));
    // and the protocol's own function, from the views (in any order, versions included), agrees
    const views = p.table.activeSlotNumbers().map((n) => slotView(p.table.slot(n))).reverse();
    expect(tableDigest(views)).toBe(digest);
  });

  it("is not recomputed while the table version stays", () => {
    const p = new Panel();
    p.user(2, "1234");
    const digest = new TableDigest();
    const first = digest.of(p.table, 1);
    p.apply({ kind: "set_label", slot: 2, label: "Changed" });
    expect(digest.of(p.table, 1)).toBe(first);
    expect(digest.of(p.table, 2)).toBe(reference(p.table));
    expect(digest.of(p.table, 2)).not.toBe(first);
  });
});
