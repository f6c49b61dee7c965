/** panelctl log: the panel's action log, newest first, a page at a time. */
import { Command } from "commander";
import type { PageSize } from "../../domain/index.js";
import { panelAction, type Io } from "./action.js";
import { cut, printPages, shown } from "./output.js";
import { sendAll } from "./send.js";
import { pageOption, pageSizeOption } from "./usage.js";

interface LogOptions {
  page: number;
  perPage: PageSize;
}

const HEADER = `${"Time".padEnd(24)} ${"Actor".padEnd(22)} ${"Action".padEnd(22)} ${"Slot".padEnd(6)} Result`;

function row(r: Record<string, unknown>): string {
  const actor = r.actor as { kind?: string; id?: string } | undefined;
  return `${new Date(Number(r.at)).toISOString().padEnd(24)} ${cut(`${actor?.kind ?? "?"}:${actor?.id ?? "?"}`, 22)} ${cut(String(r.action), 22)} ${shown(r.slot, "-").padEnd(6)} ${String(r.result)}`;
}

export function logCommand(io: Io): Command {
  const cmd = new Command("log")
    .summary("read the action log (newest first)")
    .description("Read the action log, newest first.")
    .usage("--panel ID [--page N] [--per-page 10|15|50|100|200]")
    .addOption(pageOption())
    .addOption(pageSizeOption());
  return panelAction<LogOptions>(cmd, io, { signs: true, panels: true }, (o) => async (ctx) => {
    const outcomes = await sendAll(ctx, () => ({ kind: "read_action_log", page: o.page, perPage: o.perPage }));
    return printPages(ctx, outcomes, HEADER, row);
  });
}
