/**
 * End-of-run checks shared by the suites: the table against the cloud's model, the in-memory
 * index against the table (by restarting in-process with PanelCore), the secrets scan.
 */
import { PanelCore } from "../../src/core.js";
import type { WireCommandInput } from "../../protocol/index.js";
import { Secret } from "../../src/domain/index.js";
import { PANEL_ID, type DbReport } from "./harness.js";

export const cloudActor = { kind: "cloud" as const, id: "ops" };

/** What the cloud has sent, in seq order, and what the table must look like once all of it applied. */
export class CloudModel {
  readonly code = new Map<number, string>();
  readonly holder = new Map<string, number>();
  readonly label = new Map<number, string>();
  /** Commands that touch each slot: its final `version`. */
  readonly touches = new Map<number, number>();
  /** Every code ever used (the secrets scan looks for all of them). */
  readonly usedCodes = new Set<string>();
  readonly commandSlot = new Map<string, number>();

  setCode(id: string, slot: number, code: string): WireCommandInput {
    const old = this.code.get(slot);
    if (old !== undefined) this.holder.delete(old);
    this.code.set(slot, code);
    this.holder.set(code, slot);
    this.usedCodes.add(code);
    this.#touch(id, slot);
    return { id, actor: cloudActor, kind: "set_code", slot, code: new Secret(code) };
  }

  setLabel(id: string, slot: number, label: string): WireCommandInput {
    if (!this.code.has(slot)) throw new Error("the model only labels slots with a code");
    this.label.set(slot, label);
    this.#touch(id, slot);
    return { id, actor: cloudActor, kind: "set_label", slot, label };
  }

  #touch(id: string, slot: number): void {
    this.touches.set(slot, (this.touches.get(slot) ?? 0) + 1);
    this.commandSlot.set(id, slot);
  }

  /** A code in 1001..9999 that nobody holds (codes are unique per panel). */
  freshCode(next: () => number): string {
    for (let i = 0; i < 10_000; i++) {
      const c = String(1001 + Math.floor(next() * 8999));
      if (!this.holder.has(c)) return c;
    }
    throw new Error("no free code");
  }
}

export function randomLabel(next: () => number): string {
  const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  const n = 1 + Math.floor(next() * 14);
  let s = "";
  for (let i = 0; i < n; i++) s += letters[Math.floor(next() * letters.length)];
  return s;
}

export interface TableCheck {
  /** Commands (by the model) with no `applied` record of status applied, or slots whose version is short. */
  missing: number;
  /** Slot versions below the model's count of commands on the slot (an applied effect went missing). */
  short: number;
  /** Extra applications: slot versions above the model's count, action-log ok rows above 1 per command. */
  duplicated: number;
  /** Label/code-set differences between the table and the model. */
  mismatches: number;
  details: string[];
}

/** The table (read from the DB) against the model: every command applied, none twice. */
export function checkTable(model: CloudModel, db: DbReport, commandIds: Iterable<string>): TableCheck {
  const out: TableCheck = { missing: 0, short: 0, duplicated: 0, mismatches: 0, details: [] };
  const note = (s: string) => out.details.length < 30 && out.details.push(s);
  for (const id of commandIds) {
    const a = db.applied.get(id);
    if (!a || a.status !== "applied") {
      out.missing++;
      note(`command ${id}: ${a ? a.status : "no applied record"}`);
    }
    const ok = db.okLogRows.get(id) ?? 0;
    if (ok > 1) {
      out.duplicated += ok - 1;
      note(`command ${id}: ${ok} ok rows in the action log`);
    }
  }
  for (const [slot, n] of model.touches) {
    const s = db.slots.get(slot);
    const v = s?.version ?? 0;
    if (v > n) {
      out.duplicated += v - n;
      note(`slot ${slot}: version ${v} > ${n} commands`);
    } else if (v < n) {
      out.short += n - v;
      note(`slot ${slot}: version ${v} < ${n} commands`);
    }
    const label = model.label.get(slot) ?? `User ${slot}`;
    if (!s || s.label !== label || s.codeSet !== model.code.has(slot)) {
      out.mismatches++;
      note(`slot ${slot}: table ${JSON.stringify(s && { label: s.label, codeSet: s.codeSet })}, model ${JSON.stringify({ label, codeSet: model.code.has(slot) })}`);
    }
  }
  return out;
}

/**
 * Restarts the panel in-process (PanelCore over the same state dir: the in-memory index is built
 * from the table) and checks that every code of the model opens its own slot and nothing else,
 * and that a few codes nobody holds are refused. Returns the number of mismatches.
 */
export function checkIndex(stateDir: string, model: CloudModel, panelId = PANEL_ID): { mismatches: number; details: string[] } {
  const core = new PanelCore({
    stateDir,
    config: { panelId, type: "DSC", codeLength: 4, timeZone: "Europe/Berlin", doorLocks: ["front"] },
    lockout: { maxAttempts: 100, panelMaxAttempts: 1000 },
    encodeEvent: () => ({ kind: "evt", body: new Uint8Array() }),
  });
  const details: string[] = [];
  let mismatches = 0;
  try {
    const at = Date.now();
    let k = 0;
    for (const [slot, code] of model.code) {
      const r = core.checkAccess({ credential: { kind: "pin", value: new Secret(code) }, point: { kind: "keypad", id: `verify-${k++}`, partitions: [1] }, action: "arm", at });
      if (!r.granted || r.slot !== slot) {
        mismatches++;
        if (details.length < 20) details.push(`slot ${slot}: ${r.granted ? `opened slot ${r.slot}` : `refused (${r.reason})`}`);
      }
    }
    let probes = 0;
    for (let c = 1001; c <= 9999 && probes < 5; c += 997) {
      if (model.holder.has(String(c))) continue;
      probes++;
      const r = core.checkAccess({ credential: { kind: "pin", value: new Secret(String(c)) }, point: { kind: "keypad", id: `probe${probes}x`, partitions: [1] }, action: "arm", at });
      if (r.granted) {
        mismatches++;
        details.push(`an unused code opened slot ${r.slot}`);
      }
    }
    const withCode = core.table.activeSlotNumbers().length;
    if (withCode !== model.code.size) {
      mismatches++;
      details.push(`table has ${withCode} slots with a code, model ${model.code.size}`);
    }
    if (core.index.size !== withCode) {
      mismatches++;
      details.push(`index holds ${core.index.size} slots, table ${withCode}`);
    }
  } finally {
    core.close();
  }
  return { mismatches, details };
}
