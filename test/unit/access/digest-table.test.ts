import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DigestTable, readTag } from "../../../src/access/digest-table.js";
import { hash } from "./fixtures.js";

describe("digest table", () => {
  it("agrees with a Map under random inserts and removals (growth and backward-shift deletion)", () => {
    const digests = Array.from({ length: 300 }, (_, i) => hash(`code-${i}`));
    const op = fc.record({ insert: fc.boolean(), k: fc.integer({ min: 0, max: digests.length - 1 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const table = new DigestTable();
        const model = new Map<string, number>();
        for (const { insert, k } of ops) {
          const d = digests[k]!;
          if (insert && !model.has(d)) {
            table.insert(d, k, k * 3, k * 5, k * 7, k + 1);
            model.set(d, k);
          } else if (!insert && model.has(d)) {
            table.remove(d, model.get(d)!);
            model.delete(d);
          }
        }
        expect(table.size).toBe(model.size);
        for (const [i, d] of digests.entries()) {
          readTag(d);
          const o = table.find(d, () => true);
          if (!model.has(d)) expect(o).toBe(-1);
          else expect([table.entry(o), table.partitionMask(o), table.flags(o), table.aux(o), table.slot(o)]).toEqual([i, i * 3, i * 5, i * 7, i + 1]);
        }
      }),
      { numRuns: 150 },
    );
  });

  it("keeps two digests that share a tag apart by confirming the full digest", () => {
    const a = "AAAAAAAAAAAAAAAxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    const b = "AAAAAAAAAAAAAAAyyyyyyyyyyyyyyyyyyyyyyyyyyyy";
    const table = new DigestTable();
    table.insert(a, 0, 0, 0, 0, 10);
    table.insert(b, 1, 0, 0, 0, 11);
    const owner = [a, b];
    const confirm = (entry: number, digest: string) => owner[entry] === digest;
    readTag(b);
    expect(table.slot(table.find(b, confirm))).toBe(11);
    readTag(a);
    expect(table.slot(table.find(a, confirm))).toBe(10);
    table.remove(a, 0);
    readTag(b);
    expect(table.slot(table.find(b, confirm))).toBe(11);
    expect(table.size).toBe(1);
  });

  it("does not index text that is not a base64url digest", () => {
    const table = new DigestTable();
    expect(table.insert("not a digest!!!!!!!!", 0, 0, 0, 0, 1)).toBe(false);
    expect(readTag("short")).toBe(false);
  });
});
