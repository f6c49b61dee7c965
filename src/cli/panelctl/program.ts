/**
 * panelctl's command line: the subcommands on commander, and its errors reworded so that none
 * repeats what was typed unless it is the name of a flag or command (a code typed in the wrong
 * place must never be printed back; commander quotes values in its own messages).
 */
import { Command, CommanderError } from "commander";
import type { Io } from "./action.js";
import { assignAccountCommand } from "./assign-account.js";
import { dealerCommand } from "./dealer.js";
import { disableCommand } from "./disable.js";
import { keygenCommand } from "./keygen.js";
import { logCommand } from "./log.js";
import type { Out } from "./output.js";
import { removeAccountCommand } from "./remove-account.js";
import { setCodeCommand } from "./set-code.js";
import { setLabelCommand } from "./set-label.js";
import { setPartitionsCommand } from "./set-partitions.js";
import { setRoleCommand } from "./set-role.js";
import { setScheduleCommand } from "./set-schedule.js";
import { snapshotCommand } from "./snapshot.js";
import { trustCommand } from "./trust.js";
import { unassignAccountCommand } from "./unassign-account.js";
import { EXIT, refuseFlagLikeValues, UsageError } from "./usage.js";
import { usersCommand } from "./users.js";
import { watchCommand } from "./watch.js";

const EXIT_HELP = `
Exit codes: 0 all applied, 1 usage, 2 rejected (any), 3 pending/timeout (any), 4 connection failure.
Environment: PANELCTL_BROKER, PANELCTL_KEY, PANELCTL_SEQ_FILE, PANELCTL_PASSWORD (see each command's --help).`;

export function buildProgram(io: Io): Command {
  const program = new Command("panelctl")
    .description("Manage panel users over MQTT (signed, sealed commands).")
    .usage("<command> [options]   (panelctl <command> --help)")
    .addCommand(keygenCommand(io))
    .addCommand(setCodeCommand(io))
    .addCommand(setLabelCommand(io))
    .addCommand(setPartitionsCommand(io))
    .addCommand(setRoleCommand(io))
    .addCommand(setScheduleCommand(io))
    .addCommand(disableCommand(io))
    .addCommand(assignAccountCommand(io))
    .addCommand(unassignAccountCommand(io))
    .addCommand(removeAccountCommand(io))
    .addCommand(usersCommand(io))
    .addCommand(logCommand(io))
    .addCommand(snapshotCommand(io))
    .addCommand(dealerCommand(io))
    .addCommand(watchCommand(io))
    .addCommand(trustCommand(io))
    .addHelpText("after", EXIT_HELP);
  // addCommand does not pass settings down: give every command the same output and error handling.
  const output = {
    writeOut: (s: string) => io.out.print(s.replace(/\n$/, "")),
    writeErr: (s: string) => io.out.error(s.replace(/\n$/, "")),
    // Errors are printed by main() in words of its own.
    outputError: () => {},
  };
  for (const cmd of allCommands(program)) {
    cmd.exitOverride().configureOutput(output);
    if (cmd !== program) cmd.addHelpText("after", cmd.commands.length > 0 ? "" : EXIT_HELP);
  }
  return program;
}

function allCommands(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(allCommands)];
}

/** The (sub)command that argv names, and the arguments after its name. */
function commandOf(program: Command, argv: readonly string[]): { cmd: Command; rest: string[] } {
  let cmd = program;
  let i = 0;
  for (; i < argv.length; i++) {
    const next = cmd.commands.find((c) => c.name() === argv[i]);
    if (!next) break;
    cmd = next;
  }
  return { cmd, rest: argv.slice(i) };
}

function pathOf(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** A flag or command name as typed, when it is one (letters and dashes); never a value. */
function nameIn(message: string, quoted: RegExp): string | undefined {
  const name = quoted.exec(message)?.[1];
  return name !== undefined && /^(--?)?[A-Za-z][A-Za-z-]*$/.test(name) ? name : undefined;
}

/** The flag of an option in commander's message ("option '--slot <N>' ..."). */
function flagIn(message: string): string | undefined {
  return /option '(?:-[A-Za-z], )?(--[a-z-]+)/.exec(message)?.[1];
}

const REQUIRED_HINT: Record<string, string> = { "--slot": "--slot is required (the user number, 1 for the Master)" };

/** Commander's error in panelctl's words, without any value from the command line. */
function usageSentence(err: CommanderError, cmd: Command): string {
  switch (err.code) {
    case "commander.excessArguments":
      return "unexpected argument (flags take their value as --flag VALUE)";
    case "commander.unknownOption": {
      const name = nameIn(err.message, /unknown option '([^']*)'/);
      const suggestion = /\(Did you mean (--?[a-z-]+)\?\)/.exec(err.message)?.[1];
      return `${name ? `unknown option ${name}` : "unknown option"}${suggestion ? ` (did you mean ${suggestion}?)` : ""}`;
    }
    case "commander.unknownCommand": {
      const name = nameIn(err.message, /unknown command '([^']*)'/);
      const names = cmd.commands.map((c) => c.name());
      return `${name ? `unknown command ${JSON.stringify(name)}` : "unknown command"}; ${pathOf(cmd)} takes ${names.slice(0, -1).join(", ")} or ${names.at(-1)}`;
    }
    case "commander.optionMissingArgument":
      return `${flagIn(err.message) ?? "an option"} needs a value`;
    case "commander.missingMandatoryOptionValue": {
      const flag = flagIn(err.message);
      return flag ? (REQUIRED_HINT[flag] ?? `${flag} is required`) : "a required option is missing";
    }
    case "commander.invalidArgument":
      return `${flagIn(err.message) ?? "an option"} has a value it does not take`;
    default:
      return "invalid arguments";
  }
}

/** A usage error on stderr: the command, the sentence, the command's usage line. */
function printUsageError(out: Out, cmd: Command, sentence: string): void {
  const path = pathOf(cmd);
  const usage = cmd.parent ? `Usage: ${path} ${cmd.usage()}` : cmd.helpInformation().replace(/\n$/, "");
  out.error(`${path}: ${sentence}\n\n${usage}${cmd.parent ? `\n(${path} --help lists every option)` : ""}`);
}

/**
 * Runs panelctl with `argv` (without node and the script): the exit code (see src/bin/panelctl.ts).
 * Usage errors are printed and give 1; anything else thrown is a bug and is rethrown.
 */
export async function main(argv: string[], out: Out): Promise<number> {
  const io: Io = { out, exit: EXIT.ok };
  const program = buildProgram(io);
  const { cmd, rest } = commandOf(program, argv);
  try {
    refuseFlagLikeValues(rest, cmd);
    await program.parseAsync(argv, { from: "user" });
    return io.exit;
  } catch (err) {
    if (err instanceof UsageError) {
      printUsageError(out, cmd, err.message);
      return EXIT.usage;
    }
    if (err instanceof CommanderError) {
      // --help (0), or a command run without its subcommand (commander printed its help; 1).
      if (err.code === "commander.helpDisplayed" || err.code === "commander.help" || err.code === "commander.version") return err.exitCode;
      printUsageError(out, cmd, usageSentence(err, cmd));
      return EXIT.usage;
    }
    throw err;
  }
}

