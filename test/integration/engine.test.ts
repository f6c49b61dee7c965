import Database from "better-sqlite3";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { decodeAck, encodeBatch, encodeCbor, encodeCommand, TrustedKeys, type CommandToSend, type Outcome } from "../../protocol/index.js";
import { PanelCore } from "../../src/core.js";
import { Secret, type PanelConfig } from "../../src/domain/index.js";
import { CommandEngine } from "../../src/sync/engine.js";
import { OUTBOX_ACK, OutboxRows } from "../../src/sync/outbox-rows.js";
import { agent, keys, signer } from "../unit/protocol/helpers.js";
import { tempDirs } from "../helpers/tmp.js";

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const PANEL = "panel-e";
const config: PanelConfig = { panelId: PANEL, type: "DSC", codeLength: 4, timeZone: "Europe/Berlin", doorLocks: [] };
const actor = { kind: "cloud" as const, id: "svc" };

function rig(dir = dirs.make()) {
  const core = new PanelCore({ stateDir: dir, config, encodeEvent: (e) => ({ kind: "evt", body: encodeCbor({ type: e.type, at: e.at }), numbered: true }) });
  // Rows left bare (no identity signature) so the test reads the acks as the engine wrote them.
  const rows = new OutboxRows(PANEL, () => {});
  rows.setFinish((b) => b);
  const engine = new CommandEngine({ panelId: PANEL, core, trustedKeys: new TrustedKeys([signer.publicRaw]), sealingKey: agent, maxPayloadBytes: 256 * 1024, rows });
  /** The outcomes of the last ack in the outbox. */
  const lastAck = (): Outcome[] => {
    const rows = core.outboxPeek(10_000).filter((r) => r.kind === OUTBOX_ACK);
    const d = decodeAck(rows[rows.length - 1]!.body);
    if (!d.ok) throw new Error(d.error.code);
    return d.value.t === "ack" ? [d.value.ack] : d.value.acks;
  };
  return { core, engine, lastAck, dir };
}

const later = () => Date.now() + 60_000;
let n = 0;
function item(seq: number, command: Record<string, unknown>, expiresAt = later()): CommandToSend {
  return { seq, expiresAt, command: { id: `c-${++n}`, actor, ...command } as CommandToSend["command"] };
}

describe("command engine sequencing (real SQLite file)", () => {
  it("lets a command refused before the rules consume its seq, so the rest of the batch still applies", () => {
    const r = rig();
    const items = [
      item(1, { kind: "set_code", slot: 2, code: new Secret("2580") }),
      item(2, { kind: "set_label", slot: 2, label: "Expired" }, Date.now() - 1),
      item(3, { kind: "set_label", slot: 2, label: "Anna" }),
    ];
    r.engine.process(encodeBatch(PANEL, "b-1", items, keys));
    const acks = r.lastAck();
    expect(acks.map((a) => [a.seq, a.ok, a.ok ? undefined : a.error.code])).toEqual([[1, true, undefined], [2, false, "command_expired"], [3, true, undefined]]);
    expect(r.core.lastSeq).toBe(3);
    expect(r.core.table.slot(2).label).toBe("Anna");
    expect(r.core.actionLog(1, 50).rows.map((e) => e.result)).toEqual(["ok", "command_expired", "ok"]);
    r.core.close();
  });

  it("answers a redelivered batch with the stored outcomes, dup, and applies and logs nothing again", () => {
    const r = rig();
    const batch = encodeBatch(PANEL, "b-2", [
      item(1, { kind: "set_code", slot: 2, code: new Secret("2580") }),
      item(2, { kind: "set_label", slot: 2, label: "Gone" }, Date.now() - 1),
      item(3, { kind: "set_label", slot: 9, label: "Nobody" }),
    ], keys);
    r.engine.process(batch);
    const first = r.lastAck();
    const version = r.core.tableVersion;
    const logged = r.core.actionLog().total;
    r.engine.process(batch);
    const again = r.lastAck();
    expect(again.map((a) => ({ ...a, dup: undefined }))).toEqual(first.map((a) => ({ ...a, dup: undefined })));
    expect(again.every((a) => a.dup === true)).toBe(true);
    expect(r.core.tableVersion).toBe(version);
    expect(r.core.actionLog().total).toBe(logged);
    r.core.close();
  });

  it("refuses a used seq carried by another command id as replayed, and logs the attempt", () => {
    const r = rig();
    r.engine.process(encodeCommand(PANEL, item(1, { kind: "set_code", slot: 2, code: new Secret("2580") }), keys));
    const other = item(1, { kind: "set_label", slot: 2, label: "Sneaky" });
    r.engine.process(encodeCommand(PANEL, other, keys));
    expect(r.lastAck()[0]).toMatchObject({ ok: false, id: other.command.id, error: { code: "replayed" } });
    expect(r.core.table.slot(2).label).not.toBe("Sneaky");
    expect(r.core.actionLog(1, 10).rows[0]).toMatchObject({ commandId: other.command.id, result: "replayed" });
    r.core.close();
  });

  it("stores a slot changed several times in one batch in its final state, and the code index follows", () => {
    const dir = dirs.make();
    const r = rig(dir);
    r.engine.process(encodeBatch(PANEL, "b-3", [
      item(1, { kind: "set_code", slot: 2, code: new Secret("1111") }),
      item(2, { kind: "set_label", slot: 2, label: "First" }),
      item(3, { kind: "set_code", slot: 2, code: new Secret("2222") }),
      item(4, { kind: "set_code", slot: 3, code: new Secret("1111") }),
      item(5, { kind: "set_label", slot: 2, label: "Last" }),
    ], keys));
    expect(r.lastAck().every((a) => a.ok)).toBe(true);
    const h = r.core.hash;
    const view = (core: PanelCore) => [core.table.slot(2).label, core.table.slotByCodeDigest(h(new Secret("1111"))), core.table.slotByCodeDigest(h(new Secret("2222")))];
    expect(view(r.core)).toEqual(["Last", 3, 2]);
    r.core.close();
    const again = rig(dir);
    expect(view(again.core)).toEqual(["Last", 3, 2]);
    expect(again.core.lastSeq).toBe(5);
    again.core.close();
  });

  it("keeps the dedup records of a schema-1 database across the migration to seq keys", () => {
    const dir = dirs.make();
    const r = rig(dir);
    const cmd = item(1, { kind: "set_code", slot: 2, code: new Secret("2580") });
    r.engine.process(encodeCommand(PANEL, cmd, keys));
    r.core.close();
    // Rebuild the schema-1 dedup table (keyed by command id) from what the agent wrote.
    const db = new Database(join(dir, "panel-agent.db"));
    const rows = db.prepare("SELECT seq, command_id, at, outcome FROM applied").all() as { seq: number; command_id: string; at: number; outcome: string }[];
    db.exec("DROP TABLE applied; CREATE TABLE applied (command_id TEXT PRIMARY KEY, seq INTEGER, at INTEGER NOT NULL, outcome TEXT NOT NULL) STRICT, WITHOUT ROWID;");
    const insert = db.prepare("INSERT INTO applied (command_id, seq, at, outcome) VALUES (?, ?, ?, ?)");
    for (const row of rows) insert.run(row.command_id, row.seq, row.at, row.outcome);
    insert.run("local:kp:1", null, Date.now(), JSON.stringify({ status: "applied", result: {} }));
    db.pragma("user_version = 1");
    db.close();

    const again = rig(dir);
    again.engine.process(encodeCommand(PANEL, cmd, keys));
    expect(again.lastAck()[0]).toMatchObject({ ok: true, seq: 1, dup: true });
    expect(again.core.storedOutcome(1)?.id).toBe(cmd.command.id);
    again.core.close();
  });
});
