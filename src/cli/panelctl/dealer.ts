/**
 * panelctl dealer grant|revoke|status: the Security Professional's access window. Grants and
 * revocations are the Master's: they act as the Master unless --actor-kind says otherwise.
 */
import { Command } from "commander";
import type { WireEvent } from "../../../protocol/index.js";
import type { Actor } from "../../domain/index.js";
import { panelAction, type Io } from "./action.js";
import type { Ctx } from "./connection.js";
import { windowText, windowView, type DealerWindowView } from "./dealer-window.js";
import { pendingSentence, report } from "./output.js";
import { sendAll, stateOf } from "./send.js";
import { choiceOption, EXIT, UsageError } from "./usage.js";

function masterUnlessGiven(ctx: Ctx): Actor {
  return ctx.actorKindGiven ? ctx.actor : { kind: "master", id: ctx.actor.id };
}

interface GrantOptions {
  request?: string;
  hours?: "2" | "24";
}

async function grant(ctx: Ctx, requestId: string | undefined): Promise<number> {
  const hours = requestId !== undefined ? 24 : 2;
  const actor = masterUnlessGiven(ctx);
  const granted = new Map<string, DealerWindowView>();
  const zones = new Map<string, string>();
  const onEvent = (panelId: string, e: WireEvent) => {
    if (e.type === "dealer_access" && e.data.change === "granted" && e.data.until !== undefined && e.data.hours !== undefined) {
      granted.set(panelId, windowView({ until: e.data.until, hours: e.data.hours, ...(e.data.requestId !== undefined ? { requestId: e.data.requestId } : {}) }, zones.get(panelId) ?? "UTC"));
    }
  };
  ctx.client.on("event", onEvent);
  try {
    const outcomes = await sendAll(ctx, (panelId, state) => {
      zones.set(panelId, state.timeZone);
      return { kind: "grant_dealer_access", hours, ...(requestId !== undefined ? { requestId } : {}), actor };
    });
    // The granted event follows the ack from the same outbox: wait a little for it.
    const applied = outcomes.filter((o) => o.status === "applied").map((o) => o.panelId);
    for (let i = 0; i < 40 && applied.some((p) => !granted.has(p)); i++) await new Promise((r) => setTimeout(r, 50));
    return report(ctx, outcomes, undefined, granted);
  } finally {
    ctx.client.off("event", onEvent);
  }
}

/** Each panel's window from its retained state; sends nothing. */
async function status(ctx: Ctx): Promise<number> {
  const states = await Promise.all(ctx.panels.map(async (p) => [p, await stateOf(ctx, p)] as const));
  let code: number = EXIT.ok;
  for (const [panel, state] of states) {
    if (!state) {
      code = EXIT.pending;
      const message = pendingSentence({ panelId: panel, reason: "no_state" }, ctx.broker);
      if (ctx.out.json) ctx.out.print(JSON.stringify({ panel, status: "pending", reason: "no_state", message }));
      else ctx.out.print(`${panel.padEnd(20)} unknown   ${message}`);
      continue;
    }
    const w = state.dealerAccess ? windowView(state.dealerAccess, state.timeZone) : null;
    if (ctx.out.json) ctx.out.print(JSON.stringify({ panel, dealerAccess: w }));
    else ctx.out.print(`${panel.padEnd(20)} ${w ? `granted   ${windowText(w)}` : "not granted (read-only)"}`);
  }
  return code;
}

export function dealerCommand(io: Io): Command {
  const grantCmd = new Command("grant")
    .summary("grant access as the Master: 2 h, or 24 h answering a request")
    .description("Grant the Security Professional access, as the Master: 2 h directly, or 24 h answering a dealer's request.")
    .usage("--panel ID [--request ID] [--hours 2|24]")
    .option("--request <ID>", "the dealer's request this grant answers (24 h)")
    .addOption(choiceOption("--hours <H>", "2 (a direct grant) or 24 (answering --request)", ["2", "24"], "--hours is 2 or 24"));
  panelAction<GrantOptions>(grantCmd, io, { signs: true, panels: true }, (o) => {
    if (o.hours === "24" && o.request === undefined) throw new UsageError("--hours 24 answers a dealer's request: give --request ID (a direct grant lasts 2 h)");
    if (o.hours === "2" && o.request !== undefined) throw new UsageError("a grant answering a request (--request) lasts 24 h: leave out --hours 2");
    return (ctx) => grant(ctx, o.request);
  });
  const revokeCmd = new Command("revoke").summary("end the access window now").description("End the Security Professional's access window now, as the Master.").usage("--panel ID");
  panelAction(revokeCmd, io, { signs: true, panels: true }, () => async (ctx) => report(ctx, await sendAll(ctx, () => ({ kind: "revoke_dealer_access", actor: masterUnlessGiven(ctx) }))));
  const statusCmd = new Command("status").summary("show the access window (from the retained state; sends nothing)").description("Show the Security Professional's access window, from each panel's retained state; sends nothing.").usage("--panel ID");
  panelAction(statusCmd, io, { signs: false, panels: true }, () => status);
  return new Command("dealer")
    .summary("Security Professional access: grant [--request ID] [--hours 2|24] | revoke | status")
    .description("The Security Professional's (dealer's) access window.")
    .usage("grant|revoke|status --panel ID [options]")
    .addCommand(grantCmd)
    .addCommand(revokeCmd)
    .addCommand(statusCmd);
}
