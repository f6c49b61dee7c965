import type {
  AccessAnswer,
  Credential,
  KeypadAction,
  KeypadBackend,
  KeypadIdentity,
  PartitionStatus,
  ProgramAnswer,
  ProgramOp,
} from "../../src/keypad/backend.js";
import type { Secret } from "../../src/domain/secret.js";

interface MemoryUser {
  slot: number;
  label: string;
  role: "Master" | "Supervisor" | "User" | "Duress";
  code: string | null;
  tag?: string;
  partitions: number[];
  doors?: string[];
}

/**
 * A small, real KeypadBackend over an in-memory map, for testing the socket shell and the
 * emulator (the agent's implementation with the access index and the store replaces it in the
 * end-to-end tests). Lockout: `lockAfter` wrong credentials lock the keypad for `lockMs`.
 */
export class MemoryKeypadBackend implements KeypadBackend {
  readonly users = new Map<number, MemoryUser>();
  readonly arm = new Map<number, PartitionStatus["state"]>();
  readonly calls: { method: string; keypadId: string; action?: string; ok: boolean }[] = [];
  readonly duressEvents: number[] = [];
  dealerUntil = 0;
  failures = 0;
  lockedUntil = 0;

  constructor(
    readonly now: () => number = Date.now,
    readonly lockAfter = 3,
    readonly lockMs = 90_000,
  ) {
    this.add({ slot: 1, label: "Master", role: "Master", code: "1234", partitions: [1, 2, 3, 4, 5, 6, 7, 8] });
    this.add({ slot: 2, label: "Supervisor", role: "Supervisor", code: "2222", partitions: [1] });
    this.add({ slot: 4, label: "User 4", role: "User", code: "4444", tag: "04A1B2C3", partitions: [1], doors: ["front"] });
    this.add({ slot: 9, label: "User 9", role: "Duress", code: "9999", partitions: [1, 2] });
  }

  add(user: MemoryUser): void {
    this.users.set(user.slot, user);
  }

  #find(credential: Credential): MemoryUser | undefined {
    const value = credential.value.reveal();
    for (const u of this.users.values()) {
      if (credential.kind === "pin" ? u.code === value : u.tag === value) return u;
    }
    return undefined;
  }

  #deny(): AccessAnswer {
    this.failures++;
    if (this.failures >= this.lockAfter) {
      this.failures = 0;
      this.lockedUntil = this.now() + this.lockMs;
      return { granted: false, lockedForMs: this.lockMs };
    }
    return { granted: false };
  }

  async access(who: KeypadIdentity, credential: Credential, action: KeypadAction, doorLockId?: string): Promise<AccessAnswer> {
    await Promise.resolve();
    if (this.lockedUntil > this.now()) return { granted: false, lockedForMs: this.lockedUntil - this.now() };
    const user = this.#find(credential);
    const allowed =
      user !== undefined &&
      (action === "open"
        ? doorLockId !== undefined && (user.role === "Master" || (user.doors ?? []).includes(doorLockId))
        : who.partitions.every((p) => user.partitions.includes(p)));
    this.calls.push({ method: "access", keypadId: who.keypadId, action, ok: allowed });
    if (!allowed || user === undefined) return this.#deny();
    this.failures = 0;
    if (user.role === "Duress") this.duressEvents.push(user.slot);
    if (action !== "open") for (const p of who.partitions) this.arm.set(p, action === "disarm" ? "disarmed" : action === "arm_stay" ? "armed_stay" : "armed_away");
    return { granted: true, label: user.label, slot: user.slot };
  }

  async program(who: KeypadIdentity, programmerCode: Secret, op: ProgramOp): Promise<ProgramAnswer> {
    await Promise.resolve();
    const programmer = this.#find({ kind: "pin", value: programmerCode });
    const ok = programmer !== undefined && (programmer.role === "Master" || programmer.role === "Supervisor");
    this.calls.push({ method: "program", keypadId: who.keypadId, action: op.kind, ok });
    if (!ok) return { ok: false, error: "permission_denied" };
    const target = this.users.get(op.slot) ?? { slot: op.slot, label: `User ${op.slot}`, role: "User" as const, code: null, partitions: [1] };
    switch (op.kind) {
      case "check_user":
        if (op.slot < 1 || op.slot > 1000) return { ok: false, error: "slot_out_of_range" };
        return { ok: true, inUse: this.users.get(op.slot)?.code != null };
      case "set_code": {
        const code = op.code.reveal();
        if (code.length !== 4) return { ok: false, error: "invalid_code_length" };
        if ([...this.users.values()].some((u) => u.code === code && u.slot !== op.slot)) return { ok: false, error: "code_in_use" };
        this.users.set(op.slot, { ...target, code });
        return { ok: true };
      }
      case "disable_user":
        if (target.role === "Master") return { ok: false, error: "master_cannot_be_disabled" };
        this.users.delete(op.slot);
        return { ok: true };
      case "set_partitions":
        if (target.code === null) return { ok: false, error: "code_required" };
        this.users.set(op.slot, { ...target, partitions: [...op.partitions] });
        return { ok: true };
    }
  }

  async dealer(who: KeypadIdentity, masterCode: Secret, op: "grant" | "revoke"): Promise<ProgramAnswer> {
    await Promise.resolve();
    const master = this.#find({ kind: "pin", value: masterCode });
    this.calls.push({ method: "dealer", keypadId: who.keypadId, action: op, ok: master?.role === "Master" });
    if (master?.role !== "Master") return { ok: false, error: "master_required" };
    if (op === "grant") {
      this.dealerUntil = this.now() + 2 * 3_600_000;
      return { ok: true };
    }
    if (this.dealerUntil <= this.now()) return { ok: false, error: "dealer_access_not_active" };
    this.dealerUntil = 0;
    return { ok: true };
  }

  status(partitions: number[]): PartitionStatus[] {
    return partitions.map((partition) => ({ partition, state: this.arm.get(partition) ?? "disarmed" }));
  }
}
