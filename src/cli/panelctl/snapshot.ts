/** panelctl snapshot: the panel's whole user table replaced from a file (the answer to a resync request). */
import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import type { CommandInput } from "../../cloud/index.js";
import { Secret } from "../../domain/index.js";
import { panelAction, type Io } from "./action.js";
import { sendAndReport } from "./send.js";
import { fileName, nonEmpty, UsageError } from "./usage.js";

/** The file's users, each code and tag in a Secret (sealed to each panel by the client, never printed). */
function readUsers(file: string): unknown[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    throw new UsageError(`cannot read ${fileName(file, "--file")} as JSON`);
  }
  const list = Array.isArray(raw) ? raw : (raw as { users?: unknown } | null)?.users;
  if (!Array.isArray(list)) throw new UsageError(`${fileName(file, "--file")}: expected {"users": [...]}`);
  return list.map((u: Record<string, unknown>) => {
    const user: Record<string, unknown> = { ...u };
    // A code is text of digits (an integer would lose its leading zeros: refused, as on the wire).
    if (u.code !== undefined && typeof u.code !== "string") throw new UsageError(`${fileName(file, "--file")}: every "code" is text of digits in quotes, or "keep"`);
    user.code = u.code === "keep" ? "keep" : new Secret(u.code ?? "");
    if (Array.isArray(u.tags)) user.tags = (u.tags as Array<{ kind: string; tag: string }>).map((t) => ({ kind: t.kind, tag: new Secret(String(t.tag)) }));
    return user;
  });
}

export function snapshotCommand(io: Io): Command {
  const cmd = new Command("snapshot")
    .summary("replace the panel's whole user table (the answer to a resync request)")
    .description("Replace the panel's whole user table (the answer to a resync request).")
    .usage("--panel ID --file USERS.json")
    .addOption(new Option("--file <USERS.json>", "the users").argParser(nonEmpty("--file")).makeOptionMandatory())
    .addHelpText(
      "after",
      `
USERS.json: {"users": [{"slot": 1, "code": "1234" | "keep", "label": "...", "role": "...", "partitions": [1],
"schedule": {...}, "doorLocks": [...], "tags": [{"kind": "keypad", "tag": "..."}], "account": {...} | null}]}
Slots not listed are cleared. Codes are sealed to each panel; they are never printed.`,
    );
  return panelAction<{ file: string }>(cmd, io, { signs: true, panels: true }, (o) => {
    const users = readUsers(o.file);
    // The file's users are checked by the client's command schema as they are sent.
    return (ctx) => sendAndReport(ctx, () => ({ kind: "snapshot", users }) as CommandInput);
  });
}
