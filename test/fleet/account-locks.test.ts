/**
 * Lock order of the account writes (removeAccount, setAccountStatus) on the PostgreSQL server: the
 * panels where the account is assigned, then the account, as every access write takes panels
 * before anything it refers to. An access write holding a panel that then assigns the account (its
 * foreign key takes a key-share lock on the account's row) ran into a removal that had locked the
 * account first and waited for that panel: a deadlock, and PostgreSQL aborted one of them.
 */
import { describe, expect, it } from "vitest";
import { Secret } from "../../src/domain/index.js";
import { createAccount, removeAccount, setAccountStatus } from "../../src/fleet/accounts.js";
import { CodeVault } from "../../src/fleet/code-vault.js";
import type { Db } from "../../src/fleet/db.js";
import { FleetStore } from "../../src/fleet/store.js";
import { DATABASES, migratedStore } from "./databases.js";

const server = DATABASES.find((d) => d.name.startsWith("PostgreSQL"))!;

describe("account writes lock panels before the account (PostgreSQL 15 server)", () => {
  let db: Db;
  let store: FleetStore;
  let n = 0;
  const hooks = { accountUrl: "http://127.0.0.1:9/accounts", secret: "s" };
  migratedStore(server, new CodeVault(Buffer.alloc(32, 5)), (o) => ({ db, store } = o));

  const enrol = async () => (await store.enrolPanel({ id: `lock-${++n}`, type: "DSC", codeLength: 4, timeZone: "Europe/Berlin", sealKey: Buffer.alloc(32, 2), lastSeq: 0, digest: "0".repeat(64) })).id;
  const person = async (name: string, code: string) => {
    const p = await store.createPerson({ firstName: name, lastName: "Lock" });
    await store.setCode(p.id, new Secret(code));
    return p.id;
  };
  /** Resolves once some connection waits for a row lock. */
  const someoneWaits = async () => {
    for (let i = 0; i < 500; i++) {
      const r = await db.query<{ n: unknown }>("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'");
      if (Number(r.rows[0]!.n) > 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error("no connection waited for a lock");
  };

  /**
   * An access write holds panel 1 (as setAccessMany's first statement does) while the account write
   * starts and waits; then it switches the account's holder on at panel 2 with the account and commits. Both must succeed, and the
   * account write must see the new assignment.
   */
  async function race(accountWrite: (accountId: string) => Promise<{ commands: string[]; panels: string[] }>) {
    const [p1, p2] = [await enrol(), await enrol()];
    const holder = await person(`Holder${n}`, String(3000 + n));
    const account = await createAccount(store, { email: `lock${n}@accounts.example`, status: "Active", personId: holder });
    await store.setAccess(holder, p1, { enabled: true, accountId: account.id });
    let write: Promise<{ commands: string[]; panels: string[] }> | undefined;
    await db.transaction(async (tx) => {
      await tx.query("SELECT id FROM panels WHERE id = $1 FOR UPDATE", [p1]);
      write = accountWrite(account.id);
      write.catch(() => {});
      await someoneWaits();
      await store.setAccessMany(tx, holder, [{ panelId: p2, enabled: true, accountId: account.id }]);
    });
    return { result: await write!, p1, p2 };
  }

  it("removes an account while an access write assigns it elsewhere: no deadlock, both panels told", async () => {
    const { result, p1, p2 } = await race((id) => removeAccount(store, hooks, id));
    expect(result.panels).toEqual([p1, p2]);
    expect(result.commands).toHaveLength(2);
  });

  it("suspends an account while an access write assigns it elsewhere: no deadlock, both panels told", async () => {
    const { result, p1, p2 } = await race((id) => setAccountStatus(store, id, "Suspended"));
    expect(result.panels).toEqual([p1, p2]);
    expect(result.commands).toHaveLength(2);
  });
});
