import type { ClientMessage } from "./client.js";

/**
 * The emulator's script format (emulator/README.md): one command a line, `#` starts a comment.
 * A script is parsed whole before anything is sent, and every bad line is reported at once.
 * Error texts name the line and the problem, never the value (a value may be a code).
 */
export type ScriptStep = { kind: "send"; messages: ClientMessage[] } | { kind: "wait"; ms: number };

export interface ScriptResult {
  steps: ScriptStep[];
  errors: string[];
}

const NAMED_KEYS = new Set(["stay", "away", "disarm", "prog", "chime"]);
const ACTIONS: Record<string, string> = {
  auto: "auto",
  stay: "arm_stay",
  arm_stay: "arm_stay",
  away: "arm_away",
  arm_away: "arm_away",
  disarm: "disarm",
  open: "open",
};
const ID = /^[A-Za-z0-9_.:-]{1,64}$/;
const TAG = /^[A-Za-z0-9:_-]{1,64}$/;
const CODE = /^[0-9]{1,8}$/;

export function parseScript(text: string): ScriptResult {
  const steps: ScriptStep[] = [];
  const errors: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith("//")) return;
    const [command = "", ...args] = line.split(/\s+/);
    const fail = (problem: string) => errors.push(`script line ${index + 1}: ${problem}`);
    switch (command.toLowerCase()) {
      case "keys": {
        const chars = args.join("");
        if (!/^[0-9*#]+$/.test(chars)) return fail("keys takes digits, * and # only");
        steps.push({ kind: "send", messages: [...chars].map((k) => ({ t: "key", k })) });
        return;
      }
      case "key":
      case "press": {
        const name = (args[0] ?? "").toLowerCase();
        if (args.length !== 1 || !(NAMED_KEYS.has(name) || /^[0-9*#]$/.test(name))) return fail("key takes one key: 0-9, *, #, stay, away, disarm, prog or chime");
        steps.push({ kind: "send", messages: [{ t: "key", k: name }] });
        return;
      }
      case "stay":
      case "away":
      case "disarm":
      case "prog":
      case "chime":
        if (args.length > 0) return fail(`${command} takes no arguments (use entry ${command} CODE)`);
        steps.push({ kind: "send", messages: [{ t: "key", k: command.toLowerCase() }] });
        return;
      case "entry": {
        const [action = "", code = "", door] = args;
        const a = ACTIONS[action.toLowerCase()];
        if (a === undefined) return fail("entry takes an action: auto, stay, away, disarm or open");
        if (!CODE.test(code)) return fail("entry code must be 1 to 8 digits");
        if (door !== undefined && !ID.test(door)) return fail("door lock id must be letters, digits, _ . : -");
        if (args.length > 3) return fail("entry takes ACTION CODE [DOOR]");
        steps.push({ kind: "send", messages: [door === undefined ? { t: "entry", action: a, code } : { t: "entry", action: a, code, door }] });
        return;
      }
      case "tag": {
        const [tag = "", door] = args;
        if (!TAG.test(tag)) return fail("tag id must be 1 to 64 letters or digits");
        if (door !== undefined && !ID.test(door)) return fail("door lock id must be letters, digits, _ . : -");
        if (args.length > 2) return fail("tag takes TAG [DOOR]");
        steps.push({ kind: "send", messages: [door === undefined ? { t: "tag", tag } : { t: "tag", tag, door }] });
        return;
      }
      case "door": {
        const [door = "", code] = args;
        if (!ID.test(door)) return fail("door takes a lock id (letters, digits, _ . : -)");
        if (code !== undefined && !CODE.test(code)) return fail("door code must be 1 to 8 digits");
        if (args.length > 2) return fail("door takes LOCK [CODE]");
        steps.push({ kind: "send", messages: [code === undefined ? { t: "door", door } : { t: "entry", action: "open", code, door }] });
        return;
      }
      case "partition": {
        const n = Number(args[0]);
        if (args.length !== 1 || !Number.isInteger(n) || n < 0 || n > 64) return fail("partition takes a number 0-64 (0 = all)");
        steps.push({ kind: "send", messages: [{ t: "partition", partition: n }] });
        return;
      }
      case "refresh":
        steps.push({ kind: "send", messages: [{ t: "refresh" }] });
        return;
      case "wait": {
        const ms = Number(args[0]);
        if (args.length !== 1 || !Number.isInteger(ms) || ms < 0 || ms > 600_000) return fail("wait takes milliseconds (0-600000)");
        steps.push({ kind: "wait", ms });
        return;
      }
      default:
        return fail("unknown command (keys, key, stay, away, disarm, prog, chime, entry, tag, door, partition, refresh, wait)");
    }
  });
  return { steps, errors };
}
