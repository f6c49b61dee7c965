import {
  applyCommand, refusalEntry, RuleError, type ApplyContext, type ChangeSet, type Command, type ErrorCode, type MetaValue, type PanelTable, type Refusal, type Slot,
} from "./domain/index.js";
import type { DomainEvent } from "./domain/index.js";
import type { Page } from "./domain/paging.js";
import type { OutboxInsert, Store, StoredOutcome } from "./store/store.js";

/** A command to apply; `seq` is the cloud's per-panel sequence number (absent for local keypad commands). */
export interface CommandItem {
  command: Command;
  seq?: number;
}

/**
 * A cloud command refused before the rules (expired, unknown kind, schema, unseal): it still
 * consumes its seq, and its refusal is its stored result (protocol/README.md section 5).
 */
export interface RefusedItem {
  id: string;
  seq: number;
  refused: RuleError;
  /** Who was refused what, for its action-log row. */
  refusal: Refusal;
}

export type ExecuteItem = CommandItem | RefusedItem;

export interface ExecuteOutcome {
  id: string;
  seq: number | undefined;
  status: "applied" | "rejected";
  outcome: StoredOutcome;
  events: DomainEvent[];
  /** What changed in the table (for the access index); empty for rejected. */
  changes: ChangeSet;
}

export interface PreRefusal {
  refusal: Refusal;
  code: ErrorCode;
}

const EMPTY_CHANGES: ChangeSet = { slots: [], meta: [] };
/** Commands that open, close or use a dealer window: the steady clock is checkpointed after them. */
const DEALER_KINDS: ReadonlySet<Command["kind"]> = new Set(["grant_dealer_access", "revoke_dealer_access", "expire_dealer_access"]);

export function touchesDealerWindow(item: ExecuteItem): boolean {
  return "command" in item && (item.command.actor.kind === "dealer" || DEALER_KINDS.has(item.command.kind));
}

/**
 * One transaction: refusals decided before any seq was consumed are logged; then each command in
 * order (each sees the ones before it) is run through the rules, its effect, dedup record and
 * action-log rows written; a rule rejection is an outcome (stored, logged), not a failure of the
 * batch. A slot changed by several commands is written once, in its final state. `outboxRows` runs
 * last, inside the transaction, for the rows (events, acks) that must commit with the commands.
 * If the transaction fails nothing is written and the in-memory table is restored.
 */
export function executeItems(
  store: Store,
  table: PanelTable,
  items: readonly ExecuteItem[],
  ctx: ApplyContext,
  refusals: readonly PreRefusal[],
  outboxRows: (outcomes: ExecuteOutcome[]) => OutboxInsert[],
): ExecuteOutcome[] {
  const committed: ChangeSet[] = [];
  const { now } = ctx;
  try {
    return store.transaction(() => {
      const { counters, applied, actionLog } = store;
      for (const r of refusals) actionLog.add(refusalEntry(now, r.refusal, r.code));
      const outcomes: ExecuteOutcome[] = [];
      let changed = false;
      const dirtySlots = new Map<number, Slot>();
      const dirtyMeta = new Map<string, MetaValue | undefined>();
      for (const item of items) {
        const { seq } = item;
        // Sequencing and dedup are the caller's decision, made once before the transaction.
        if (seq !== undefined && seq <= counters.lastSeq) throw new Error(`seq ${seq} is already consumed (last ${counters.lastSeq}); commands must be sequenced before they are executed`);
        let out: ExecuteOutcome;
        if (!("command" in item)) {
          out = { id: item.id, seq, status: "rejected", outcome: { status: "rejected", error: item.refused.toJSON() }, events: [], changes: EMPTY_CHANGES };
          actionLog.add(refusalEntry(now, item.refusal, item.refused.code));
        } else {
          const { command } = item;
          const result = applyCommand(table, command, ctx);
          if (result.ok) {
            table.commit(result.changes);
            committed.push(result.changes);
            for (const c of result.changes.slots) dirtySlots.set(c.after.number, c.after);
            for (const m of result.changes.meta) dirtyMeta.set(m.key, m.after);
            if (result.changes.slots.length > 0 || result.changes.meta.length > 0) changed = true;
            // The action log is the store's; this read is answered from it, in this transaction.
            const value = command.kind === "read_action_log" ? { page: actionLog.page(command.page, command.perPage) as unknown as Page<Record<string, unknown>> } : result.result;
            out = { id: command.id, seq, status: "applied", outcome: { status: "applied", result: value }, events: result.events, changes: result.changes };
          } else {
            out = { id: command.id, seq, status: "rejected", outcome: { status: "rejected", error: result.error.toJSON() }, events: [], changes: EMPTY_CHANGES };
          }
          for (const entry of result.log) actionLog.add(entry);
        }
        outcomes.push(out);
        if (seq !== undefined) {
          applied.record(seq, out.id, now, out.outcome);
          counters.lastSeq = seq;
        }
      }
      store.slots.write(dirtySlots, dirtyMeta);
      if (changed) counters.tableVersion++;
      store.outbox.add(outboxRows(outcomes), now);
      return outcomes;
    });
  } catch (err) {
    for (let i = committed.length - 1; i >= 0; i--) table.revert(committed[i]!);
    throw err;
  }
}
