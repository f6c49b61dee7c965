/** panelctl set-code: a user's code, given (on the line or on stdin) or generated here; sealed to each panel by the client. */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { generateCode, type Outcome } from "../../cloud/index.js";
import { PANEL_TYPES, Secret } from "../../domain/index.js";
import { expected, panelAction, withSlotOptions, type Io, type SlotOptions } from "./action.js";
import { report } from "./output.js";
import { noState, sendAndReport, stateOf } from "./send.js";
import { UsageError } from "./usage.js";

interface SetCodeOptions extends SlotOptions {
  code?: string;
  generate?: boolean;
}

function readStdinLine(): string {
  try {
    return readFileSync(0, "utf8").split(/\r?\n/)[0]!.trim();
  } catch {
    throw new UsageError("cannot read the code from stdin");
  }
}

export function setCodeCommand(io: Io): Command {
  const cmd = withSlotOptions(
    new Command("set-code")
      .summary("set a user's code (sealed to the panel)")
      .description("Set a user's code, sealed to each panel's key.")
      .usage("--panel ID --slot N (--code DIGITS | --code - | --generate) [--expected-version V]")
      .option("--code <DIGITS>", "the code; - reads it from the first line of stdin (keeps it out of the process list)")
      .option("--generate", "pick a random code that is not weak; printed once, only here"),
  ).addHelpText(
    "after",
    `
--generate picks a random code of the panel's code length that is not weak (not all one digit, not a
run like 1234/4321, not refused by the panel type); it is printed once, only here.`,
  );
  return panelAction<SetCodeOptions>(cmd, io, { signs: true, panels: true }, (o) => {
    if ((o.code === undefined) === (o.generate !== true)) throw new UsageError("give exactly one of --code or --generate");
    if (o.code !== undefined) {
      const code = o.code === "-" ? readStdinLine() : o.code;
      return (ctx) => sendAndReport(ctx, () => ({ kind: "set_code", slot: o.slot, code: new Secret(code), ...expected(o) }));
    }
    return async (ctx) => {
      const generated = new Map<string, string>();
      const outcomes = await Promise.all(
        ctx.panels.map(async (panelId): Promise<Outcome> => {
          const state = await stateOf(ctx, panelId);
          if (!state) return noState(panelId);
          const refused = PANEL_TYPES[state.panelType].refusedCodes;
          // A code already in use on the panel is refused: pick another, a few times.
          for (let attempt = 0; ; attempt++) {
            const code = generateCode(state.codeLength, refused);
            const outcome = await ctx.client.send(panelId, { kind: "set_code", slot: o.slot, code: new Secret(code), actor: ctx.actor, ...expected(o) });
            if (outcome.status === "rejected" && outcome.code === "code_in_use" && attempt < 4) continue;
            if (outcome.status !== "rejected") generated.set(panelId, code);
            return outcome;
          }
        }),
      );
      return report(ctx, outcomes, generated);
    };
  });
}
