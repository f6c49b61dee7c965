import { AsyncLocalStorage } from "node:async_hooks";
import type { Db, QueryResult, Queryable } from "./db.js";

/**
 * One API call's writes in ONE transaction, its action-log entries with them: a change and the
 * record of who asked for it commit together or not at all. Before, the entries were written after
 * the change's own transaction, and a worker killed between the two left a change nobody had asked
 * for in the log.
 *
 * The store's code does not change: inside a unit, the database's `query` runs on the unit's
 * transaction and its `transaction(fn)` becomes a SAVEPOINT there (an inner failure rolls back only
 * what it wrote, as its own transaction did). Work that must see the commit (a dispatcher's kick,
 * a webhook delivery's) is handed to `afterCommit`; it is dropped when the unit rolls back. Timers
 * and promises started inside a unit inherit it through AsyncLocalStorage; once the unit has ended
 * they use the pool again.
 */
interface Unit {
  owner: UnitDb;
  tx: Queryable;
  open: boolean;
  after: (() => void)[];
  savepoints: number;
  /**
   * A statement failed and no savepoint was rolled back since: the transaction is aborted, and its
   * COMMIT would quietly roll back (PostgreSQL answers it with ROLLBACK, not an error) under a caller
   * that swallowed the failure. The unit throws instead.
   */
  aborted: boolean;
}

const units = new AsyncLocalStorage<Unit>();

export interface UnitDb extends Db {
  /** Runs `fn` as one unit of work (see above); inside another unit of this database, joins it. */
  unitOfWork: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** Whether the caller runs inside an open unit of work (its errors must reach the unit: a swallowed one would abort it). */
export function inUnitOfWork(): boolean {
  return units.getStore()?.open === true;
}

/** Runs `cb` once the current unit of work has committed, or now when there is none; never when it rolls back. */
export function afterCommit(cb: () => void): void {
  const unit = units.getStore();
  if (unit?.open) unit.after.push(cb);
  else cb();
}

/** `db` with units of work; everything else as `db` does it. */
export function unitAware(db: Db): UnitDb {
  const active = (): Unit | undefined => {
    const unit = units.getStore();
    return unit?.open && unit.owner === self ? unit : undefined;
  };
  const self: UnitDb = {
    kind: db.kind,
    close: () => db.close(),
    ...(db.dumpDataDir ? { dumpDataDir: db.dumpDataDir } : {}),
    query<T>(text: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
      const unit = active();
      return unit ? unit.tx.query<T>(text, params) : db.query<T>(text, params);
    },
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const unit = active();
      return unit ? savepoint(unit, fn) : db.transaction(fn);
    },
    async unitOfWork<T>(fn: () => Promise<T>): Promise<T> {
      if (active()) return fn();
      const unit: Unit = { owner: self, tx: undefined as unknown as Queryable, open: true, after: [], savepoints: 0, aborted: false };
      let out: T;
      try {
        out = await db.transaction(async (tx) => {
          unit.tx = {
            query: <R>(text: string, params?: readonly unknown[]) =>
              tx.query<R>(text, params).catch((err: unknown) => {
                unit.aborted = true;
                throw err;
              }),
          };
          const result = await units.run(unit, fn);
          if (unit.aborted) throw new Error("a statement of this call failed and its error was not passed on; nothing of the call was committed");
          return result;
        });
      } finally {
        unit.open = false;
      }
      for (const cb of unit.after) units.exit(cb);
      return out;
    },
  };
  return self;
}

async function savepoint<T>(unit: Unit, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  const name = `unit_${++unit.savepoints}`;
  await unit.tx.query(`SAVEPOINT ${name}`);
  try {
    const out = await fn(unit.tx);
    await unit.tx.query(`RELEASE SAVEPOINT ${name}`);
    return out;
  } catch (err) {
    // the unit's transaction is unusable until this runs; if it fails too, the unit stays aborted and throws
    await unit.tx
      .query(`ROLLBACK TO SAVEPOINT ${name}`)
      .then(() => (unit.aborted = false))
      .catch(() => {});
    throw err;
  }
}
