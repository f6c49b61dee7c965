import { chmodSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { IDENTITY_KEY_FILE, loadIdentityKey, type IdentityRecord } from "../../src/store/identity-key.js";
import { tempDirs } from "../helpers/tmp.js";

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

/** The database's key/value state, as PanelCore offers it. */
function record(): IdentityRecord & { values: Map<string, string> } {
  const values = new Map<string, string>();
  return { values, state: (k) => values.get(k), setState: (k, v) => void values.set(k, v) };
}

describe("the panel's identity key (src/store/identity-key.ts)", () => {
  it("is made on first start (0600) and recorded in the database; the same key comes back after", () => {
    const dir = dirs.make();
    const db = record();
    const first = loadIdentityKey(dir, db);
    expect(first.created).toBe(true);
    expect(statSync(join(dir, IDENTITY_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(db.values.get("identity_kid")).toBe(first.key.kid);
    const again = loadIdentityKey(dir, db);
    expect([again.created, again.key.kid]).toEqual([false, first.key.kid]);
  });

  it("a database from before identity keys gets one made (nothing was published under another)", () => {
    const dir = dirs.make();
    const db = record();
    db.values.set("config", "{}");
    expect(loadIdentityKey(dir, db).created).toBe(true);
  });

  it("refuses to start when the key file is missing, replaced or readable by others", () => {
    const dir = dirs.make();
    const db = record();
    const { key } = loadIdentityKey(dir, db);
    const path = join(dir, IDENTITY_KEY_FILE);
    rmSync(path);
    expect(() => loadIdentityKey(dir, db)).toThrow(new RegExp(`missing but the database was published under identity ${key.kid}`));
    writeFileSync(path, Buffer.alloc(32, 9), { mode: 0o600 });
    expect(() => loadIdentityKey(dir, db)).toThrow(/is not the one this database was published under/);
    chmodSync(path, 0o644);
    expect(() => loadIdentityKey(dir, db)).toThrow(/readable by group or others/);
  });
});
