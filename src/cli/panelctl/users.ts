/** panelctl users: the user table as the Users grid shows it, a page at a time. */
import { Command } from "commander";
import type { PageSize } from "../../domain/index.js";
import { panelAction, type Io } from "./action.js";
import { cut, fmtDate, fmtPartitions, printPages, shown } from "./output.js";
import { sendAll } from "./send.js";
import { pageOption, pageSizeOption } from "./usage.js";

interface UsersOptions {
  page: number;
  perPage: PageSize;
  onlyActive?: boolean;
}

const HEADER = `${"№".padEnd(6)} ${"Label & role".padEnd(30)} ${"Code".padEnd(4)} ${"Partitions".padEnd(11)} ${"Account".padEnd(26)} ${"Created".padEnd(10)} Status`;

function row(r: Record<string, unknown>): string {
  const label = `${shown(r.label, "")}${r.role && r.role !== "-" ? ` (${shown(r.role, "")})` : ""}`;
  return `${String(r.number).padEnd(6)} ${cut(label, 30)} ${(r.codeSet ? "✓" : "-").padEnd(4)} ${cut(fmtPartitions(r.partitions), 11)} ${cut(shown(r.account, "-"), 26)} ${fmtDate(r.created).padEnd(10)} ${shown(r.status, "")}`;
}

export function usersCommand(io: Io): Command {
  const cmd = new Command("users")
    .summary("list users as the Users grid shows them")
    .description("List users as the Users grid shows them.")
    .usage("--panel ID [--page N] [--per-page 10|15|50|100|200] [--only-active]")
    .addOption(pageOption())
    .addOption(pageSizeOption())
    .option("--only-active", "only the users that exist on the panel");
  return panelAction<UsersOptions>(cmd, io, { signs: true, panels: true }, (o) => async (ctx) => {
    const outcomes = await sendAll(ctx, () => ({ kind: "list_users", page: o.page, perPage: o.perPage, onlyActive: o.onlyActive === true }));
    return printPages(ctx, outcomes, HEADER, row);
  });
}
