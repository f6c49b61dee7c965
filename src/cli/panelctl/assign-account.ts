/** panelctl assign-account: an app account assigned to a user. */
import { Command, Option } from "commander";
import { expected, panelAction, withSlotOptions, type Io, type SlotOptions } from "./action.js";
import { sendAndReport } from "./send.js";
import { choiceOption, isoTime, nonEmpty } from "./usage.js";

const ACCOUNT_STATUSES = ["Active", "Not confirmed", "Suspended"] as const;

interface AssignAccountOptions extends SlotOptions {
  accountId: string;
  email: string;
  created?: number;
  status: (typeof ACCOUNT_STATUSES)[number];
}

export function assignAccountCommand(io: Io): Command {
  const cmd = withSlotOptions(
    new Command("assign-account")
      .summary("assign an app account to a user")
      .description("Assign an app account to a user.")
      .usage('--panel ID --slot N --account-id ID --email ADDR [--created ISO] [--status Active|"Not confirmed"|Suspended]')
      .addOption(new Option("--account-id <ID>", "the account's id").argParser(nonEmpty("--account-id")).makeOptionMandatory())
      .addOption(new Option("--email <ADDR>", "the account's e-mail address").argParser(nonEmpty("--email")).makeOptionMandatory())
      .addOption(new Option("--created <ISO>", "when the account was created (default: now)").argParser(isoTime("--created")))
      .addOption(choiceOption("--status <STATUS>", "the account's status", ACCOUNT_STATUSES, '--status is Active, "Not confirmed" or Suspended').default("Active")),
  );
  return panelAction<AssignAccountOptions>(cmd, io, { signs: true, panels: true }, (o) => {
    const account = { id: o.accountId, email: o.email, createdAt: o.created ?? Date.now(), status: o.status };
    return (ctx) => sendAndReport(ctx, () => ({ kind: "assign_account", slot: o.slot, account, ...expected(o) }));
  });
}
