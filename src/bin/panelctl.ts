#!/usr/bin/env node
/**
 * panelctl — manage the users of panels running panel-agent, over MQTT, as a cloud service would:
 * every command signed (Ed25519) and its codes sealed to the panel's key (protocol/README.md).
 * The subcommands are in src/cli/panelctl/, one file each.
 *
 * Exit codes (for scripts):
 *   0  every command applied (or, for read-only subcommands, the answer was printed)
 *   1  usage error (unknown subcommand or flag, missing or invalid value, unreadable file)
 *   2  at least one command was rejected (the code is printed per panel)
 *   3  at least one command is pending: no ack within --timeout (panel offline, or no state yet);
 *      it stays queued at the broker for the panel and may still be applied
 *   4  cannot connect to the broker
 * When some commands are rejected and others pending, 2 wins.
 */
import type { Out } from "../cli/panelctl/output.js";
import { main } from "../cli/panelctl/program.js";

// `panelctl users | head`: the reader went away. Nothing more to say; stop quietly.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});
const out: Out = {
  json: false,
  print: (line) => process.stdout.write(line + "\n"),
  error: (line) => process.stderr.write(line + "\n"),
};
main(process.argv.slice(2), out).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`panelctl: internal error (${err instanceof Error ? err.name : "unknown"})\n`);
    process.exitCode = 1;
  },
);
