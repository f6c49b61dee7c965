/** panelctl disable: a user disabled (the code is removed; the label resets with it). */
import { Command } from "commander";
import { expected, panelAction, withSlotOptions, type Io, type SlotOptions } from "./action.js";
import { sendAndReport } from "./send.js";

export function disableCommand(io: Io): Command {
  const cmd = withSlotOptions(
    new Command("disable")
      .summary("disable a user (removes the code; the label resets with it)")
      .description("Disable a user: the code is removed and the label resets with it.")
      .usage("--panel ID --slot N [--expected-version V]"),
  );
  return panelAction<SlotOptions>(cmd, io, { signs: true, panels: true }, (o) => (ctx) => sendAndReport(ctx, () => ({ kind: "disable_user", slot: o.slot, ...expected(o) })));
}
