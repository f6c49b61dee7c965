/**
 * Sending one command to every panel given: only to panels whose retained state the broker holds
 * (the others are `pending no_state` at once, with nothing sent), then one outcome line each.
 */
import type { State } from "../../../protocol/index.js";
import type { CommandInput, Outcome } from "../../cloud/index.js";
import type { Ctx } from "./connection.js";
import { report } from "./output.js";

/** How long to wait for a panel's retained state (it comes with the subscription when there is one). */
const STATE_WAIT_MS = 3000;

export function noState(panelId: string): Outcome {
  const o = { status: "pending", panelId, id: "-", reason: "no_state" } as const;
  return { ...o, later: Promise.resolve({ ...o, later: Promise.resolve(o as unknown as Outcome) }) };
}

/** The panel's retained state, or undefined when the broker has none (a wrong id, an agent never connected). */
export function stateOf(ctx: Ctx, panelId: string): Promise<State | undefined> {
  return ctx.client.panelState(panelId, Math.min(ctx.timeoutMs, STATE_WAIT_MS));
}

/** Sends to every panel that has a retained state; the others are `pending no_state` at once. */
export async function sendAll(ctx: Ctx, make: (panelId: string, state: State) => CommandInput): Promise<Outcome[]> {
  return Promise.all(
    ctx.panels.map(async (panelId) => {
      const state = await stateOf(ctx, panelId);
      return state ? ctx.client.send(panelId, { actor: ctx.actor, ...make(panelId, state) }) : noState(panelId);
    }),
  );
}

/** Sends one command to every panel and prints the outcomes; the exit code of them all. */
export async function sendAndReport(ctx: Ctx, make: (panelId: string) => CommandInput): Promise<number> {
  return report(ctx, await sendAll(ctx, make));
}
