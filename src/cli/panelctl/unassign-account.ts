/** panelctl unassign-account: a user's account unassigned (the account itself is kept). */
import { Command } from "commander";
import { expected, panelAction, withSlotOptions, type Io, type SlotOptions } from "./action.js";
import { sendAndReport } from "./send.js";

export function unassignAccountCommand(io: Io): Command {
  const cmd = withSlotOptions(
    new Command("unassign-account")
      .summary("unassign a user's account (the account is kept)")
      .description("Unassign a user's account; the account is kept.")
      .usage("--panel ID --slot N [--expected-version V]"),
  );
  return panelAction<SlotOptions>(cmd, io, { signs: true, panels: true }, (o) => (ctx) => sendAndReport(ctx, () => ({ kind: "unassign_account", slot: o.slot, ...expected(o) })));
}
