/** panelctl set-label: a user's label, or first and last name. */
import { Command } from "commander";
import { expected, panelAction, withSlotOptions, type Io, type SlotOptions } from "./action.js";
import { sendAndReport } from "./send.js";
import { UsageError } from "./usage.js";

interface SetLabelOptions extends SlotOptions {
  label?: string;
  first?: string;
  last?: string;
}

export function setLabelCommand(io: Io): Command {
  const cmd = withSlotOptions(
    new Command("set-label")
      .summary("set a user's label (or first and last name)")
      .description("Set a user's label, or first and last name.")
      .usage("--panel ID --slot N (--label TEXT | --first NAME [--last NAME]) [--expected-version V]")
      .option("--label <TEXT>", "the label")
      .option("--first <NAME>", "first name")
      .option("--last <NAME>", "last name"),
  );
  return panelAction<SetLabelOptions>(cmd, io, { signs: true, panels: true }, (o) => {
    if (o.label === undefined && o.first === undefined && o.last === undefined) throw new UsageError("give --label or --first/--last");
    const names = { ...(o.label !== undefined ? { label: o.label } : {}), ...(o.first !== undefined ? { firstName: o.first } : {}), ...(o.last !== undefined ? { lastName: o.last } : {}) };
    return (ctx) => sendAndReport(ctx, () => ({ kind: "set_label", slot: o.slot, ...names, ...expected(o) }));
  });
}
