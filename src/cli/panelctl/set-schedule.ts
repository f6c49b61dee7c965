/** panelctl set-schedule: when a user's code works (always, weekly windows, or from one time to another). */
import { Command, Option } from "commander";
import { expected, panelAction, withSlotOptions, type Io, type SlotOptions } from "./action.js";
import { sendAndReport } from "./send.js";
import { isoTime, parseWeekly, repeatable, UsageError } from "./usage.js";

interface SetScheduleOptions extends SlotOptions {
  always?: boolean;
  weekly?: Array<ReturnType<typeof parseWeekly>>;
  from?: number;
  to?: number;
}

export function setScheduleCommand(io: Io): Command {
  const cmd = withSlotOptions(
    new Command("set-schedule")
      .summary("set when a user's code works")
      .description("Set when a user's code works.")
      .usage('--panel ID --slot N (--always | --weekly "DAYS HH:MM-HH:MM" [--weekly ...] | --from ISO --to ISO)')
      .option("--always", "at any time")
      .addOption(new Option("--weekly <SPEC>", 'a weekly window "DAYS HH:MM-HH:MM" (repeatable)').argParser(repeatable(parseWeekly)))
      .addOption(new Option("--from <ISO>", "temporary access from").argParser(isoTime("--from")))
      .addOption(new Option("--to <ISO>", "temporary access until").argParser(isoTime("--to"))),
  ).addHelpText(
    "after",
    `
DAYS: 0-6 (0 = Sunday) or sun..sat, ranges and lists: "1-5", "sat,sun", "fri-mon". Local panel time;
a window that ends at or before its start crosses midnight.`,
  );
  return panelAction<SetScheduleOptions>(cmd, io, { signs: true, panels: true }, (o) => {
    const weekly = o.weekly ?? [];
    const modes = [o.always === true, weekly.length > 0, o.from !== undefined || o.to !== undefined].filter(Boolean).length;
    if (modes !== 1) throw new UsageError("give exactly one of --always, --weekly or --from/--to");
    if (o.always !== true && weekly.length === 0) {
      if (o.from === undefined) throw new UsageError("--from is required");
      if (o.to === undefined) throw new UsageError("--to is required");
    }
    const schedule =
      o.always === true
        ? { kind: "always" as const }
        : weekly.length > 0
          ? { kind: "weekly" as const, windows: weekly }
          : { kind: "temporary" as const, from: o.from!, to: o.to! };
    return (ctx) => sendAndReport(ctx, () => ({ kind: "set_schedule", slot: o.slot, schedule, ...expected(o) }));
  });
}
