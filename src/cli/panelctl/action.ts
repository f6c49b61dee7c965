/**
 * How a subcommand runs: its own options are checked first (commander's parsers, then the
 * subcommand's cross-checks), and only then is a client connected. Nothing is sent on a usage error.
 */
import { Option, type Command } from "commander";
import { addConnectionOptions, withClient, type Ctx, type Needs } from "./connection.js";
import type { Out } from "./output.js";
import { slotNumber, wholeNumber } from "./usage.js";

/** Where a subcommand prints, and the exit code it leaves. */
export interface Io {
  out: Out;
  exit: number;
}

/** A subcommand's action without a broker (keygen): it gets its options, returns the exit code. */
export function localAction<O>(cmd: Command, io: Io, fn: (opts: O) => number): Command {
  return cmd.action((_opts: unknown, self: Command) => {
    const opts = self.opts<O & { json?: boolean }>();
    io.out.json = opts.json === true;
    io.exit = fn(opts);
  });
}

/**
 * A panel subcommand: adds the shared options; `plan` checks this subcommand's options and returns
 * what to do once connected.
 */
export function panelAction<O>(cmd: Command, io: Io, needs: Needs, plan: (opts: O) => (ctx: Ctx) => Promise<number>): Command {
  return addConnectionOptions(cmd).action(async (_opts: unknown, self: Command) => {
    const opts = self.opts<O & { json?: boolean }>();
    io.out.json = opts.json === true;
    const run = plan(opts);
    io.exit = await withClient(self, io.out, needs, run);
  });
}

export interface SlotOptions {
  slot: number;
  expectedVersion?: number;
}

/** --slot N, required. */
export function slotOption(): Option {
  return new Option("--slot <N>", "the user number (1 is the Master)").argParser(slotNumber).makeOptionMandatory();
}

/** --expected-version V: apply only if the user is still at that version. */
export function expectedVersionOption(): Option {
  return new Option("--expected-version <V>", "apply only if the user is still at this version").argParser(wholeNumber("--expected-version", 0, Number.MAX_SAFE_INTEGER));
}

export function withSlotOptions(cmd: Command): Command {
  return cmd.addOption(slotOption()).addOption(expectedVersionOption());
}

export function expected(o: SlotOptions): { expectedVersion?: number } {
  return o.expectedVersion === undefined ? {} : { expectedVersion: o.expectedVersion };
}
