import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { Secret } from "../../../src/domain/secret.js";
import {
  createSession,
  lockedText,
  nextDeadline,
  programRefusal,
  safeLabel,
  statusLine,
  step,
  TEXT,
  type BackendRequest,
} from "../../../src/keypad/session.js";
import { SessionHarness, type Answerer } from "../../helpers/keypad-harness.js";

function access(req: BackendRequest | undefined) {
  if (req?.kind !== "access") throw new Error(`expected an access request, got ${req?.kind}`);
  return req;
}
function program(req: BackendRequest | undefined) {
  if (req?.kind !== "program") throw new Error(`expected a program request, got ${req?.kind}`);
  return req;
}

const denyAll: Answerer = (r) =>
  r.kind === "access" ? { t: "access_answer", answer: { granted: false } } : { t: `${r.kind}_answer`, answer: { ok: false, error: "permission_denied" } };

describe("keypad session: display", () => {
  it("starts idle with the partition status and a prompt", () => {
    const h = new SessionHarness({ partitions: [1, 2] });
    h.arm.set(2, "armed_away");
    expect(h.screen).toEqual({ line1: "P1 Disarmed  P2 Armed away", line2: "Enter code" });
  });

  it("names every arm state and an unknown partition", () => {
    expect(
      statusLine(
        [1, 2, 3, 4],
        [
          { partition: 1, state: "disarmed" },
          { partition: 2, state: "armed_stay" },
          { partition: 3, state: "armed_away" },
        ],
      ),
    ).toBe("P1 Disarmed  P2 Armed stay  P3 Armed away  P4 Unknown");
  });

  it("shows one * per digit typed, never the digit", () => {
    const h = new SessionHarness();
    expect(h.keys("9").at(-1)).toEqual({ line1: "P1 Disarmed", line2: "Code: *" });
    expect(h.keys("87").at(-1)?.line2).toBe("Code: ***");
  });

  it("rounds a lockout up to whole seconds", () => {
    expect(lockedText(77_001)).toBe("Keypad locked 78 s");
    expect(lockedText(78_000)).toBe("Keypad locked 78 s");
    expect(lockedText(1)).toBe("Keypad locked 1 s");
  });

  it("strips control characters from backend labels", () => {
    expect(safeLabel("User\u001b[2J 4\n")).toBe("User[2J 4");
    expect(safeLabel("x".repeat(50))).toHaveLength(32);
  });

  it("refuses a keypad without partitions", () => {
    expect(() => createSession({ keypadId: "kp", partitions: [] }, 0)).toThrow(RangeError);
  });
});

describe("keypad session: access entries", () => {
  it("submits digits on # and arms away when every partition is disarmed", () => {
    const h = new SessionHarness({ partitions: [1, 2] });
    const shown = h.keys("1234#");
    const req = access(h.lastRequest);
    expect(req.action).toBe("arm_away");
    expect(req.credential.kind).toBe("pin");
    expect(req.credential.value.reveal()).toBe("1234");
    expect(req.who).toEqual({ keypadId: "kp1", partitions: [1, 2] });
    expect(req.doorLockId).toBeUndefined();
    expect(shown.at(-1)).toEqual({ line1: "P1 Disarmed  P2 Disarmed", line2: "Access granted — User 1" });
  });

  it("a bare code disarms when any selected partition is armed", () => {
    const h = new SessionHarness({ partitions: [1, 2] });
    h.arm.set(2, "armed_stay");
    h.keys("1234#");
    expect(access(h.lastRequest).action).toBe("disarm");
  });

  it("submits by itself when the panel's code length is reached, and ignores the habitual #", () => {
    const h = new SessionHarness({ codeLength: 4 });
    expect(h.keys("123").length).toBe(3);
    h.keys("4");
    expect(h.requests).toHaveLength(1);
    expect(h.screen.line2).toBe("Access granted — User 1");
    expect(h.keys("#")).toEqual([]);
    expect(h.screen.line2).toBe("Access granted — User 1");
    // only one # is swallowed
    expect(h.keys("#").at(-1)?.line2).toBe("Enter code");
  });

  it("submits at 8 digits when no code length is configured", () => {
    const h = new SessionHarness({ codeLength: null });
    h.keys("1234567");
    expect(h.requests).toHaveLength(0);
    h.keys("8");
    expect(access(h.lastRequest).credential.value.reveal()).toBe("12345678");
  });

  it.each([
    ["stay", "Arm stay", "arm_stay"],
    ["away", "Arm away", "arm_away"],
    ["disarm", "Disarm", "disarm"],
  ] as const)("the %s key chooses the action", (key, label, action) => {
    const h = new SessionHarness();
    expect(h.press(key).at(-1)?.line2).toBe(`${label}: enter code`);
    expect(h.keys("12").at(-1)?.line2).toBe(`${label}: **`);
    h.keys("34#");
    expect(access(h.lastRequest).action).toBe(action);
  });

  it("# with no digits clears a pending action", () => {
    const h = new SessionHarness();
    h.press("stay");
    expect(h.keys("#").at(-1)?.line2).toBe("Enter code");
    h.keys("1234#");
    expect(access(h.lastRequest).action).toBe("arm_away");
  });

  it("* discards typed digits and opens the function menu; # leaves it", () => {
    const h = new SessionHarness();
    h.keys("12");
    expect(h.keys("*").at(-1)?.line2).toBe(TEXT.functionMenu);
    expect(h.keys("*").at(-1)?.line2).toBe(TEXT.functionMenu);
    expect(h.keys("#").at(-1)?.line2).toBe("Enter code");
    h.keys("3456#");
    expect(access(h.lastRequest).credential.value.reveal()).toBe("3456");
  });

  it("an unknown * function says so", () => {
    const h = new SessionHarness();
    expect(h.keys("*9").at(-1)?.line2).toBe("Function not available");
    expect(h.requests).toHaveLength(0);
  });

  it("a whole entry goes straight to the backend", () => {
    const h = new SessionHarness();
    h.keys("99");
    h.send({ t: "entry", action: "arm_stay", code: new Secret("1234") });
    const req = access(h.lastRequest);
    expect(req.action).toBe("arm_stay");
    expect(req.credential.value.reveal()).toBe("1234");
    expect(h.screen.line2).toBe("Access granted — User 1");
  });

  it("a whole entry with action auto resolves like a bare code", () => {
    const h = new SessionHarness();
    h.arm.set(1, "armed_away");
    h.send({ t: "entry", action: "auto", code: new Secret("1234") });
    expect(access(h.lastRequest).action).toBe("disarm");
  });
});

describe("keypad session: results", () => {
  it("a grant without a label says only Access granted", () => {
    const h = new SessionHarness({}, () => ({ t: "access_answer", answer: { granted: true } }));
    expect(h.keys("1234#").at(-1)?.line2).toBe("Access granted");
  });

  it("every denial reads Access denied, whatever the backend adds", () => {
    const answers = [{ granted: false }, { granted: false, label: "User 4", slot: 4 }, { granted: false, lockedForMs: 0 }];
    for (const answer of answers) {
      const h = new SessionHarness({}, () => ({ t: "access_answer", answer }));
      expect(h.keys("1234#").at(-1)).toEqual({ line1: "P1 Disarmed", line2: "Access denied" });
    }
  });

  it("a duress code shows as an ordinary disarm", () => {
    const h = new SessionHarness({}, () => ({ t: "access_answer", answer: { granted: true, label: "User 9", slot: 9 } }));
    h.arm.set(1, "armed_away");
    h.keys("9999#");
    expect(access(h.lastRequest).action).toBe("disarm");
    expect(h.screen.line2).toBe("Access granted — User 9");
  });

  it("counts a lockout down each second to its end, then shows the idle prompt", () => {
    const h = new SessionHarness({}, () => ({ t: "access_answer", answer: { granted: false, lockedForMs: 3_500 } }));
    const start = h.at;
    expect(h.keys("1234#").at(-1)?.line2).toBe("Keypad locked 4 s");
    const shown: string[] = [];
    for (let deadline = nextDeadline(h.state); deadline !== null; deadline = nextDeadline(h.state)) {
      expect(deadline).toBeGreaterThan(h.at);
      h.at = deadline;
      const out = h.send({ t: "tick" });
      expect(out).toHaveLength(1);
      shown.push(`${h.at - start}: ${out[0]!.line2}`);
    }
    expect(shown).toEqual(["500: Keypad locked 3 s", "1500: Keypad locked 2 s", "2500: Keypad locked 1 s", "3500: Enter code"]);
    // a key during the lock restarts nothing: the countdown goes on from the lock's end
    h.keys("1234#");
    h.at += 1_200;
    expect(h.keys("7").at(-1)?.line2).toBe("Keypad locked 3 s");
    expect(nextDeadline(h.state)).toBe(h.at + 300);
    // a tick that comes early changes nothing; a late one shows the time left then
    expect(h.send({ t: "tick" })).toEqual([]);
    h.at += 1_700;
    expect(h.send({ t: "tick" }).at(-1)?.line2).toBe("Keypad locked 1 s");
  });

  it("shows a lockout and enforces it locally until it ends", () => {
    const h = new SessionHarness({}, () => ({ t: "access_answer", answer: { granted: false, lockedForMs: 78_000 } }));
    expect(h.keys("1234#").at(-1)?.line2).toBe("Keypad locked 78 s");
    h.at += 10_000;
    expect(h.keys("5").at(-1)?.line2).toBe("Keypad locked 68 s");
    h.send({ t: "tag", tag: new Secret("AB12") });
    h.send({ t: "entry", action: "disarm", code: new Secret("1234") });
    h.keys("*5");
    expect(h.requests).toHaveLength(1);
    h.at += 68_000;
    h.answer = () => ({ t: "access_answer", answer: { granted: true, label: "User 2" } });
    expect(h.keys("1234#").at(-1)?.line2).toBe("Access granted — User 2");
    expect(h.requests).toHaveLength(2);
  });

  it("a backend failure reads Service unavailable", () => {
    const h = new SessionHarness({}, () => ({ t: "backend_failed" }));
    expect(h.keys("1234#").at(-1)?.line2).toBe("Service unavailable");
  });

  it("ignores answers nobody waits for, and other inputs while waiting", () => {
    const s0 = createSession({ keypadId: "kp", partitions: [1] }, 0);
    const ctx = { at: 0, status: () => [] };
    expect(step(s0, { t: "access_answer", answer: { granted: true } }, ctx)).toEqual({ state: s0, effects: [] });
    const waiting = step(s0, { t: "entry", action: "disarm", code: new Secret("1234") }, ctx).state;
    expect(waiting.mode.m).toBe("awaiting");
    expect(step(waiting, { t: "key", key: "1" }, ctx).effects).toEqual([]);
    expect(step(waiting, { t: "program_answer", answer: { ok: true } }, ctx).effects).toEqual([]);
    expect(nextDeadline(waiting)).toBeNull();
  });
});

describe("keypad session: timeouts", () => {
  it("clears a half-typed entry after 30 s without keys", () => {
    const h = new SessionHarness();
    h.press("stay");
    h.keys("12");
    expect(nextDeadline(h.state)).toBe(h.at + 30_000);
    expect(h.tick(29_999)).toEqual([]);
    expect(h.tick(1)).toEqual([{ line1: "P1 Disarmed", line2: "Enter code" }]);
    expect(nextDeadline(h.state)).toBeNull();
    expect(h.tick(60_000)).toEqual([]);
  });

  it("never joins stale digits to new ones, even without a tick", () => {
    const h = new SessionHarness();
    h.keys("12");
    h.at += 30_000;
    h.keys("3456#");
    expect(access(h.lastRequest).credential.value.reveal()).toBe("3456");
    expect(access(h.lastRequest).action).toBe("arm_away");
  });

  it("clears a result after 30 s", () => {
    const h = new SessionHarness();
    h.keys("1234#");
    expect(h.tick(30_000).at(-1)?.line2).toBe("Enter code");
  });

  it("leaves a programming menu after 120 s, not 30 s", () => {
    const h = new SessionHarness();
    h.keys("*51234#");
    expect(h.tick(30_000)).toEqual([]);
    expect(h.tick(90_000).at(-1)?.line2).toBe("Enter code");
    expect(h.state.mode.m).toBe("entry");
  });

  it("honours configured timeouts", () => {
    const h = new SessionHarness({ entryTimeoutMs: 5_000, menuTimeoutMs: 7_000 });
    h.keys("1");
    expect(h.tick(5_000).at(-1)?.line2).toBe("Enter code");
    h.keys("*6");
    expect(h.tick(6_999)).toEqual([]);
    expect(h.tick(1).at(-1)?.line2).toBe("Enter code");
  });
});

describe("keypad session: tags, doors and partitions", () => {
  it("a tag read is a tag credential for the bare-code action", () => {
    const h = new SessionHarness();
    h.send({ t: "tag", tag: new Secret("04A1B2C3") });
    const req = access(h.lastRequest);
    expect(req.credential).toMatchObject({ kind: "tag" });
    expect(req.credential.value.reveal()).toBe("04A1B2C3");
    expect(req.action).toBe("arm_away");
  });

  it("a tag after a function key takes that action", () => {
    const h = new SessionHarness();
    h.press("stay");
    h.send({ t: "tag", tag: new Secret("04A1") });
    expect(access(h.lastRequest).action).toBe("arm_stay");
  });

  it("a tag at a door lock opens it", () => {
    const h = new SessionHarness();
    h.send({ t: "tag", tag: new Secret("04A1"), doorLockId: "front" });
    expect(access(h.lastRequest)).toMatchObject({ action: "open", doorLockId: "front" });
    h.send({ t: "door", doorLockId: "back" });
    h.send({ t: "tag", tag: new Secret("04A1") });
    expect(access(h.lastRequest)).toMatchObject({ action: "open", doorLockId: "back" });
  });

  it("door selects a lock for the next code", () => {
    const h = new SessionHarness();
    expect(h.send({ t: "door", doorLockId: "front" }).at(-1)?.line2).toBe("Open front: enter code");
    expect(h.keys("12").at(-1)?.line2).toBe("Open front: **");
    h.keys("34#");
    expect(access(h.lastRequest)).toMatchObject({ action: "open", doorLockId: "front" });
  });

  it("switches between assigned partitions; 0 selects them all", () => {
    const h = new SessionHarness({ partitions: [2, 1] });
    h.arm.set(2, "armed_stay");
    expect(h.send({ t: "partition", partition: 1 }).at(-1)).toEqual({ line1: "P1 Disarmed", line2: "Enter code" });
    h.keys("1234#");
    expect(access(h.lastRequest)).toMatchObject({ action: "arm_away", who: { partitions: [1] } });
    expect(h.send({ t: "partition", partition: 3 }).at(-1)).toEqual({ line1: "P1 Disarmed", line2: "Partition 3 not assigned" });
    expect(h.send({ t: "partition", partition: 0 }).at(-1)?.line1).toBe("P1 Disarmed  P2 Armed stay");
    h.keys("1234#");
    expect(access(h.lastRequest)).toMatchObject({ action: "disarm", who: { partitions: [1, 2] } });
  });

  it("a partition switch cancels a half-typed entry", () => {
    const h = new SessionHarness({ partitions: [1, 2] });
    h.keys("12");
    h.send({ t: "partition", partition: 2 });
    h.keys("3456#");
    expect(access(h.lastRequest).credential.value.reveal()).toBe("3456");
  });
});

describe("keypad session: *5 user programming", () => {
  /** In user 4's menu; `answer` answers the changes (the user-number check is answered: user 4 exists). */
  function inMenu(answer?: Answerer): SessionHarness {
    const changes = answer;
    const h = new SessionHarness(
      { codeLength: 4 },
      changes === undefined ? undefined : (r) => (r.kind === "program" && r.op.kind === "check_user" ? { t: "program_answer", answer: { ok: true, inUse: true } } : changes(r)),
    );
    expect(h.keys("*5").at(-1)).toEqual({ line1: "User programming", line2: "Enter Master/Supervisor code" });
    expect(h.keys("12").at(-1)).toEqual({ line1: "User programming", line2: "Master/Supervisor code: **" });
    expect(h.keys("34").at(-1)).toEqual({ line1: "User programming", line2: "Enter user number, # exit" });
    expect(h.keys("#")).toEqual([]); // the habitual # after an auto-submitted code
    expect(h.keys("04").at(-1)).toEqual({ line1: "User programming", line2: "User number: 04" });
    expect(h.keys("#").at(-1)).toEqual({ line1: "User 4", line2: "1 Code  2 Partitions  3 Delete  # Back" });
    return h;
  }

  it("sets a user's code with the programmer's code", () => {
    const h = inMenu();
    expect(h.keys("1").at(-1)).toEqual({ line1: "User 4 new code", line2: "Enter new code" });
    expect(h.keys("567").at(-1)).toEqual({ line1: "User 4 new code", line2: "New code: ***" });
    expect(h.keys("8").at(-1)).toEqual({ line1: "User 4 code set", line2: TEXT.userMenu });
    const req = program(h.lastRequest);
    expect(req.programmerCode.reveal()).toBe("1234");
    expect(req.op.kind).toBe("set_code");
    expect(req.op.slot).toBe(4);
    expect(req.op.kind === "set_code" && req.op.code.reveal()).toBe("5678");
    expect(h.keys("#")).toEqual([]); // swallowed
    expect(h.keys("#").at(-1)?.line2).toBe("Enter user number, # exit");
    expect(h.keys("#").at(-1)).toEqual({ line1: "P1 Disarmed", line2: "Enter code" });
  });

  it("sets partitions by toggling digits and saving with #", () => {
    const h = inMenu();
    expect(h.keys("2").at(-1)).toEqual({ line1: "User 4 partitions", line2: "Partitions: none  # save" });
    expect(h.keys("31").at(-1)?.line2).toBe("Partitions: 1 3  # save");
    expect(h.keys("5").at(-1)?.line2).toBe("Partitions: 1 3 5  # save");
    expect(h.keys("3").at(-1)?.line2).toBe("Partitions: 1 5  # save");
    expect(h.keys("09*").at(-1)?.line2).toBe("Partitions: 1 5  # save");
    expect(h.keys("#").at(-1)).toEqual({ line1: "User 4 partitions saved", line2: TEXT.userMenu });
    expect(program(h.lastRequest).op).toEqual({ kind: "set_partitions", slot: 4, partitions: [1, 5] });
  });

  it("deletes (disables) a user and returns to the user number", () => {
    const h = inMenu();
    expect(h.keys("3").at(-1)).toEqual({ line1: "User 4 deleted", line2: "Enter user number, # exit" });
    expect(program(h.lastRequest).op).toEqual({ kind: "disable_user", slot: 4 });
  });

  it("a refused programmer code reads Access denied at the user number and leaves programming", () => {
    const h = new SessionHarness({ codeLength: 4 }, denyAll);
    h.keys("*51234");
    expect(h.keys("04#").at(-1)).toEqual({ line1: "P1 Disarmed", line2: "Access denied" });
    expect(h.state.mode.m).toBe("entry");
    expect(h.requests.map((r) => r.kind === "program" && r.op)).toEqual([{ kind: "check_user", slot: 4 }]);
  });

  it("refuses a user number the panel does not have at once, before a new code is typed", () => {
    const h = new SessionHarness({ codeLength: 4 }, (r) =>
      r.kind === "program" && r.op.kind === "check_user" && r.op.slot > 1000 ? { t: "program_answer", answer: { ok: false, error: "slot_out_of_range" } } : { t: "program_answer", answer: { ok: true, inUse: true } },
    );
    h.keys("*51234");
    expect(h.keys("9999#").at(-1)).toEqual({ line1: "No such user", line2: "Enter user number, # exit" });
    const req = program(h.lastRequest);
    expect(req.op).toEqual({ kind: "check_user", slot: 9999 });
    expect(req.programmerCode.reveal()).toBe("1234");
    // still in programming: another number goes on
    expect(h.keys("7#").at(-1)).toEqual({ line1: "User 7", line2: TEXT.userMenu });
    expect(h.requests).toHaveLength(2);
  });

  it("refuses partitions and delete for an unused user number at once; a code may still be set there", () => {
    const h = new SessionHarness({ codeLength: 4 }, (r) =>
      r.kind === "program" && r.op.kind === "check_user" ? { t: "program_answer", answer: { ok: true, inUse: false } } : { t: "program_answer", answer: { ok: true } },
    );
    h.keys("*51234");
    expect(h.keys("8#").at(-1)).toEqual({ line1: "User 8", line2: TEXT.userMenu });
    expect(h.keys("2").at(-1)).toEqual({ line1: "No such user", line2: "Enter user number, # exit" });
    h.keys("8#");
    expect(h.keys("3").at(-1)).toEqual({ line1: "No such user", line2: "Enter user number, # exit" });
    expect(h.requests.map((r) => r.kind === "program" && r.op.kind)).toEqual(["check_user", "check_user"]);
    h.keys("8#");
    expect(h.keys("1").at(-1)).toEqual({ line1: "User 8 new code", line2: "Enter new code" });
    expect(h.keys("#").at(-1)).toEqual({ line1: "User 8", line2: TEXT.userMenu }); // back, still unused
    expect(h.keys("3").at(-1)?.line1).toBe("No such user");
    h.keys("8#1");
    expect(h.keys("5678").at(-1)).toEqual({ line1: "User 8 code set", line2: TEXT.userMenu });
    // now there is a user: partitions open
    expect(h.keys("#2").at(-1)).toEqual({ line1: "User 8 partitions", line2: "Partitions: none  # save" });
  });

  it.each([
    ["code_in_use", "Code not accepted"],
    ["invalid_code_length", "Code not accepted"],
    ["weak_code", "Code not accepted"],
    ["master_cannot_be_disabled", "Not accepted"],
    ["master_all_partitions", "Not accepted"],
  ])("a %s refusal reads %s and stays in the user's menu", (error, text) => {
    const h = inMenu((r) => ({ t: `${r.kind}_answer` as "program_answer", answer: { ok: false, error } }));
    expect(h.keys("3").at(-1)).toEqual({ line1: text, line2: TEXT.userMenu });
  });

  it("an unknown user number reads No such user", () => {
    const h = inMenu((r) => ({ t: `${r.kind}_answer` as "program_answer", answer: { ok: false, error: "slot_out_of_range" } }));
    expect(h.keys("3").at(-1)).toEqual({ line1: "No such user", line2: "Enter user number, # exit" });
    expect(h.keys("0#").at(-1)).toEqual({ line1: "No such user", line2: "Enter user number, # exit" });
  });

  it("maps refusal codes without revealing why a programmer was refused", () => {
    for (const error of [undefined, "permission_denied", "master_required", "locked_out", "anything_else"]) {
      expect(programRefusal(error)).toBe("Access denied");
    }
  });

  it("takes at most four digits for a user number; * clears it", () => {
    const h = inMenu();
    h.keys("#");
    expect(h.keys("12345").at(-1)?.line2).toBe("User number: 1234");
    expect(h.keys("*").at(-1)?.line2).toBe("Enter user number, # exit");
  });

  it("the prog (chime) key is *5", () => {
    for (const key of ["prog", "chime"] as const) {
      const h = new SessionHarness();
      expect(h.press(key).at(-1)?.line2).toBe("Enter Master/Supervisor code");
    }
  });

  it("# submits a programmer code shorter than the limit; # alone leaves", () => {
    const h = new SessionHarness();
    h.keys("*5");
    expect(h.keys("#").at(-1)?.line2).toBe("Enter code");
    h.keys("*51234#");
    expect(h.screen.line2).toBe("Enter user number, # exit");
    h.keys("7#1");
    expect(h.keys("*").at(-1)?.line2).toBe("Enter new code");
    expect(h.keys("#").at(-1)?.line1).toBe("User 7");
  });

  it("function keys leave programming", () => {
    const h = inMenu();
    expect(h.press("away").at(-1)?.line2).toBe("Arm away: enter code");
  });

  it("ignores other keys in the user's menu but keeps a result on screen", () => {
    const h = inMenu((r) => ({ t: `${r.kind}_answer` as "program_answer", answer: { ok: false, error: "code_in_use" } }));
    h.keys("15678");
    expect(h.keys("9").at(-1)).toEqual({ line1: "Code not accepted", line2: TEXT.userMenu });
  });
});

describe("keypad session: *6 dealer menu", () => {
  it("grants Security Professional access for 2 h with the Master code", () => {
    const h = new SessionHarness();
    expect(h.keys("*6").at(-1)).toEqual({ line1: "Dealer access", line2: "Enter Master code" });
    expect(h.keys("1234").at(-1)?.line2).toBe("Master code: ****");
    expect(h.keys("#").at(-1)).toEqual({ line1: "Dealer access", line2: "1 Grant 2 h  2 End  # Exit" });
    expect(h.keys("1").at(-1)).toEqual({ line1: "P1 Disarmed", line2: "Dealer access granted 2 h" });
    const req = h.lastRequest;
    expect(req?.kind === "dealer" && req.op).toBe("grant");
    expect(req?.kind === "dealer" && req.masterCode.reveal()).toBe("1234");
  });

  it("ends dealer access", () => {
    const h = new SessionHarness();
    expect(h.keys("*61234#2").at(-1)?.line2).toBe("Dealer access ended");
    expect(h.lastRequest?.kind === "dealer" && h.lastRequest.op).toBe("revoke");
  });

  it("says when there was no dealer access to end", () => {
    const h = new SessionHarness({}, () => ({ t: "dealer_answer", answer: { ok: false, error: "dealer_access_not_active" } }));
    expect(h.keys("*61234#2").at(-1)?.line2).toBe("Dealer access not active");
    expect(h.keys("*61234#1").at(-1)?.line2).toBe("Access denied");
  });

  it("a refused Master code reads Access denied", () => {
    const h = new SessionHarness({}, () => ({ t: "dealer_answer", answer: { ok: false, error: "master_required" } }));
    expect(h.keys("*61234#1").at(-1)?.line2).toBe("Access denied");
  });

  it("# leaves the dealer menu; other keys do nothing", () => {
    const h = new SessionHarness();
    h.keys("*61234#");
    expect(h.keys("7").at(-1)?.line2).toBe(TEXT.dealerMenu);
    expect(h.keys("#").at(-1)?.line2).toBe("Enter code");
    expect(h.requests).toHaveLength(0);
  });
});

describe("keypad session: secrets", () => {
  it("holds typed digits as Secrets: the state prints no digits", () => {
    const h = new SessionHarness();
    h.keys("*5");
    h.keys("8642");
    expect(inspect(h.state, { depth: null })).not.toContain("8642");
    expect(JSON.stringify(h.state)).not.toContain("8642");
    h.keys("#3#1975");
    expect(inspect(h.state, { depth: null })).not.toMatch(/8642|975/);
    expect(JSON.stringify(h.state)).not.toMatch(/8642|975/);
  });
});
