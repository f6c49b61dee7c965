import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { slotView, type PanelTable } from "../../src/domain/index.js";
import { TableDigest } from "../../src/sync/digest.js";
import { Panel, pin } from "./access/fixtures.js";

/** The definition (protocol/README.md section 7), computed from scratch. */
function reference(table: PanelTable): string {
  const hash = createHash("sha256");
  for (const n of table.activeSlotNumbers()) {
    const { version: _version, ...content } = slotView(table.slot(n));
    hash.update(JSON.stringify(content));
  }
  return hash.digest("hex");
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
