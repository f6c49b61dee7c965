/** panelctl set-role: a user's role (what the code may do at the keypad). */
import { Command } from "commander";
import { ROLES, type Role } from "../../domain/index.js";
import { expected, panelAction, withSlotOptions, type Io, type SlotOptions } from "./action.js";
import { sendAndReport } from "./send.js";
import { choiceOption } from "./usage.js";

interface SetRoleOptions extends SlotOptions {
  role: Role;
}

export function setRoleCommand(io: Io): Command {
  const cmd = withSlotOptions(
    new Command("set-role")
      .summary("set a user's role")
      .description("Set a user's role.")
      .usage("--panel ID --slot N --role ROLE [--expected-version V]")
      .addOption(choiceOption("--role <ROLE>", "the role", ROLES, `--role is one of: ${ROLES.join(", ")}`).makeOptionMandatory()),
  );
  return panelAction<SetRoleOptions>(cmd, io, { signs: true, panels: true }, (o) => (ctx) => sendAndReport(ctx, () => ({ kind: "set_role", slot: o.slot, role: o.role, ...expected(o) })));
}
