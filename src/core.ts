import { accessAnswer, accessRecord, AccessIndex, createCredentialHasher, type AccessEvent, type AccessRecord, type AccessRequest, type LockoutPolicy, type LockoutSnapshot } from "./access/index.js";
import type { Secret, Actor, Command, DomainEvent, PanelConfig, PanelTable, CredentialHasher, ErrorCode, Refusal } from "./domain/index.js";
import { keypadProgrammingRefusal, makeCommand, refusalEntry } from "./domain/index.js";
import type { PageSize } from "./domain/paging.js";
import type { AccessAnswer, Credential, KeypadAction, KeypadBackend, KeypadIdentity, PartitionStatus, ProgramAnswer, ProgramOp } from "./keypad/backend.js";
import { openPanel } from "./open-panel.js";
import { SteadyClock, type SteadyCheckpoint, type SteadyClockSources } from "./store/steady-clock.js";
import type { OutboxInsert, OutboxRow, RetentionPolicy, Store, StoredLogEntry, StoredOutcome } from "./store/store.js";
import { executeItems, touchesDealerWindow, type ExecuteItem, type ExecuteOutcome, type PreRefusal } from "./unit-of-work.js";

export type { CommandItem, ExecuteItem, ExecuteOutcome, PreRefusal, RefusedItem } from "./unit-of-work.js";

/** Everything the agent publishes as an event: rule events, access checks, duress, lockout. */
export type AgentEvent = DomainEvent | AccessRecord | AccessEvent;

export interface CoreOptions {
  stateDir: string;
  config: PanelConfig;
  lockout?: Partial<LockoutPolicy>;
  /** Turns an event into the outbox row that will be published (the wire encoding lives in protocol/). */
  encodeEvent: (event: AgentEvent) => OutboxInsert;
  /** Called after rows were added to the outbox, so the link can publish them. */
  onOutbox?: () => void;
  now?: () => number;
  steadySources?: SteadyClockSources;
}

const LOCKOUT_STATE = "lockout";
const PARTITION_STATE = "partitions";
const STEADY_STATE = "steady_clock";

type ArmState = PartitionStatus["state"];

/**
 * The agent's heart, without any network, and its one unit of work: every change of the durable
 * state (commands, refusals, access records, outbox rows) is decided here and written in one store
 * transaction, and the access index follows the commit. The MQTT link, the keypad socket and
 * housekeeping are shells that call it; none of them reaches the store.
 */
export class PanelCore implements KeypadBackend {
  readonly index: AccessIndex;
  readonly steady: SteadyClock;
  readonly table: PanelTable;
  readonly hash: CredentialHasher;
  /** 16 hex digits made when this database was created; a new one means the table was lost. */
  readonly epoch: string;
  readonly #store: Store;
  readonly #encodeEvent: CoreOptions["encodeEvent"];
  /** Called after rows were added to the outbox (the link sets it to publish them). */
  onOutbox: () => void;
  readonly #now: () => number;
  readonly #partitions = new Map<number, ArmState>();

  constructor(options: CoreOptions) {
    this.#now = options.now ?? Date.now;
    this.#encodeEvent = options.encodeEvent;
    this.onOutbox = options.onOutbox ?? (() => {});
    const opened = openPanel(options.stateDir, options.config, createCredentialHasher);
    this.#store = opened.store;
    this.table = opened.table;
    this.hash = opened.hash;
    this.epoch = opened.epoch;
    const lockoutState = this.state(LOCKOUT_STATE);
    this.index = new AccessIndex(this.table, {
      hash: this.hash,
      lockoutPolicy: options.lockout,
      lockoutState: lockoutState ? (JSON.parse(lockoutState) as LockoutSnapshot) : undefined,
    });
    const cp = this.state(STEADY_STATE);
    this.steady = new SteadyClock(cp ? (JSON.parse(cp) as SteadyCheckpoint) : undefined, options.steadySources);
    this.checkpointSteadyClock();
    const parts = this.state(PARTITION_STATE);
    if (parts) for (const [p, s] of JSON.parse(parts) as [number, ArmState][]) this.#partitions.set(p, s);
  }

  get now(): number {
    return this.#now();
  }

  /** The last cloud seq consumed (0 = none yet). */
  get lastSeq(): number {
    return this.#store.counters.lastSeq;
  }

  /** Bumped by every transaction that changed the table. */
  get tableVersion(): number {
    return this.#store.counters.tableVersion;
  }

  /** The command that consumed `seq` and its stored outcome (one lookup decides a redelivery). */
  storedOutcome(seq: number): { id: string; outcome: StoredOutcome } | undefined {
    return this.#store.applied.get(seq);
  }

  /** Agent state outside the user table (lockout counters, dealer window, ...), as JSON text. */
  state(key: string): string | undefined {
    return this.#store.state.get(key);
  }

  /** Writes one agent-state value, committed alone. */
  setState(key: string, value: string): void {
    this.#store.state.set(key, value);
  }

  actionLog(page?: number, perPage?: PageSize): ReturnType<Store["actionLog"]["page"]> & { rows: StoredLogEntry[] } {
    return this.#store.actionLog.page(page, perPage);
  }

  // ---- the unit of work -------------------------------------------------------------------------

  /**
   * Applies commands in one transaction with their dedup records, action-log rows, events and any
   * extra outbox rows (acks), then brings the access index in step. `refusals` are commands refused
   * before any seq was consumed (replayed, gap), logged in the same transaction. The caller has
   * sequenced the items: each seq is above the last one consumed. Throws only when the transaction
   * itself fails; then nothing changed anywhere (the in-memory table is restored).
   */
  execute(items: readonly ExecuteItem[], extraOutbox?: (outcomes: ExecuteOutcome[]) => OutboxInsert[], refusals: readonly PreRefusal[] = []): ExecuteOutcome[] {
    const now = this.#now();
    const steady = this.steady.now();
    const outcomes = executeItems(this.#store, this.table, items, { now, steady, hash: this.hash }, refusals, (outs) => {
      const rows: OutboxInsert[] = [];
      for (const o of outs) for (const e of o.events) rows.push(this.#encodeEvent(e));
      if (extraOutbox) rows.push(...extraOutbox(outs));
      return rows;
    });
    for (const o of outcomes) if (o.changes.slots.length > 0 || o.changes.meta.length > 0) this.index.applyChanges(o.changes);
    if (items.some(touchesDealerWindow)) this.checkpointSteadyClock();
    this.onOutbox();
    return outcomes;
  }

  /**
   * A message refused as a whole before any command was read (bad signature, wrong panel, ...):
   * its action-log row and its answer, in one transaction. It is not a dedup record: a forged
   * message must not block the real command's id.
   */
  refuseMessage(refusal: Refusal, code: ErrorCode, answer: OutboxInsert[]): void {
    const now = this.#now();
    this.#store.transaction(() => {
      this.#store.actionLog.add(refusalEntry(now, refusal, code));
      this.#store.outbox.add(answer, now);
    });
    this.onOutbox();
  }

  /** Adds outbox rows, and agent-state values that go with them, in one transaction of their own. */
  enqueue(rows: readonly OutboxInsert[], state: Readonly<Record<string, string>> = {}, at = this.#now()): void {
    const keys = Object.keys(state);
    if (rows.length === 0 && keys.length === 0) return;
    this.#store.transaction(() => {
      for (const k of keys) this.#store.state.set(k, state[k]!);
      this.#store.outbox.add(rows, at);
    });
    this.onOutbox();
  }

  /** Prunes the action log and old dedup records by the retention policy. Returns rows removed. */
  prune(policy: RetentionPolicy): { actionLog: number; applied: number } {
    const now = this.#now();
    return this.#store.transaction(() => ({
      actionLog: this.#store.actionLog.prune(now - policy.actionLogMaxAgeMs, policy.actionLogMaxRows),
      applied: this.#store.applied.prune(now - policy.appliedMaxAgeMs, this.#store.counters.lastSeq),
    }));
  }

  // ---- the outbox, for the link -------------------------------------------------------------------

  outboxPeek(limit: number, afterId = 0): OutboxRow[] {
    return this.#store.outbox.peek(limit, afterId);
  }

  outboxCount(): number {
    return this.#store.outbox.count();
  }

  outboxDelete(ids: readonly number[]): void {
    this.#store.outbox.delete(ids);
  }

  /** Persists where the steady clock stands, so a reboot continues from here (housekeeping calls it every minute). */
  checkpointSteadyClock(): void {
    this.#store.state.set(STEADY_STATE, JSON.stringify(this.steady.checkpoint()));
  }

  /**
   * The access check as a keypad or door lock asks it: the index answers; lockout counters, the
   * access record and any duress/lockout events are committed before the answer; a One-time
   * User's disarm is recorded durably (record_one_time_use) before it is granted. `extraState`
   * adds agent-state values (e.g. arm states after a grant) to that same commit.
   */
  checkAccess(req: AccessRequest, extraState?: (result: ReturnType<AccessIndex["check"]>) => Record<string, string>): ReturnType<AccessIndex["check"]> {
    let result = this.index.check(req);
    if (result.granted && result.oneTimeUse) {
      const use = result.oneTimeUse;
      const cmd = makeCommand("record_one_time_use", `one-time:${use.slot}:${use.localDay}:${req.at}`, { kind: "system", id: "access" }, { slot: use.slot, localDay: use.localDay });
      let recorded = false;
      try {
        recorded = this.execute([{ command: cmd }])[0]?.status === "applied";
      } finally {
        if (!recorded) this.index.releaseOneTimeUse(use);
      }
      if (!recorded) result = { granted: false, reason: "one_time_used", slot: use.slot, events: [], lockoutEffects: result.lockoutEffects };
    }
    const rows: OutboxInsert[] = [this.#encodeEvent(accessRecord(req, result))];
    for (const e of result.events) rows.push(this.#encodeEvent(e));
    const state = extraState?.(result) ?? {};
    if (result.lockoutEffects.length > 0) state[LOCKOUT_STATE] = JSON.stringify(this.index.lockout.snapshot());
    this.enqueue(rows, state, req.at);
    return result;
  }

  // ---- KeypadBackend -------------------------------------------------------------------------

  async access(who: KeypadIdentity, credential: Credential, action: KeypadAction, doorLockId?: string): Promise<AccessAnswer> {
    const at = this.#now();
    const point = action === "open" && doorLockId !== undefined ? { kind: "door" as const, lockId: doorLockId } : { kind: "keypad" as const, id: who.keypadId, partitions: who.partitions };
    const result = this.checkAccess({ credential, point, action: action === "open" ? "open" : action === "disarm" ? "disarm" : "arm", at }, (r): Record<string, string> => {
      if (!r.granted || point.kind !== "keypad") return {};
      const state: ArmState = action === "disarm" ? "disarmed" : action === "arm_stay" ? "armed_stay" : "armed_away";
      for (const p of who.partitions) this.#partitions.set(p, state);
      return { [PARTITION_STATE]: JSON.stringify([...this.#partitions]) };
    });
    return accessAnswer(result);
  }

  async program(who: KeypadIdentity, programmerCode: Secret, op: ProgramOp): Promise<ProgramAnswer> {
    const programmer = this.#authenticate(who, programmerCode);
    if (typeof programmer !== "number") return programmer;
    if (op.kind === "check_user") return this.#checkUser(programmer, op.slot);
    const actor: Actor = { kind: "keypad_user", id: who.keypadId, slot: programmer };
    const id = this.#localId(who);
    const cmd =
      op.kind === "set_code" ? makeCommand("set_code", id, actor, { slot: op.slot, code: op.code })
      : op.kind === "disable_user" ? makeCommand("disable_user", id, actor, { slot: op.slot })
      : makeCommand("set_partitions", id, actor, { slot: op.slot, partitions: op.partitions });
    return this.#runLocal(cmd);
  }

  async dealer(who: KeypadIdentity, masterCode: Secret, op: "grant" | "revoke"): Promise<ProgramAnswer> {
    const programmer = this.#authenticate(who, masterCode);
    if (typeof programmer !== "number") return programmer;
    const actor: Actor = { kind: "keypad_user", id: who.keypadId, slot: programmer };
    const id = this.#localId(who);
    return this.#runLocal(op === "grant" ? makeCommand("grant_dealer_access", id, actor, {}) : makeCommand("revoke_dealer_access", id, actor, {}));
  }

  status(partitions: number[]): PartitionStatus[] {
    return partitions.map((partition) => ({ partition, state: this.#partitions.get(partition) ?? "disarmed" }));
  }

  /** Why the durable table cannot take the next commit, or undefined (the watchdog asks). */
  healthProblem(): string | undefined {
    return this.#store.healthProblem();
  }

  close(): void {
    this.checkpointSteadyClock();
    this.#store.close();
  }

  /** A programmer's code goes through the same check (and lockout) as any code at this keypad. */
  #authenticate(who: KeypadIdentity, code: Secret): number | ProgramAnswer {
    const result = this.checkAccess({ credential: { kind: "pin", value: code }, point: { kind: "keypad", id: who.keypadId, partitions: who.partitions }, action: "arm", at: this.#now() });
    if (!result.granted || result.slot === undefined) return { ok: false, error: result.lockedForMs ? "locked_out" : "permission_denied" };
    return result.slot;
  }

  /** The keypad's user-number check: the same programmer rules as a change (apply.ts), nothing written. */
  #checkUser(programmer: number, slot: number): ProgramAnswer {
    const table = this.table;
    // A master slot is always in range, so this order answers as permission, range, Master did.
    const refusal = keypadProgrammingRefusal(table, programmer, slot);
    if (refusal) return { ok: false, error: refusal };
    if (slot < 1 || slot > table.type.capacity) return { ok: false, error: "slot_out_of_range" };
    return { ok: true, inUse: table.slot(slot).codeDigest !== null };
  }

  #localSeq = 0;
  /** Local commands get ids of their own kind; they carry no cloud sequence number. */
  #localId(who: KeypadIdentity): string {
    return `local:${who.keypadId}:${this.#now().toString(36)}:${(this.#localSeq++).toString(36)}`;
  }

  #runLocal(cmd: Command): ProgramAnswer {
    const [out] = this.execute([{ command: cmd }]);
    if (!out || out.outcome.status !== "rejected") return { ok: true };
    return { ok: false, error: out.outcome.error.code, message: out.outcome.error.message };
  }
}
