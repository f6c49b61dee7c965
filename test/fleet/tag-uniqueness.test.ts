/**
 * A proximity tag belongs to one user per panel, as the agent enforces it (`tag_in_use`). The fleet
 * refuses the clash before writing anything, from keyed digests of the tags' ids (the ids stay
 * encrypted): a tag another person has switched on at the panel, the same tag twice in one input,
 * and stored tags meeting a tag taken while their row was off. Left to the panel, the second
 * tag would be refused there and every snapshot of that panel after it refused whole.
 */
import { describe, expect, it } from "vitest";
import { Secret } from "../../src/domain/index.js";
import { backfillTagMacs } from "../../src/fleet/access-many.js";
import { CodeVault } from "../../src/fleet/code-vault.js";
import type { Db } from "../../src/fleet/db.js";
import { FleetError } from "../../src/fleet/errors.js";
import { FleetStore } from "../../src/fleet/store.js";
import { DATABASES, logicalDump, migratedStore } from "./databases.js";

describe.each(DATABASES)("proximity tags unique per panel on $name", (database) => {
  let db: Db;
  let store: FleetStore;
  const vault = new CodeVault(Buffer.alloc(32, 7));
  let n = 0;
  migratedStore(database, vault, (o) => ({ db, store } = o));

  const enrol = async () => (await store.enrolPanel({ id: `tags-${++n}`, type: "DSC", codeLength: 4, timeZone: "Europe/Berlin", sealKey: Buffer.alloc(32, 2), lastSeq: 0, digest: "0".repeat(64) })).id;
  const person = async (code: string) => {
    const p = await store.createPerson({ firstName: `Tag${++n}`, lastName: "Holder" });
    await store.setCode(p.id, new Secret(code));
    return p.id;
  };
  const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => (e instanceof FleetError ? { code: e.code, detail: e.detail } : e));
  const commandCount = async (panelId: string) => Number((await db.query<{ n: unknown }>("SELECT count(*) AS n FROM commands WHERE panel_id = $1", [panelId])).rows[0]!.n);
  const fob = (id: string) => ({ kind: "keypad" as const, id });

  it("refuses a tag another person has switched on at the panel, before anything is written; another panel may have it", async () => {
    const [p1, p2] = [await enrol(), await enrol()];
    const [ada, bob] = [await person("4821"), await person("5932")];
    await store.setAccess(ada, p1, { enabled: true, tags: [fob("FOB-0001")] });
    await store.setAccess(bob, p1, { enabled: true });
    const before = await commandCount(p1);
    expect(await refusal(store.setAccess(bob, p1, { enabled: true, tags: [fob("FOB-0002"), fob("FOB-0001")] }))).toEqual({ code: "tag_in_use", detail: { panelId: p1 } });
    expect(await commandCount(p1)).toBe(before);
    expect((await db.query("SELECT tags FROM person_panels WHERE person_id = $1 AND panel_id = $2", [bob, p1])).rows[0]!.tags).toEqual([]);
    // the same tag at another panel, and another tag here, are fine
    await store.setAccess(bob, p2, { enabled: true, tags: [fob("FOB-0001")] });
    await store.setAccess(bob, p1, { enabled: true, tags: [fob("FOB-0002")] });
    // the person who has it may set it again
    await store.setAccess(ada, p1, { enabled: true, tags: [fob("FOB-0001")] });
  });

  it("refuses the same tag twice in one input", async () => {
    const p = await enrol();
    const ada = await person("6043");
    expect(await refusal(store.setAccess(ada, p, { enabled: true, tags: [fob("FOB-0003"), { kind: "doorlock", id: "FOB-0003" }] }))).toEqual({ code: "tag_in_use", detail: { panelId: p } });
  });

  it("refuses to switch a person on again whose stored tag someone took while they were off", async () => {
    const p = await enrol();
    const [ada, bob] = [await person("7154"), await person("8265")];
    await store.setAccess(ada, p, { enabled: true, tags: [fob("FOB-0004")] });
    await store.setAccess(ada, p, { enabled: false });
    // a row switched off does not hold its tags at the panel
    await store.setAccess(bob, p, { enabled: true, tags: [fob("FOB-0004")] });
    expect(await refusal(store.setAccess(ada, p, { enabled: true }))).toEqual({ code: "tag_in_use", detail: { panelId: p } });
    await store.setAccess(bob, p, { enabled: true, tags: [] });
    await store.setAccess(ada, p, { enabled: true });
  });

  it("keeps only keyed digests of the tags in clear columns, and fills them in for rows from before the migration", async () => {
    const p = await enrol();
    const [ada, bob] = [await person("9376"), await person("1487")];
    await store.setAccess(ada, p, { enabled: true, tags: [fob("FOB-0005")] });
    expect(await logicalDump(db)).not.toContain("FOB-0005");
    // a row as migration 5 leaves it: tags_ct set, no digests; the start-up backfill fills them in
    await db.query("UPDATE person_panels SET tag_macs = '{}' WHERE person_id = $1 AND panel_id = $2", [ada, p]);
    expect(await refusal(store.setAccess(bob, p, { enabled: true }))).toBeUndefined();
    expect(await backfillTagMacs(vault, db)).toBeGreaterThanOrEqual(1);
    expect(await backfillTagMacs(vault, db)).toBe(0);
    expect(await refusal(store.setAccess(bob, p, { enabled: true, tags: [fob("FOB-0005")] }))).toEqual({ code: "tag_in_use", detail: { panelId: p } });
  });

  it("ends the backfill on a row whose stored tag list is empty (it has no digest to fill in)", async () => {
    const p = await enrol();
    const ada = await person("2598");
    await store.setAccess(ada, p, { enabled: true });
    await db.query("UPDATE person_panels SET tags_ct = $3, tag_macs = '{}' WHERE person_id = $1 AND panel_id = $2", [ada, p, Buffer.from(vault.encrypt("[]", `tags:${ada}:${p}`))]);
    expect(await backfillTagMacs(vault, db)).toBe(0);
  }, 10_000);
});
