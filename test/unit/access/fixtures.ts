import { applyCommand, PanelTable, Secret, type Applied, type Command, type PanelConfig, type PanelTypeId } from "../../../src/domain/index.js";
import { AccessIndex, createCredentialHasher, type AccessAction, type AccessPoint, type AccessResult, type LockoutPolicy } from "../../../src/access/index.js";
import { TEST_KEY } from "../../helpers/hash.js";
import { seededRandom } from "../../helpers/random.js";

export const hash = createCredentialHasher(TEST_KEY);
/** Wednesday 2026-11-25 12:00 UTC = 13:00 in Berlin. */
export const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);
export const pin = (s: string) => new Secret(s);
export const keypad = (partitions: number[] = [1], id = "kp1"): AccessPoint => ({ kind: "keypad", id, partitions });
export const door = (lockId: string): AccessPoint => ({ kind: "door", lockId });

/** A lockout policy that never locks, for tests about other rules. */
export const NO_LOCKOUT: Partial<LockoutPolicy> = { maxAttempts: Number.POSITIVE_INFINITY, panelMaxAttempts: Number.POSITIVE_INFINITY };

type CommandInput = { kind: Command["kind"] } & Record<string, unknown>;
let commandNumber = 0;

/** A panel table and its access index, changed through real commands so every change goes through applyChanges. */
export class Panel {
  readonly table: PanelTable;
  readonly index: AccessIndex;
  now = NOW;

  constructor(type: PanelTypeId = "DSC", lockout: Partial<LockoutPolicy> = NO_LOCKOUT, config: Partial<PanelConfig> = {}) {
    this.table = new PanelTable({ panelId: "p1", type, codeLength: 4, timeZone: "Europe/Berlin", doorLocks: ["front", "back"], ...config });
    this.index = new AccessIndex(this.table, { hash, lockoutPolicy: lockout });
  }

  apply(input: CommandInput): Applied {
    const cmd = { id: `c${++commandNumber}`, actor: { kind: "cloud", id: "svc" }, ...input } as Command;
    const out = applyCommand(this.table, cmd, { now: this.now, hash });
    if (!out.ok) throw new Error(`command refused: ${out.error.code}`);
    this.table.commit(out.changes);
    this.index.applyChanges(out.changes);
    return out;
  }

  /** A user with a code on a slot, plus optional attributes. */
  user(slot: number, code: string, extra: { role?: string; partitions?: number[]; schedule?: unknown; doorLocks?: string[]; label?: string } = {}): void {
    this.apply({ kind: "set_code", slot, code: pin(code) });
    if (extra.role) this.apply({ kind: "set_role", slot, role: extra.role });
    if (extra.partitions) this.apply({ kind: "set_partitions", slot, partitions: extra.partitions });
    if (extra.schedule) this.apply({ kind: "set_schedule", slot, schedule: extra.schedule });
    if (extra.doorLocks) this.apply({ kind: "set_door_locks", slot, doorLocks: extra.doorLocks });
    if (extra.label) this.apply({ kind: "set_label", slot, label: extra.label });
  }

  check(code: string, action: AccessAction = "disarm", point: AccessPoint = keypad(), at = this.now): AccessResult {
    return this.index.check({ credential: { kind: "pin", value: pin(code) }, point, action, at });
  }

  tag(tagId: string, point: AccessPoint, action: AccessAction = point.kind === "door" ? "open" : "disarm", at = this.now): AccessResult {
    return this.index.check({ credential: { kind: "tag", value: pin(tagId) }, point, action, at });
  }
}

/** A deterministic random source so generated fixtures are the same on every run. */
export function prng(seed: number): () => number {
  const r = seededRandom(seed);
  return () => r.next();
}
