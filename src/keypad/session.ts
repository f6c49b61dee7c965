import { Secret } from "../domain/secret.js";
import type {
  AccessAnswer,
  Credential,
  KeypadAction,
  KeypadIdentity,
  PartitionStatus,
  ProgramAnswer,
  ProgramOp,
} from "./backend.js";

/**
 * The keypad session: a PURE state machine modelled on DSC PowerSeries Neo keypads. It consumes
 * inputs (key presses, whole entries, tag reads, partition switches, timer ticks and backend
 * answers) and returns `{ state, effects }`; the socket shell runs the effects (display lines to
 * send, at most one backend request per step) and feeds each backend answer back in as an input.
 * No IO, no clock: time is `ctx.at`, arm state comes from `ctx.status`.
 *
 * Behaviour (documented in emulator/README.md, "Keypad behaviour"):
 * - Digits then `#`, or digits up to the code length, submit an entry for the pending action.
 *   A bare code (no function key pressed first) disarms when any selected partition is armed and
 *   otherwise arms away. `stay`/`away`/`disarm` choose the action first; `door <lock>` makes the
 *   next entry open that door lock. `*` discards typed digits; `#` with no digits clears.
 * - `*5` (or the prog/chime key) + Master/Supervisor code: user programming. Enter a user number
 *   (1-4 digits) + `#` (the agent checks it and the programmer's code at once: `No such user`
 *   for a number the panel does not have), then `1` set code (type the new code), `2` partitions
 *   (toggle 1-8, `#` saves), `3` delete (disable) the user (`2` and `3` need a user there: `No
 *   such user` at once otherwise), `#` back to the user number; `#` there exits.
 * - `*6` + Master code: our own dealer menu, `1` grant Security Professional access for 2 h,
 *   `2` end it.
 * - A `#` pressed right after an entry was submitted by reaching the code length is ignored
 *   (people type `1234#` out of habit).
 * - Every denial shows "Access denied"; the only detail ever shown is a lockout
 *   ("Keypad locked 78 s"), which the keypad then also enforces locally until it ends. The
 *   lockout display counts down (a tick each second: 78 s ... 1 s), then the idle display.
 * - Entries and results clear after `entryTimeoutMs` without input; menus after `menuTimeoutMs`.
 * - Digits are never displayed (one `*` per digit) and are held as `Secret` from the first key.
 */

export const FUNCTION_KEYS = ["stay", "away", "disarm", "prog", "chime"] as const;
export type FunctionKey = (typeof FUNCTION_KEYS)[number];
export const DIGIT_KEYS = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"] as const;
export type DigitKey = (typeof DIGIT_KEYS)[number];
export type KeyName = DigitKey | "*" | "#" | FunctionKey;

export const KEY_NAMES: readonly KeyName[] = [...DIGIT_KEYS, "*", "#", ...FUNCTION_KEYS];

export function isKeyName(value: string): value is KeyName {
  return (KEY_NAMES as readonly string[]).includes(value);
}

/** The action of an entry: a backend action, or "auto" (disarm if armed, else arm away). */
export type EntryAction = KeypadAction | "auto";

export type SessionInput =
  | { t: "key"; key: KeyName }
  /** A whole entry from a bridge that collects digits itself. */
  | { t: "entry"; action: EntryAction; code: Secret; doorLockId?: string }
  | { t: "tag"; tag: Secret; doorLockId?: string }
  /** The next entry opens this door lock. */
  | { t: "door"; doorLockId: string }
  /** Act on one assigned partition; 0 = all assigned partitions. */
  | { t: "partition"; partition: number }
  /** Time passes (the shell calls this at `nextDeadline`). */
  | { t: "tick" }
  | { t: "access_answer"; answer: AccessAnswer }
  | { t: "program_answer"; answer: ProgramAnswer }
  | { t: "dealer_answer"; answer: ProgramAnswer }
  /** The backend threw or rejected (it should not; the keypad still has to say something). */
  | { t: "backend_failed" };

export type BackendRequest =
  | { kind: "access"; who: KeypadIdentity; credential: Credential; action: KeypadAction; doorLockId?: string }
  | { kind: "program"; who: KeypadIdentity; programmerCode: Secret; op: ProgramOp }
  | { kind: "dealer"; who: KeypadIdentity; masterCode: Secret; op: "grant" | "revoke" };

export interface Display {
  line1: string;
  line2: string;
}

export type Effect = { kind: "display"; display: Display } | { kind: "request"; request: BackendRequest };

export interface StepContext {
  /** Now, epoch ms. */
  at: number;
  /** Arm state of the given partitions (synchronous, a read of the panel state). */
  status: (partitions: readonly number[]) => PartitionStatus[];
}

export interface StepResult {
  state: SessionState;
  effects: Effect[];
}

export interface SessionOptions {
  keypadId: string;
  /** Partitions the keypad is assigned to (at least one). */
  partitions: readonly number[];
  /** The panel's code length: an entry submits itself when it is reached. Null: `#` only. */
  codeLength?: number | null;
  /** Longest entry accepted when no code length is configured (default 8). */
  maxCodeLength?: number;
  /** Entry and result display cleared after this long without input (default 30 s). */
  entryTimeoutMs?: number;
  /** Programming and dealer menus left after this long without input (default 120 s). */
  menuTimeoutMs?: number;
}

interface Config {
  readonly codeLimit: number;
  readonly entryTimeoutMs: number;
  readonly menuTimeoutMs: number;
}

type Awaiting =
  | { kind: "access" }
  /** inUse: what check_user answered for the slot (kept through the user's menu). */
  | { kind: "program"; code: Secret; slot: number; op: ProgramOp["kind"]; inUse: boolean }
  | { kind: "dealer"; op: "grant" | "revoke" };

/** Where the keypad is. `entry` with action "auto" and no digits is the idle state. */
export type Mode =
  | { m: "entry"; action: EntryAction; doorLockId?: string; digits: Secret }
  | { m: "star" }
  | { m: "prog_code"; menu: "users" | "dealer"; digits: Secret }
  | { m: "prog_slot"; code: Secret; digits: string }
  /** inUse: the user number has a user (partitions and delete need one). */
  | { m: "prog_menu"; code: Secret; slot: number; inUse: boolean }
  | { m: "prog_new_code"; code: Secret; slot: number; inUse: boolean; digits: Secret }
  | { m: "prog_parts"; code: Secret; slot: number; parts: readonly number[] }
  | { m: "dealer_menu"; code: Secret }
  | { m: "awaiting"; awaiting: Awaiting };

export interface SessionState {
  readonly keypadId: string;
  readonly assigned: readonly number[];
  /** The partitions the keypad acts on now (all assigned, or one after a partition switch). */
  readonly selected: readonly number[];
  readonly mode: Mode;
  /** A result shown until the next input or timeout ("Access granted — User 4"). */
  readonly notice: string | null;
  readonly lastInputAt: number;
  /** Epoch ms until which the keypad is locked out (0: not locked). */
  readonly lockedUntil: number;
  /** The previous key auto-submitted an entry: ignore one `#`. */
  readonly swallowHash: boolean;
  readonly config: Config;
}

const EMPTY = new Secret("");
const IDLE: Mode = { m: "entry", action: "auto", digits: EMPTY };
const MAX_SLOT_DIGITS = 4;
const MAX_PARTITION_KEY = 8;

export const TEXT = {
  enterCode: "Enter code",
  granted: "Access granted",
  denied: "Access denied",
  unavailable: "Service unavailable",
  functionMenu: "Function: 5 Users  6 Dealer",
  functionUnavailable: "Function not available",
  userProgramming: "User programming",
  dealerAccess: "Dealer access",
  userMenu: "1 Code  2 Partitions  3 Delete  # Back",
  dealerMenu: "1 Grant 2 h  2 End  # Exit",
  enterUser: "Enter user number, # exit",
  noSuchUser: "No such user",
  codeNotAccepted: "Code not accepted",
  notAccepted: "Not accepted",
  dealerGranted: "Dealer access granted 2 h",
  dealerEnded: "Dealer access ended",
  dealerNotActive: "Dealer access not active",
} as const;

export function createSession(options: SessionOptions, at: number): SessionState {
  const assigned = uniqueSorted(options.partitions);
  if (assigned.length === 0) throw new RangeError("a keypad needs at least one partition");
  return {
    keypadId: options.keypadId,
    assigned,
    selected: assigned,
    mode: IDLE,
    notice: null,
    lastInputAt: at,
    lockedUntil: 0,
    swallowHash: false,
    config: {
      codeLimit: options.codeLength ?? options.maxCodeLength ?? 8,
      entryTimeoutMs: options.entryTimeoutMs ?? 30_000,
      menuTimeoutMs: options.menuTimeoutMs ?? 120_000,
    },
  };
}

export function isIdle(state: SessionState): boolean {
  return state.mode === IDLE && state.notice === null;
}

/** When the shell should deliver a `tick`, or null when nothing will time out. */
export function nextDeadline(state: SessionState): number | null {
  if (state.mode.m === "awaiting" || isIdle(state)) return null;
  // A lockout on the display counts down: the next tick is when the whole seconds shown drop
  // by one (ceil), and the last one is the lock's end.
  const shown = lockSecondsShown(state);
  if (shown !== null) return state.lockedUntil - (shown - 1) * 1000;
  return state.lastInputAt + timeoutFor(state.mode, state.config);
}

/** The seconds a "Keypad locked N s" display shows, or null when it shows something else. */
function lockSecondsShown(state: SessionState): number | null {
  if (state.lockedUntil === 0 || state.mode !== IDLE || state.notice === null) return null;
  const m = /^Keypad locked (\d+) s$/.exec(state.notice);
  return m ? Number(m[1]) : null;
}

function timeoutFor(mode: Mode, config: Config): number {
  return mode.m === "entry" || mode.m === "star" ? config.entryTimeoutMs : config.menuTimeoutMs;
}

// ---------------------------------------------------------------------------------------------
// Display

const STATE_NAMES: Record<PartitionStatus["state"], string> = {
  disarmed: "Disarmed",
  armed_stay: "Armed stay",
  armed_away: "Armed away",
};

export function statusLine(partitions: readonly number[], status: readonly PartitionStatus[]): string {
  return partitions
    .map((p) => {
      const s = status.find((x) => x.partition === p);
      return `P${p} ${s ? STATE_NAMES[s.state] : "Unknown"}`;
    })
    .join("  ");
}

const stars = (digits: Secret): string => "*".repeat(digits.length);

function actionLabel(action: EntryAction, doorLockId: string | undefined): string {
  switch (action) {
    case "auto":
      return "Code";
    case "arm_stay":
      return "Arm stay";
    case "arm_away":
      return "Arm away";
    case "disarm":
      return "Disarm";
    case "open":
      return doorLockId === undefined ? "Open door" : `Open ${doorLockId}`;
  }
}

/** The display for a state. Never contains a digit the user typed. */
export function render(state: SessionState, ctx: StepContext): Display {
  const status = statusLine(state.selected, ctx.status(state.selected));
  const mode = state.mode;
  const notice = state.notice;
  switch (mode.m) {
    case "entry": {
      if (notice !== null) return { line1: status, line2: notice };
      const label = actionLabel(mode.action, mode.doorLockId);
      if (mode.digits.length > 0) return { line1: status, line2: `${label}: ${stars(mode.digits)}` };
      return { line1: status, line2: mode.action === "auto" ? TEXT.enterCode : `${label}: enter code` };
    }
    case "star":
      return { line1: status, line2: TEXT.functionMenu };
    case "prog_code": {
      const title = mode.menu === "users" ? TEXT.userProgramming : TEXT.dealerAccess;
      const who = mode.menu === "users" ? "Master/Supervisor code" : "Master code";
      return { line1: notice ?? title, line2: mode.digits.length > 0 ? `${who}: ${stars(mode.digits)}` : `Enter ${who}` };
    }
    case "prog_slot":
      return { line1: notice ?? TEXT.userProgramming, line2: mode.digits.length > 0 ? `User number: ${mode.digits}` : TEXT.enterUser };
    case "prog_menu":
      return { line1: notice ?? `User ${mode.slot}`, line2: TEXT.userMenu };
    case "prog_new_code":
      return { line1: `User ${mode.slot} new code`, line2: mode.digits.length > 0 ? `New code: ${stars(mode.digits)}` : "Enter new code" };
    case "prog_parts":
      return {
        line1: `User ${mode.slot} partitions`,
        line2: `Partitions: ${mode.parts.length > 0 ? mode.parts.join(" ") : "none"}  # save`,
      };
    case "dealer_menu":
      return { line1: notice ?? TEXT.dealerAccess, line2: TEXT.dealerMenu };
    case "awaiting":
      return { line1: status, line2: "Please wait" };
  }
}

/** Labels come from the backend: keep them printable and short (no terminal escapes). */
export function safeLabel(label: string): string {
  // eslint-disable-next-line no-control-regex
  return label.replace(/[\u0000-\u001f\u007f-\u009f]/g, "").slice(0, 32).trim();
}

export function lockedText(ms: number): string {
  return `Keypad locked ${Math.max(1, Math.ceil(ms / 1000))} s`;
}

// ---------------------------------------------------------------------------------------------
// Transitions

/** One input in, the next state and its effects out. Total: every input is answered. */
export function step(state: SessionState, input: SessionInput, ctx: StepContext): StepResult {
  if (state.mode.m === "awaiting") return onAwaiting(state, state.mode.awaiting, input, ctx);

  if (input.t === "tick") {
    const deadline = nextDeadline(state);
    if (deadline === null || ctx.at < deadline) return { state, effects: [] };
    if (lockSecondsShown(state) !== null && ctx.at < state.lockedUntil) {
      return show({ ...state, notice: lockedText(state.lockedUntil - ctx.at) }, ctx);
    }
    return show({ ...state, mode: IDLE, notice: null, swallowHash: false }, ctx);
  }
  if (input.t === "access_answer" || input.t === "program_answer" || input.t === "dealer_answer" || input.t === "backend_failed") {
    return { state, effects: [] }; // an answer nobody waits for
  }

  // User input: first let a stale entry or menu time out, so old digits never join new ones.
  let s = state;
  const deadline = nextDeadline(s);
  if (deadline !== null && ctx.at >= deadline) s = { ...s, mode: IDLE, notice: null, swallowHash: false };
  const swallow = s.swallowHash;
  s = { ...s, lastInputAt: ctx.at, swallowHash: false };

  if (input.t === "partition") return onPartition(s, input.partition, ctx);

  if (s.lockedUntil > ctx.at) {
    if (input.t === "key" && input.key === "#" && swallow) return { state: s, effects: [] };
    return show({ ...s, mode: IDLE, notice: lockedText(s.lockedUntil - ctx.at) }, ctx);
  }

  switch (input.t) {
    case "entry":
      return submitAccess(
        { ...s, mode: IDLE, notice: null },
        { kind: "pin", value: input.code },
        input.action,
        input.doorLockId,
        ctx,
      );
    case "tag": {
      const pending = s.mode.m === "entry" ? s.mode : null;
      const action: EntryAction = input.doorLockId !== undefined ? "open" : (pending?.action ?? "auto");
      const door = input.doorLockId ?? (action === "open" ? pending?.doorLockId : undefined);
      return submitAccess({ ...s, mode: IDLE, notice: null }, { kind: "tag", value: input.tag }, action, door, ctx);
    }
    case "door":
      return show({ ...s, mode: { m: "entry", action: "open", doorLockId: input.doorLockId, digits: EMPTY }, notice: null }, ctx);
    case "key":
      if (input.key === "#" && swallow) return { state: s, effects: [] };
      return onKey({ ...s, notice: null }, input.key, ctx, s.notice);
  }
}

function onPartition(s: SessionState, partition: number, ctx: StepContext): StepResult {
  if (partition === 0) return show({ ...s, selected: s.assigned, mode: IDLE, notice: null }, ctx);
  if (!s.assigned.includes(partition)) return show({ ...s, mode: IDLE, notice: `Partition ${partition} not assigned` }, ctx);
  return show({ ...s, selected: [partition], mode: IDLE, notice: null }, ctx);
}

function onKey(s: SessionState, key: KeyName, ctx: StepContext, previousNotice: string | null): StepResult {
  const mode = s.mode;
  switch (key) {
    case "stay":
      return show({ ...s, mode: { m: "entry", action: "arm_stay", digits: EMPTY } }, ctx);
    case "away":
      return show({ ...s, mode: { m: "entry", action: "arm_away", digits: EMPTY } }, ctx);
    case "disarm":
      return show({ ...s, mode: { m: "entry", action: "disarm", digits: EMPTY } }, ctx);
    case "prog":
    case "chime":
      return show({ ...s, mode: { m: "prog_code", menu: "users", digits: EMPTY } }, ctx);
    default:
      break;
  }

  switch (mode.m) {
    case "entry":
      if (key === "*") return show({ ...s, mode: { m: "star" } }, ctx);
      if (key === "#") {
        if (mode.digits.length === 0) return show({ ...s, mode: IDLE }, ctx);
        return submitAccess({ ...s, mode: IDLE }, { kind: "pin", value: mode.digits }, mode.action, mode.doorLockId, ctx);
      }
      {
        const digits = append(mode.digits, key);
        if (digits.length >= s.config.codeLimit) {
          return submitAccess({ ...s, mode: IDLE, swallowHash: true }, { kind: "pin", value: digits }, mode.action, mode.doorLockId, ctx);
        }
        return show({ ...s, mode: { ...mode, digits } }, ctx);
      }

    case "star":
      if (key === "5") return show({ ...s, mode: { m: "prog_code", menu: "users", digits: EMPTY } }, ctx);
      if (key === "6") return show({ ...s, mode: { m: "prog_code", menu: "dealer", digits: EMPTY } }, ctx);
      if (key === "*") return show(s, ctx);
      if (key === "#") return show({ ...s, mode: IDLE }, ctx);
      return show({ ...s, mode: IDLE, notice: TEXT.functionUnavailable }, ctx);

    case "prog_code": {
      if (key === "*") return show({ ...s, mode: { ...mode, digits: EMPTY } }, ctx);
      if (key === "#" && mode.digits.length === 0) return show({ ...s, mode: IDLE }, ctx);
      const complete = key === "#";
      const digits = complete ? mode.digits : append(mode.digits, key);
      if (!complete && digits.length < s.config.codeLimit) return show({ ...s, mode: { ...mode, digits } }, ctx);
      const next: SessionState = { ...s, swallowHash: !complete };
      return mode.menu === "users"
        ? show({ ...next, mode: { m: "prog_slot", code: digits, digits: "" } }, ctx)
        : show({ ...next, mode: { m: "dealer_menu", code: digits } }, ctx);
    }

    case "prog_slot": {
      if (key === "*") return show({ ...s, mode: { ...mode, digits: "" } }, ctx);
      if (key === "#") {
        if (mode.digits === "") return show({ ...s, mode: IDLE }, ctx);
        const slot = Number(mode.digits);
        if (slot < 1) return show({ ...s, mode: { ...mode, digits: "" }, notice: TEXT.noSuchUser }, ctx);
        // The agent checks the user number (and the programmer's code) before the menu opens:
        // a number the panel does not have is refused now, not after a whole new code.
        return request(s, { kind: "program", code: mode.code, slot, op: "check_user", inUse: false }, {
          kind: "program",
          who: who(s),
          programmerCode: mode.code,
          op: { kind: "check_user", slot },
        });
      }
      if (mode.digits.length >= MAX_SLOT_DIGITS) return show(s, ctx);
      return show({ ...s, mode: { ...mode, digits: mode.digits + key } }, ctx);
    }

    case "prog_menu":
      switch (key) {
        case "1":
          return show({ ...s, mode: { m: "prog_new_code", code: mode.code, slot: mode.slot, inUse: mode.inUse, digits: EMPTY } }, ctx);
        case "2":
        case "3":
          // Partitions and delete need an existing user: refuse an unused number at once.
          if (!mode.inUse) return show({ ...s, mode: { m: "prog_slot", code: mode.code, digits: "" }, notice: TEXT.noSuchUser }, ctx);
          if (key === "2") return show({ ...s, mode: { m: "prog_parts", code: mode.code, slot: mode.slot, parts: [] } }, ctx);
          return request(s, { kind: "program", code: mode.code, slot: mode.slot, op: "disable_user", inUse: true }, {
            kind: "program",
            who: who(s),
            programmerCode: mode.code,
            op: { kind: "disable_user", slot: mode.slot },
          });
        case "#":
          return show({ ...s, mode: { m: "prog_slot", code: mode.code, digits: "" } }, ctx);
        default:
          return show({ ...s, notice: previousNotice }, ctx);
      }

    case "prog_new_code": {
      if (key === "*") return show({ ...s, mode: { ...mode, digits: EMPTY } }, ctx);
      if (key === "#" && mode.digits.length === 0) return show({ ...s, mode: { m: "prog_menu", code: mode.code, slot: mode.slot, inUse: mode.inUse } }, ctx);
      const complete = key === "#";
      const digits = complete ? mode.digits : append(mode.digits, key);
      if (!complete && digits.length < s.config.codeLimit) return show({ ...s, mode: { ...mode, digits } }, ctx);
      return request({ ...s, swallowHash: !complete }, { kind: "program", code: mode.code, slot: mode.slot, op: "set_code", inUse: mode.inUse }, {
        kind: "program",
        who: who(s),
        programmerCode: mode.code,
        op: { kind: "set_code", slot: mode.slot, code: digits },
      });
    }

    case "prog_parts": {
      if (key === "*") return show(s, ctx);
      if (key === "#") {
        return request(s, { kind: "program", code: mode.code, slot: mode.slot, op: "set_partitions", inUse: true }, {
          kind: "program",
          who: who(s),
          programmerCode: mode.code,
          op: { kind: "set_partitions", slot: mode.slot, partitions: [...mode.parts] },
        });
      }
      const p = Number(key);
      if (p < 1 || p > MAX_PARTITION_KEY) return show(s, ctx);
      const parts = mode.parts.includes(p) ? mode.parts.filter((x) => x !== p) : uniqueSorted([...mode.parts, p]);
      return show({ ...s, mode: { ...mode, parts } }, ctx);
    }

    case "dealer_menu":
      if (key === "1" || key === "2") {
        const op = key === "1" ? "grant" : "revoke";
        return request(s, { kind: "dealer", op }, { kind: "dealer", who: who(s), masterCode: mode.code, op });
      }
      if (key === "#") return show({ ...s, mode: IDLE }, ctx);
      return show({ ...s, notice: previousNotice }, ctx);

    case "awaiting":
      return { state: s, effects: [] };
  }
}

function submitAccess(
  s: SessionState,
  credential: Credential,
  action: EntryAction,
  doorLockId: string | undefined,
  ctx: StepContext,
): StepResult {
  const resolved: KeypadAction =
    action !== "auto" ? action : ctx.status(s.selected).some((p) => s.selected.includes(p.partition) && p.state !== "disarmed") ? "disarm" : "arm_away";
  const req: BackendRequest =
    doorLockId !== undefined
      ? { kind: "access", who: who(s), credential, action: resolved, doorLockId }
      : { kind: "access", who: who(s), credential, action: resolved };
  return request(s, { kind: "access" }, req);
}

function onAwaiting(state: SessionState, awaiting: Awaiting, input: SessionInput, ctx: StepContext): StepResult {
  // The shell serialises a connection's inputs, so only the answer arrives here; anything else
  // (a programming error in a shell) is ignored rather than combined with the pending request.
  const idle: SessionState = { ...state, mode: IDLE };
  if (input.t === "backend_failed") return show({ ...idle, notice: TEXT.unavailable }, ctx);

  if (awaiting.kind === "access" && input.t === "access_answer") {
    const a = input.answer;
    if (a.granted) {
      const label = a.label === undefined ? "" : safeLabel(a.label);
      return show({ ...idle, notice: label === "" ? TEXT.granted : `${TEXT.granted} — ${label}` }, ctx);
    }
    if (a.lockedForMs !== undefined && a.lockedForMs > 0) {
      return show({ ...idle, lockedUntil: ctx.at + a.lockedForMs, notice: lockedText(a.lockedForMs) }, ctx);
    }
    return show({ ...idle, notice: TEXT.denied }, ctx);
  }

  if (awaiting.kind === "program" && input.t === "program_answer") {
    const a = input.answer;
    const { code, slot, op, inUse } = awaiting;
    if (a.ok) {
      // A backend that does not say whether the user exists lets the change itself decide.
      if (op === "check_user") return show({ ...state, mode: { m: "prog_menu", code, slot, inUse: a.inUse !== false } }, ctx);
      if (op === "disable_user") return show({ ...state, mode: { m: "prog_slot", code, digits: "" }, notice: `User ${slot} deleted` }, ctx);
      const text = op === "set_code" ? `User ${slot} code set` : `User ${slot} partitions saved`;
      return show({ ...state, mode: { m: "prog_menu", code, slot, inUse: true }, notice: text }, ctx);
    }
    const refusal = programRefusal(a.error);
    // A refused programmer (wrong code, not allowed) leaves programming altogether.
    if (refusal === TEXT.denied) return show({ ...idle, notice: TEXT.denied }, ctx);
    if (refusal === TEXT.noSuchUser) return show({ ...state, mode: { m: "prog_slot", code, digits: "" }, notice: refusal }, ctx);
    if (op === "check_user") return show({ ...idle, notice: TEXT.denied }, ctx);
    return show({ ...state, mode: { m: "prog_menu", code, slot, inUse }, notice: refusal }, ctx);
  }

  if (awaiting.kind === "dealer" && input.t === "dealer_answer") {
    const a = input.answer;
    if (a.ok) return show({ ...idle, notice: awaiting.op === "grant" ? TEXT.dealerGranted : TEXT.dealerEnded }, ctx);
    if (awaiting.op === "revoke" && a.error === "dealer_access_not_active") return show({ ...idle, notice: TEXT.dealerNotActive }, ctx);
    return show({ ...idle, notice: TEXT.denied }, ctx);
  }

  return { state, effects: [] };
}

/** Validation errors a legitimate programmer can fix; anything else is a plain "Access denied". */
const CODE_ERRORS = new Set(["code_in_use", "invalid_code_length", "invalid_code", "weak_code"]);
const RULE_ERRORS = new Set(["master_cannot_be_disabled", "master_all_partitions", "partition_out_of_range", "code_required", "version_conflict"]);

export function programRefusal(error: string | undefined): string {
  if (error === undefined) return TEXT.denied;
  if (CODE_ERRORS.has(error)) return TEXT.codeNotAccepted;
  if (error === "slot_out_of_range") return TEXT.noSuchUser;
  if (RULE_ERRORS.has(error)) return TEXT.notAccepted;
  return TEXT.denied;
}

// ---------------------------------------------------------------------------------------------
// Helpers

function show(state: SessionState, ctx: StepContext): StepResult {
  return { state, effects: [{ kind: "display", display: render(state, ctx) }] };
}

function request(state: SessionState, awaiting: Awaiting, req: BackendRequest): StepResult {
  return { state: { ...state, mode: { m: "awaiting", awaiting } }, effects: [{ kind: "request", request: req }] };
}

function who(s: SessionState): KeypadIdentity {
  return { keypadId: s.keypadId, partitions: [...s.selected] };
}

function append(digits: Secret, key: string): Secret {
  return new Secret(digits.reveal() + key);
}

function uniqueSorted(values: readonly number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}
