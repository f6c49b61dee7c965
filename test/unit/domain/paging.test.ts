import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { listUsers, paginate, PanelTable, PAGE_SIZES, Secret, applyCommand, type Command } from "../../../src/domain/index.js";
import { testHash } from "../../helpers/hash.js";

describe("paging", () => {
  it("shows 0 of 0 for an empty list", () => {
    const p = paginate([], 1, 15);
    expect(p.range).toBe("0 of 0");
    expect(p.rows).toEqual([]);
    expect(p.pages).toBe(1);
  });

  it("defaults to 15 per page with the grid's range text", () => {
    const items = Array.from({ length: 1000 }, (_, i) => i + 1);
    expect(paginate(items).range).toBe("1-15 of 1000");
    expect(paginate(items, 67).range).toBe("991-1000 of 1000");
    expect(paginate(items, 67).rows).toHaveLength(10);
  });

  it("matches a reference model for every page size, page and length", () => {
    fc.assert(
      fc.property(fc.nat(700), fc.constantFrom(...PAGE_SIZES), fc.integer({ min: -3, max: 80 }), (len, per, page) => {
        const items = Array.from({ length: len }, (_, i) => i);
        const p = paginate(items, page, per);
        const pages = Math.max(1, Math.ceil(len / per));
        const expectedPage = Math.min(Math.max(page, 1), pages);
        const expectedRows = items.slice((expectedPage - 1) * per, expectedPage * per);
        expect(p.page).toBe(expectedPage);
        expect(p.rows).toEqual(expectedRows);
        expect(p.range).toBe(len === 0 ? "0 of 0" : `${(expectedPage - 1) * per + 1}-${(expectedPage - 1) * per + expectedRows.length} of ${len}`);
      }),
      { numRuns: 300 },
    );
  });

  it("lists the Users grid with the seed document's columns", () => {
    const t = new PanelTable({ panelId: "p", type: "DSC", codeLength: 4, timeZone: "UTC", doorLocks: [] });
    const set = { id: "1", actor: { kind: "cloud", id: "c" }, kind: "set_code", slot: 2, code: new Secret("1234") } as Command;
    const out = applyCommand(t, set, { now: 0, hash: testHash });
    if (out.ok) t.commit(out.changes);
    const page = listUsers(t);
    expect(page.range).toBe("1-15 of 1000");
    expect(page.rows[0]).toEqual({ number: 1, label: "User 1", role: "-", codeSet: false, partitions: [], account: "-", created: "-", status: "Unknown" });
    expect(page.rows[1]).toMatchObject({ number: 2, label: "User 2", role: "User", codeSet: true, account: "-", status: "Unknown" });
    expect(listUsers(t, 1, 10, true).range).toBe("1-1 of 1");
  });
});
