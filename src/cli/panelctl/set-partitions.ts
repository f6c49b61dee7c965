/** panelctl set-partitions: which partitions a user's code arms and disarms. */
import { Command, Option } from "commander";
import { expected, panelAction, withSlotOptions, type Io, type SlotOptions } from "./action.js";
import { sendAndReport } from "./send.js";
import { partitionList } from "./usage.js";

interface SetPartitionsOptions extends SlotOptions {
  partitions: number[];
}

export function setPartitionsCommand(io: Io): Command {
  const cmd = withSlotOptions(
    new Command("set-partitions")
      .summary("set a user's partitions")
      .description("Set a user's partitions.")
      .usage("--panel ID --slot N --partitions 1,2,5-8 [--expected-version V]")
      .addOption(new Option("--partitions <LIST>", "partitions, e.g. 1,2,5-8").argParser(partitionList).makeOptionMandatory()),
  );
  return panelAction<SetPartitionsOptions>(cmd, io, { signs: true, panels: true }, (o) => (ctx) => sendAndReport(ctx, () => ({ kind: "set_partitions", slot: o.slot, partitions: o.partitions, ...expected(o) })));
}
