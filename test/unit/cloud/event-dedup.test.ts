/**
 * The cloud client's event dedup: numbers count per epoch (a reset panel numbers from 1 again),
 * a redelivery of either epoch is dropped, events that name no epoch keep the old rule.
 */
import { describe, expect, it } from "vitest";
import { EPOCHS_REMEMBERED, isNew } from "../../../src/cloud/inbound/evt.js";

const panel = () => ({ highestN: 0, highestNByEpoch: new Map<string, number>() });

describe("event dedup by (epoch, n)", () => {
  it("takes a new epoch's numbers from 1 while the old epoch's are still known", () => {
    const p = panel();
    for (let n = 1; n <= 5; n++) expect(isNew(p, "aaaaaaaaaaaaaaaa", n)).toBe(true);
    expect(isNew(p, "aaaaaaaaaaaaaaaa", 3)).toBe(false);
    // the database made anew: its state may not have been heard yet
    expect(isNew(p, "bbbbbbbbbbbbbbbb", 1)).toBe(true);
    expect(isNew(p, "bbbbbbbbbbbbbbbb", 2)).toBe(true);
    expect(isNew(p, "bbbbbbbbbbbbbbbb", 2)).toBe(false);
    // a late redelivery of the old database's: still a duplicate; a number it never sent is new
    expect(isNew(p, "aaaaaaaaaaaaaaaa", 5)).toBe(false);
    expect(isNew(p, "aaaaaaaaaaaaaaaa", 6)).toBe(true);
  });

  it("events without an epoch (older agents) count in highestN alone", () => {
    const p = panel();
    expect([1, 2, 2, 1, 3].map((n) => isNew(p, undefined, n))).toEqual([true, true, false, false, true]);
    expect(p.highestNByEpoch.size).toBe(0);
  });

  it("remembers the most recently heard epochs only", () => {
    const p = panel();
    const epochs = Array.from({ length: EPOCHS_REMEMBERED + 2 }, (_, i) => String(i).padStart(16, "0"));
    for (const e of epochs) expect(isNew(p, e, 1)).toBe(true);
    expect(p.highestNByEpoch.size).toBe(EPOCHS_REMEMBERED);
    expect([...p.highestNByEpoch.keys()]).toEqual(epochs.slice(-EPOCHS_REMEMBERED));
    // the oldest, forgotten, is taken again (the fleet's table still dedups by (panel, epoch, n))
    expect(isNew(p, epochs[0], 1)).toBe(true);
  });
});
