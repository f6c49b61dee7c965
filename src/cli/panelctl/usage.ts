/**
 * panelctl's usage errors and the parsers of its option values. Every parser refuses a bad value
 * with a sentence that never repeats the value: a code typed into the wrong flag must not be
 * printed back (commander's own messages quote it, so they are reworded in program.ts).
 */
import { Option, type Command } from "commander";
import { PAGE_SIZES, type PageSize } from "../../domain/index.js";

/** A usage error: exit 1, its message and the subcommand's usage on stderr. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Process exit codes (for scripts); see src/bin/panelctl.ts. */
export const EXIT = { ok: 0, usage: 1, rejected: 2, pending: 3, connection: 4 } as const;

/** An option whose value is one of `choices`: the help lists them, any other value is refused with `message`. */
export function choiceOption<T = string>(flags: string, description: string, choices: readonly string[], message: string, convert?: (text: string) => T): Option {
  return new Option(flags, description).choices(choices).argParser((text: string) => {
    if (!choices.includes(text)) throw new UsageError(message);
    return convert ? convert(text) : text;
  });
}

/** Collects a repeatable option's values in order, each through `parse`. */
export function repeatable<T>(parse: (text: string) => T): (text: string, previous: T[] | undefined) => T[] {
  return (text, previous) => [...(previous ?? []), parse(text)];
}

/** A value that must not be empty (an empty required value reads as a missing one). */
export function nonEmpty(flag: string): (text: string) => string {
  return (text) => {
    if (text === "") throw new UsageError(`${flag} is required`);
    return text;
  };
}

/**
 * A file name for a usage error: the name as given, unless it is only digits (and spaces or
 * dashes), which may be a code typed after the wrong flag (`--key 4821`); then the flag names it.
 */
export function fileName(path: string, flag: string): string {
  return /^[0-9\s-]*$/.test(path) ? `the file given to ${flag}` : path;
}

export function wholeNumber(flag: string, min: number, max: number): (text: string) => number {
  return (text) => {
    if (!/^[0-9]+$/.test(text) || Number(text) < min || Number(text) > max) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}`);
    return Number(text);
  };
}

export const SLOT_SENTENCE = "--slot is a user number: a whole number, 1 or more (1 is the Master)";

export function slotNumber(text: string): number {
  if (!/^[0-9]+$/.test(text) || Number(text) < 1 || Number(text) > 1_000_000) throw new UsageError(SLOT_SENTENCE);
  return Number(text);
}

export function pageSizeOption(): Option {
  return choiceOption<PageSize>("--per-page <N>", "rows per page", PAGE_SIZES.map(String), "--per-page is 10, 15, 50, 100 or 200", (t) => Number(t) as PageSize).default(15);
}

export function pageOption(): Option {
  return new Option("--page <N>", "page number").argParser(wholeNumber("--page", 1, 1_000_000)).default(1);
}

export function isoTime(flag: string): (text: string) => number {
  return (text) => {
    const t = Date.parse(text);
    if (!Number.isFinite(t)) throw new UsageError(`${flag} must be an ISO date/time, e.g. 2026-12-24T18:00:00Z`);
    return t;
  };
}

/** "1,2,5-8" as [1, 2, 5, 6, 7, 8]. */
export function partitionList(text: string): number[] {
  const partitions: number[] = [];
  for (const piece of text.split(",")) {
    const m = /^([0-9]{1,2})(?:-([0-9]{1,2}))?$/.exec(piece.trim());
    if (!m) throw new UsageError("--partitions is a list like 1,2,5-8");
    for (let p = Number(m[1]); p <= Number(m[2] ?? m[1]); p++) partitions.push(p);
  }
  return partitions;
}

const DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
function day(text: string): number {
  const t = text.trim().toLowerCase();
  if (/^[0-6]$/.test(t)) return Number(t);
  const i = DAY_NAMES.indexOf(t.slice(0, 3));
  if (i < 0) throw new UsageError("--weekly days are 0-6 (0 = Sunday) or sun..sat");
  return i;
}

function minutes(text: string, isEnd: boolean): number {
  const m = /^([0-9]{1,2}):([0-9]{2})$/.exec(text);
  if (!m) throw new UsageError("--weekly times are HH:MM");
  const value = Number(m[1]) * 60 + Number(m[2]);
  if (Number(m[2]) > 59 || value > (isEnd ? 1440 : 1439) || (isEnd && value === 0)) throw new UsageError("--weekly times are 00:00..23:59 (24:00 as an end)");
  return value;
}

/** "1-5 08:00-17:00", "sat,sun 22:00-06:00" (a window whose end is not after its start crosses midnight). */
export function parseWeekly(spec: string): { days: number[]; start: number; end: number } {
  const parts = spec.trim().split(/\s+/);
  if (parts.length !== 2) throw new UsageError('--weekly takes "DAYS HH:MM-HH:MM", e.g. "1-5 08:00-17:00"');
  const days = new Set<number>();
  for (const piece of parts[0]!.split(",")) {
    const [a, b] = piece.split("-");
    if (b === undefined) days.add(day(a!));
    else
      for (let d = day(a!), end = day(b); ; d = (d + 1) % 7) {
        days.add(d);
        if (d === end) break;
      }
  }
  const [s, e] = parts[1]!.split("-");
  if (s === undefined || e === undefined) throw new UsageError("--weekly times are HH:MM-HH:MM");
  return { days: [...days].sort((x, y) => x - y), start: minutes(s, false), end: minutes(e, true) };
}

/**
 * Refuses `--flag -x` where --flag takes a value, before commander reads "-x" as that value: the
 * rule util.parseArgs had (`--flag=-x` stays allowed, and `--code -` reads stdin). Without it a
 * mistyped line such as `--label --slot 2` or `--code -4821` would be taken at its word.
 */
export function refuseFlagLikeValues(args: readonly string[], cmd: Command): void {
  for (let i = 0; i < args.length - 1; i++) {
    const arg = args[i]!;
    if (arg === "--") return;
    if (!arg.startsWith("--") || arg.includes("=")) continue;
    const option = cmd.options.find((o) => o.long === arg);
    if (!option?.required) continue;
    const next = args[i + 1]!;
    if (next.length > 1 && next.startsWith("-")) {
      if (!/^-[0-9]/.test(next)) throw new UsageError(`${arg} needs a value`);
      if (arg === "--slot") throw new UsageError(SLOT_SENTENCE);
      if (arg === "--code") throw new UsageError("--code takes digits only");
      throw new UsageError(`${arg} cannot be negative`);
    }
    i++;
  }
}
