/** panelctl remove-account: an account removed from every user it is assigned to. */
import { Command, Option } from "commander";
import { panelAction, type Io } from "./action.js";
import { sendAndReport } from "./send.js";
import { nonEmpty } from "./usage.js";

export function removeAccountCommand(io: Io): Command {
  const cmd = new Command("remove-account")
    .summary("remove an account from every user it is assigned to")
    .description("Remove an account from every user it is assigned to.")
    .usage("--panel ID --account-id ID")
    .addOption(new Option("--account-id <ID>", "the account's id").argParser(nonEmpty("--account-id")).makeOptionMandatory());
  return panelAction<{ accountId: string }>(cmd, io, { signs: true, panels: true }, (o) => (ctx) => sendAndReport(ctx, () => ({ kind: "remove_account", accountId: o.accountId })));
}
