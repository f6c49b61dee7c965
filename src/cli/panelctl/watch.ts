/** panelctl watch: the panels' events printed live until Ctrl-C (or SIGTERM), and the broker going and coming back. */
import { Command } from "commander";
import type { WireEvent } from "../../../protocol/index.js";
import { brokerLine, eventLine, statusLine } from "../watch-format.js";
import { panelAction, type Io } from "./action.js";
import type { Ctx } from "./connection.js";
import { EXIT } from "./usage.js";

async function watch(ctx: Ctx): Promise<number> {
  const print = (panelId: string, e: WireEvent) => ctx.out.print(ctx.out.json ? JSON.stringify(e) : eventLine(panelId, e));
  ctx.client.on("status", (panelId, s) => {
    if (ctx.panels.length > 0 && !ctx.panels.includes(panelId)) return;
    if (ctx.out.json) ctx.out.print(JSON.stringify({ panel: panelId, status: s.status, ...(s.reason ? { reason: s.reason } : {}) }));
    else ctx.out.print(statusLine(panelId, s, s.at ?? Date.now()));
  });
  ctx.client.on("broker", ({ up }) => {
    if (ctx.out.json) ctx.out.print(JSON.stringify({ broker: ctx.broker, up }));
    else ctx.out.print(brokerLine(up, ctx.broker, Date.now()));
  });
  const stop = new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  const iterators = ctx.panels.length > 0 ? ctx.panels.map((p) => ctx.client.events(p)) : [ctx.client.events("+")];
  const loops = iterators.map(async (it) => {
    for await (const { panelId, event } of it) print(panelId, event);
  });
  ctx.out.error("watching; Ctrl-C to stop");
  await stop;
  for (const it of iterators) await it.return?.();
  await Promise.all(loops);
  return EXIT.ok;
}

export function watchCommand(io: Io): Command {
  const cmd = new Command("watch")
    .summary("print events live until Ctrl-C")
    .description("Print events live until Ctrl-C.")
    .usage("[--panel ID ...] [--json]   (every panel when none is given)")
    .addHelpText(
      "after",
      `
One line per event: access granted/denied (keypad or door lock, slot, the reason of a denial),
duress, lockout, dealer access, resync requests, changes; panels going offline/online and the
broker going away and coming back. --json prints each event as the panel sent it.`,
    );
  return panelAction(cmd, io, { signs: false, panels: false }, () => watch);
}
