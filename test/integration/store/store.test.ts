import Database from "better-sqlite3";
import fc from "fast-check";
import { chmodSync, readFileSync, readdirSync, writeFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Secret, type Command, type PanelConfig } from "../../../src/domain/index.js";
import { PanelCore, type ExecuteItem } from "../../../src/core.js";
import { DeviceKeyError } from "../../../src/store/device-key.js";
import { StoreError, type OutboxInsert } from "../../../src/store/store.js";
import { tempDirs } from "../../helpers/tmp.js";

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const config: PanelConfig = { panelId: "panel-1", type: "DSC", codeLength: 6, timeZone: "Europe/Berlin", doorLocks: ["front"] };
const cloud = { kind: "cloud" as const, id: "svc" };
const NOW = Date.UTC(2026, 10, 25, 9, 0, 0);

/**
 * The durable state through the core, its one unit of work: the store itself is repositories and
 * a transaction, and decides nothing. `clock.now` is the time every commit sees.
 */
const clock = { now: NOW };
const encodeEvent = (e: unknown): OutboxInsert => ({ kind: "evt", body: Buffer.from(JSON.stringify(e)), numbered: true });

function open(dir: string, cfg = config): PanelCore {
  clock.now = NOW;
  return new PanelCore({ stateDir: dir, config: cfg, encodeEvent, now: () => clock.now });
}

function execute(core: PanelCore, items: ExecuteItem[], at: number, extra?: Parameters<PanelCore["execute"]>[1]) {
  clock.now = at;
  return core.execute(items, extra);
}

let n = 0;
function cmd(input: Record<string, unknown>, id = `cmd-${++n}`): Command {
  return { id, actor: cloud, ...input } as Command;
}

const CODES = ["482193", "730516", "918274"];

function seed(store: PanelCore): void {
  const items: ExecuteItem[] = CODES.map((c, i) => ({ command: cmd({ kind: "set_code", slot: i + 2, code: new Secret(c) }), seq: i + 1 }));
  items.push({ command: cmd({ kind: "set_label", slot: 2, label: "Anna" }), seq: 4 });
  items.push({ command: cmd({ kind: "set_partitions", slot: 3, partitions: [1, 2] }), seq: 5 });
  items.push({ command: cmd({ kind: "set_label", slot: 9, label: "Nobody" }), seq: 6 }); // rejected: code_required
  execute(store, items, NOW);
}

describe("store", () => {
  it("runs SQLite in WAL mode with synchronous=FULL", () => {
    const dir = dirs.make();
    const store = open(dir);
    store.close();
    const db = new Database(join(dir, "panel-agent.db"));
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
  });

  it("keeps the table, sequence and action log identical across close and reopen", () => {
    const dir = dirs.make();
    const a = open(dir);
    seed(a);
    const slotsBefore = JSON.stringify([...a.table.storedSlots()].sort((x, y) => x.number - y.number));
    const logBefore = a.actionLog(1, 50);
    expect(a.lastSeq).toBe(6);
    a.close();
    const b = open(dir);
    expect(JSON.stringify([...b.table.storedSlots()].sort((x, y) => x.number - y.number))).toBe(slotsBefore);
    expect(b.actionLog(1, 50)).toEqual(logBefore);
    expect(b.lastSeq).toBe(6);
    expect(b.tableVersion).toBe(a.tableVersion);
    expect(b.table.slotByCodeDigest(b.hash("482193"))).toBe(2);
    b.close();
  });

  it("records rejected attempts in the action log with their code", () => {
    const store = open(dirs.make());
    seed(store);
    const log = store.actionLog(1, 50);
    expect(log.rows[0]).toMatchObject({ action: "set_label", slot: 9, result: "code_required" });
    expect(log.rows.filter((r) => r.result === "ok")).toHaveLength(5);
    store.close();
  });

  it("keeps each consumed seq's command id and outcome; executing a consumed seq again is refused and changes nothing", () => {
    const store = open(dirs.make());
    const c = cmd({ kind: "set_code", slot: 2, code: new Secret("111111") }, "same-id");
    const [first] = execute(store, [{ command: c, seq: 1 }], NOW);
    expect(first!.status).toBe("applied");
    // Redelivery is decided by the caller from this record (the engine), once, before executing.
    expect(store.storedOutcome(1)).toEqual({ id: "same-id", outcome: first!.outcome });
    expect(() => execute(store, [{ command: c, seq: 1 }], NOW + 1)).toThrow(/already consumed/);
    expect(store.table.slot(2).version).toBe(1);
    expect(store.actionLog().total).toBe(1);
    expect(store.lastSeq).toBe(1);
    store.close();
  });

  it("writes nothing and restores the in-memory table when the transaction fails", () => {
    const store = open(dirs.make());
    seed(store);
    const before = JSON.stringify([...store.table.storedSlots()]);
    const version = store.tableVersion;
    expect(() =>
      execute(store, [{ command: cmd({ kind: "set_code", slot: 7, code: new Secret("555555") }), seq: 7 }], NOW, () => {
        throw new Error("disk full");
      }),
    ).toThrow("disk full");
    expect(JSON.stringify([...store.table.storedSlots()])).toBe(before);
    expect(store.lastSeq).toBe(6);
    expect(store.tableVersion).toBe(version);
    expect(store.storedOutcome(7)).toBeUndefined();
    store.close();
  });

  it("commits outbox rows with the batch and deletes them by id", () => {
    const store = open(dirs.make());
    execute(store, [{ command: cmd({ kind: "set_code", slot: 2, code: new Secret("222222") }), seq: 1 }], NOW, (outs) =>
      outs.map((o) => ({ kind: "ack", body: Buffer.from(o.id) })),
    );
    const rows = store.outboxPeek(10);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.kind).toBe("ack");
    store.outboxDelete(rows.map((r) => r.id));
    expect(store.outboxCount()).toBe(0);
    store.close();
  });

  it("deletes acknowledged outbox rows in a commit of their own and keeps synchronous=FULL for every other commit", () => {
    const dir = dirs.make();
    const store = open(dir);
    const ack = (outs: { id: string }[]) => outs.map((o) => ({ kind: "ack", body: Buffer.from(o.id) }));
    execute(store, [{ command: cmd({ kind: "set_code", slot: 2, code: new Secret("222222") }), seq: 1 }], NOW, ack);
    execute(store, [{ command: cmd({ kind: "set_label", slot: 2, label: "Anna" }), seq: 2 }], NOW, ack);
    const rows = store.outboxPeek(10);
    expect(rows).toHaveLength(2);
    store.outboxDelete([rows[0]!.id]);
    // the watchdog's check says whether the connection is back at FULL
    expect(store.healthProblem()).toBeUndefined();
    execute(store, [{ command: cmd({ kind: "set_label", slot: 2, label: "Berta" }), seq: 3 }], NOW, ack);
    expect(store.healthProblem()).toBeUndefined();
    store.close();
    const again = open(dir);
    expect(again.outboxPeek(10).map((r) => r.id)).toEqual([rows[1]!.id, rows[1]!.id + 1]);
    expect(again.lastSeq).toBe(3);
    again.close();
  });

  it("hands out committed outbox rows from memory exactly as SQL would, across publishes, deletes and reconnects", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant("enqueue" as const), rows: fc.integer({ min: 1, max: 4 }) }),
            fc.record({ op: fc.constant("flush" as const), limit: fc.integer({ min: 1, max: 5 }) }),
            fc.record({ op: fc.constant("ack" as const) }),
            fc.record({ op: fc.constant("reconnect" as const) }),
            fc.record({ op: fc.constant("reopen" as const) }),
            // a transaction that inserts rows and then fails: rolled back, its ids used again
            fc.record({ op: fc.constant("fail" as const), rows: fc.integer({ min: 1, max: 3 }) }),
          ),
          { maxLength: 40 },
        ),
        (ops) => {
          const dir = dirs.make();
          let store = open(dir);
          const sql = new Database(join(dir, "panel-agent.db"), { readonly: true });
          const expected = sql.prepare<[number, number], { id: number }>("SELECT id FROM outbox WHERE id > ? ORDER BY id LIMIT ?");
          // The link's view: highest id handed out, and ids handed out but not yet deleted.
          let sentUpTo = 0;
          let handedOut: number[] = [];
          try {
            for (const o of ops) {
              if (o.op === "enqueue") store.enqueue(Array.from({ length: o.rows }, (_, i) => ({ kind: "evt", body: Buffer.from([i]), numbered: true })), {}, NOW);
              else if (o.op === "fail") {
                const rows = [...Array.from({ length: o.rows }, (_, i) => ({ kind: "evt", body: Buffer.from([i]) })), { kind: "evt", body: undefined as unknown as Buffer }];
                expect(() => store.enqueue(rows, {}, NOW)).toThrow();
              }
              else if (o.op === "flush") {
                const got = store.outboxPeek(o.limit, sentUpTo).map((r) => r.id);
                expect(got).toEqual(expected.all(sentUpTo, o.limit).map((r) => r.id));
                if (got.length > 0) sentUpTo = got[got.length - 1]!;
                handedOut.push(...got);
              } else if (o.op === "ack") {
                store.outboxDelete(handedOut);
                handedOut = [];
              } else {
                if (o.op === "reopen") {
                  store.close();
                  store = open(dir);
                }
                sentUpTo = 0;
                handedOut = [];
              }
            }
            expect(store.outboxPeek(1000, sentUpTo).map((r) => r.id)).toEqual(expected.all(sentUpTo, 1000).map((r) => r.id));
          } finally {
            sql.close();
            store.close();
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("never hands out an outbox or action-log id twice, across deletes and restarts, and writes no sqlite_sequence page", () => {
    const dir = dirs.make();
    let store = open(dir);
    execute(store, [{ command: cmd({ kind: "set_code", slot: 2, code: new Secret("222222") }), seq: 1 }], NOW, (outs) => outs.map((o) => ({ kind: "ack", body: Buffer.from(o.id) })));
    const first = store.outboxPeek(10).map((r) => r.id);
    store.outboxDelete(first);
    store.prune({ actionLogMaxAgeMs: 0, actionLogMaxRows: 0, appliedMaxAgeMs: 1e12 });
    store.close();
    store = open(dir);
    execute(store, [{ command: cmd({ kind: "set_label", slot: 2, label: "Again" }), seq: 2 }], NOW + 1, (outs) => outs.map((o) => ({ kind: "ack", body: Buffer.from(o.id) })));
    const second = store.outboxPeek(10).map((r) => r.id);
    expect(Math.min(...second)).toBeGreaterThan(Math.max(...first));
    expect(store.actionLog().rows[0]!.id).toBeGreaterThan(1);
    store.close();
    const db = new Database(join(dir, "panel-agent.db"), { readonly: true });
    const seqRows = db.prepare("SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'").all() as { name: string }[];
    const used = seqRows.length > 0 ? (db.prepare("SELECT COUNT(*) AS n FROM sqlite_sequence").get() as { n: number }).n : 0;
    db.close();
    expect(used).toBe(0);
  });

  it("migrates a database written with AUTOINCREMENT ids: the next ids continue past every id it ever used", () => {
    const dir = dirs.make();
    const store = open(dir);
    store.close();
    // The shape schema version 2 left: AUTOINCREMENT tables whose sequence ran past rows since deleted.
    const db = new Database(join(dir, "panel-agent.db"));
    db.exec(`
      DROP TABLE outbox; DROP TABLE action_log;
      CREATE TABLE action_log (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, slot INTEGER, before TEXT, after TEXT, command_id TEXT NOT NULL, result TEXT NOT NULL) STRICT;
      CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, n INTEGER, body BLOB NOT NULL, at INTEGER NOT NULL) STRICT;
      INSERT INTO action_log (id, at, actor, action, slot, before, after, command_id, result) VALUES (40, 1, '{"kind":"cloud","id":"svc"}', 'set_label', 2, NULL, NULL, 'old', 'ok');
      INSERT INTO outbox (id, kind, n, body, at) VALUES (70, 'evt', 5, x'a0', 1);
      UPDATE sqlite_sequence SET seq = 57 WHERE name = 'action_log';
      UPDATE sqlite_sequence SET seq = 90 WHERE name = 'outbox';
      DELETE FROM agent_state WHERE key IN ('log_id_last', 'outbox_id_last');
    `);
    db.pragma("user_version = 2");
    db.close();
    const again = open(dir);
    expect(again.actionLog().rows.map((r) => r.id)).toEqual([40]);
    expect(again.outboxPeek(10).map((r) => r.id)).toEqual([70]);
    execute(again, [{ command: cmd({ kind: "set_code", slot: 3, code: new Secret("333333") }), seq: 1 }], NOW, (outs) => outs.map((o) => ({ kind: "ack", body: Buffer.from(o.id) })));
    expect(again.actionLog().rows[0]!.id).toBe(58);
    expect(again.outboxPeek(10).map((r) => r.id)).toEqual([70, 91]);
    again.close();
  });

  it("changes slots loaded with shared values (no locks, no tags, always, the same partitions) without touching the others", () => {
    const dir = dirs.make();
    const a = open(dir);
    seed(a);
    a.close();
    const b = open(dir);
    const before4 = JSON.stringify(b.table.slot(4));
    const out = execute(b, [
      { command: cmd({ kind: "set_partitions", slot: 2, partitions: [1] }), seq: 7 },
      { command: cmd({ kind: "set_door_locks", slot: 2, doorLocks: ["front"] }), seq: 8 },
      { command: cmd({ kind: "set_proximity_tags", slot: 2, tags: [{ kind: "keypad", tag: new Secret("TAG-1") }] }), seq: 9 },
      { command: cmd({ kind: "set_schedule", slot: 2, schedule: { kind: "temporary", from: NOW, to: NOW + 3_600_000 } }), seq: 10 },
    ], NOW);
    expect(out.map((o) => o.status)).toEqual(["applied", "applied", "applied", "applied"]);
    expect(b.table.slot(2)).toMatchObject({ partitions: [1], doorLocks: ["front"], schedule: { kind: "temporary" } });
    expect(b.table.slot(2).tags).toHaveLength(1);
    expect(JSON.stringify(b.table.slot(4))).toBe(before4);
    b.close();
  });

  it("never stores a code in plaintext: the database and WAL files hold none of the codes set", () => {
    const dir = dirs.make();
    const store = open(dir);
    seed(store);
    for (const f of readdirSync(dir)) {
      const bytes = readFileSync(join(dir, f)).toString("latin1");
      for (const c of CODES) expect(bytes.includes(c), `${c} in ${f}`).toBe(false);
    }
    const log = JSON.stringify(store.actionLog(1, 200));
    for (const c of CODES) expect(log).not.toContain(c);
    store.close();
    for (const f of readdirSync(dir)) {
      const bytes = readFileSync(join(dir, f)).toString("latin1");
      for (const c of CODES) expect(bytes.includes(c), `${c} in ${f}`).toBe(false);
    }
  });

  describe("device key", () => {
    it("is created once with mode 0600 and reused", () => {
      const dir = dirs.make();
      open(dir).close();
      const key = readFileSync(join(dir, "device.key"));
      expect(key).toHaveLength(32);
      expect(readdirSync(dir)).toContain("device.key");
      open(dir).close();
      expect(readFileSync(join(dir, "device.key"))).toEqual(key);
    });

    it("refuses to start when the key is missing next to an existing database", () => {
      const dir = dirs.make();
      const s = open(dir);
      seed(s);
      s.close();
      unlinkSync(join(dir, "device.key"));
      expect(() => open(dir)).toThrow(DeviceKeyError);
      expect(() => open(dir)).toThrow(expect.objectContaining({ code: "device_key_missing", exit: "state" }));
    });

    it("refuses a damaged key file", () => {
      const dir = dirs.make();
      open(dir).close();
      writeFileSync(join(dir, "device.key"), Buffer.alloc(12), { mode: 0o600 });
      expect(() => open(dir)).toThrow(/damaged/);
    });

    it("refuses a different key than the database was written with", () => {
      const dir = dirs.make();
      open(dir).close();
      writeFileSync(join(dir, "device.key"), Buffer.alloc(32, 1), { mode: 0o600 });
      expect(() => open(dir)).toThrow(/does not match/);
      expect(() => open(dir)).toThrow(expect.objectContaining({ code: "device_key_mismatch" }));
    });

    it("refuses a key file readable by others", () => {
      const dir = dirs.make();
      open(dir).close();
      chmodSync(join(dir, "device.key"), 0o644);
      expect(() => open(dir)).toThrow(/0600/);
    });
  });

  it("refuses a configuration that contradicts the stored table", () => {
    const dir = dirs.make();
    const s = open(dir);
    seed(s);
    s.close();
    expect(() => open(dir, { ...config, codeLength: 4 })).toThrow(StoreError);
    expect(() => open(dir, { ...config, codeLength: 4 })).toThrow(expect.objectContaining({ code: "store_config_mismatch", exit: "state" }));
  });

  it("prunes the action log and old dedup records by retention", () => {
    const store = open(dirs.make());
    seed(store);
    const later = NOW + 40 * 24 * 3600_000;
    execute(store, [{ command: cmd({ kind: "set_label", slot: 2, label: "Later" }), seq: 7 }], later);
    const removed = store.prune({ actionLogMaxAgeMs: 10 * 24 * 3600_000, actionLogMaxRows: 1000, appliedMaxAgeMs: 10 * 24 * 3600_000 });
    expect(removed.actionLog).toBe(6);
    expect(removed.applied).toBe(6);
    expect(store.actionLog().total).toBe(1);
    const capped = store.prune({ actionLogMaxAgeMs: 1e12, actionLogMaxRows: 0, appliedMaxAgeMs: 1e12 });
    expect(capped.actionLog).toBe(1);
    store.close();
  });

  it("pages the action log newest first with the grid's range text", () => {
    const store = open(dirs.make());
    const items: ExecuteItem[] = [];
    for (let i = 0; i < 23; i++) items.push({ command: cmd({ kind: "set_code", slot: i + 2, code: new Secret(String(100000 + i)) }), seq: i + 1 });
    execute(store, items, NOW);
    const p1 = store.actionLog(1, 10);
    expect(p1.range).toBe("1-10 of 23");
    expect(p1.rows[0]!.slot).toBe(24);
    const p3 = store.actionLog(3, 10);
    expect(p3.range).toBe("21-23 of 23");
    expect(p3.rows).toHaveLength(3);
    expect(store.actionLog(99, 10).page).toBe(3);
    store.close();
  });
});
