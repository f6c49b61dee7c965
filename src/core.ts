import { accessAnswer, accessRecord, AccessIndex, createCredentialHasher, type AccessEvent, type AccessRecord, type AccessRequest, type LockoutPolicy, type LockoutSnapshot } from "./access/index.js";
import type { Secret, Actor, ActionLogEntry, Command, DomainEvent, PanelConfig } from "./domain/index.js";
import { keypadProgrammingRefusal } from "./domain/index.js";
import type { AccessAnswer, Credential, KeypadAction, KeypadBackend, KeypadIdentity, PartitionStatus, ProgramAnswer, ProgramOp } from "./keypad/backend.js";
import { SteadyClock, type SteadyCheckpoint, type SteadyClockSources } from "./store/steady-clock.js";
import { Store, type ExecuteItem, type ExecuteOutcome, type OutboxInsert } from "./store/store.js";

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
/** Commands that open, close or use a dealer window: the steady clock is checkpointed after them. */
const DEALER_KINDS: ReadonlySet<Command["kind"]> = new Set(["grant_dealer_access", "revoke_dealer_access", "expire_dealer_access"]);

function touchesDealerWindow(item: ExecuteItem): boolean {
  return "command" in item && (item.command.actor.kind === "dealer" || DEALER_KINDS.has(item.command.kind));
}
const PARTITION_STATE = "partitions";
const STEADY_STATE = "steady_clock";

type ArmState = PartitionStatus["state"];

/**
 * The agent's heart, without any network: the durable store, the access index kept in step with
 * it, the steady clock, lockout persistence and the keypad backend. The MQTT link and the keypad
 * socket are shells around it.
 */
export class PanelCore implements KeypadBackend {
  readonly store: Store;
  readonly index: AccessIndex;
  readonly steady: SteadyClock;
  readonly #encodeEvent: CoreOptions["encodeEvent"];
  /** Called after rows were added to the outbox (the link sets it to publish them). */
  onOutbox: () => void;
  readonly #now: () => number;
  readonly #partitions = new Map<number, ArmState>();

  constructor(options: CoreOptions) {
    this.#now = options.now ?? Date.now;
    this.#encodeEvent = options.encodeEvent;
    this.onOutbox = options.onOutbox ?? (() => {});
    this.store = Store.open({ dir: options.stateDir, config: options.config, makeHasher: createCredentialHasher });
    const lockoutState = this.store.state(LOCKOUT_STATE);
    this.index = new AccessIndex(this.store.table, {
      hash: this.store.hash,
      lockoutPolicy: options.lockout,
      lockoutState: lockoutState ? (JSON.parse(lockoutState) as LockoutSnapshot) : undefined,
    });
    const cp = this.store.state(STEADY_STATE);
    this.steady = new SteadyClock(cp ? (JSON.parse(cp) as SteadyCheckpoint) : undefined, options.steadySources);
    this.checkpointSteadyClock();
    const parts = this.store.state(PARTITION_STATE);
    if (parts) for (const [p, s] of JSON.parse(parts) as [number, ArmState][]) this.#partitions.set(p, s);
  }

  get now(): number {
    return this.#now();
  }

  /**
   * Applies commands in one transaction (events and any extra outbox rows commit with them), then
   * brings the access index in step. Throws only when the transaction itself fails; then nothing
   * changed anywhere.
   */
  execute(items: readonly ExecuteItem[], extraOutbox?: (outcomes: ExecuteOutcome[]) => OutboxInsert[], extraLog?: readonly ActionLogEntry[]): ExecuteOutcome[] {
    const now = this.#now();
    const steady = this.steady.now();
    const outcomes = this.store.execute(items, now, (outs) => {
      const rows: OutboxInsert[] = [];
      for (const o of outs) for (const e of o.events) rows.push(this.#encodeEvent(e));
      if (extraOutbox) rows.push(...extraOutbox(outs));
      return rows;
    }, steady, extraLog);
    for (const o of outcomes) if (o.changes.slots.length > 0 || o.changes.meta.length > 0) this.index.applyChanges(o.changes);
    if (items.some(touchesDealerWindow)) this.checkpointSteadyClock();
    this.onOutbox();
    return outcomes;
  }

  /** Tells the link that the outbox has rows to publish. */
  notifyOutbox(): void {
    this.onOutbox();
  }

  /** Persists where the steady clock stands, so a reboot continues from here (housekeeping calls it every minute). */
  checkpointSteadyClock(): void {
    this.store.setState(STEADY_STATE, JSON.stringify(this.steady.checkpoint()));
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
      const cmd = { id: `one-time:${use.slot}:${use.localDay}:${req.at}`, actor: { kind: "system", id: "access" }, kind: "record_one_time_use", slot: use.slot, localDay: use.localDay } as Command;
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
    this.store.enqueue(rows, req.at, state);
    this.onOutbox();
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
    return this.#runLocal({ ...op, id: this.#localId(who), actor } as Command);
  }

  async dealer(who: KeypadIdentity, masterCode: Secret, op: "grant" | "revoke"): Promise<ProgramAnswer> {
    const programmer = this.#authenticate(who, masterCode);
    if (typeof programmer !== "number") return programmer;
    const actor: Actor = { kind: "keypad_user", id: who.keypadId, slot: programmer };
    return this.#runLocal({ id: this.#localId(who), actor, kind: op === "grant" ? "grant_dealer_access" : "revoke_dealer_access" } as Command);
  }

  status(partitions: number[]): PartitionStatus[] {
    return partitions.map((partition) => ({ partition, state: this.#partitions.get(partition) ?? "disarmed" }));
  }

  /** Why the durable table cannot take the next commit, or undefined (the watchdog asks). */
  healthProblem(): string | undefined {
    return this.store.healthProblem();
  }

  close(): void {
    this.checkpointSteadyClock();
    this.store.close();
  }

  /** A programmer's code goes through the same check (and lockout) as any code at this keypad. */
  #authenticate(who: KeypadIdentity, code: Secret): number | ProgramAnswer {
    const result = this.checkAccess({ credential: { kind: "pin", value: code }, point: { kind: "keypad", id: who.keypadId, partitions: who.partitions }, action: "arm", at: this.#now() });
    if (!result.granted || result.slot === undefined) return { ok: false, error: result.lockedForMs ? "locked_out" : "permission_denied" };
    return result.slot;
  }

  /** The keypad's user-number check: the same programmer rules as a change (apply.ts), nothing written. */
  #checkUser(programmer: number, slot: number): ProgramAnswer {
    const table = this.store.table;
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

