import type { CommandInput } from "../cloud/index.js";
import { commandSchema, Secret, type Actor } from "../domain/index.js";
import type { State } from "../../protocol/index.js";
import type { CodeVault } from "./code-vault.js";
import type { JournalCommand } from "./journal.js";
import { text } from "./row.js";

const FILLER_ACTOR: Actor = { kind: "cloud", id: "panel-fleet" };

/**
 * A journal command as the cloud client takes it, its secrets decrypted (a code, tags, a
 * snapshot's codes). One the client would refuse locally (a kind this panel does not advertise, a
 * body that does not parse) would use no seq and shift every later command off its journal seq;
 * it goes as a FILLER instead: a read (`list_users`), which consumes its seq and changes nothing,
 * and `refusal` is the local refusal to record as the command's fate.
 */
export function commandInput(c: JournalCommand, state: State, vault: CodeVault): { input: CommandInput; refusal?: { code: string; detail?: Record<string, string> } } {
  const input: Record<string, unknown> = { ...c.body, id: c.id };
  if (c.secretCt) {
    const secret = vault.decrypt(c.secretCt, `command:${c.id}`);
    const tagsOf = (list: unknown) => ((list as { kind: string; id: string }[] | undefined) ?? []).map((t) => ({ kind: t.kind, tag: new Secret(t.id) }));
    if (c.kind === "snapshot") {
      const codes = JSON.parse(secret.reveal()) as Record<string, unknown>;
      input.users = (c.body.users as { slot: number }[]).map((u) => {
        const tags = codes[`tags:${u.slot}`];
        return { ...u, code: new Secret(text(codes[String(u.slot)] ?? "")), ...(tags !== undefined ? { tags: tagsOf(tags) } : {}) };
      });
    } else if (c.kind === "set_proximity_tags") input.tags = tagsOf(JSON.parse(secret.reveal()));
    else input.code = secret;
  }
  let refusal: { code: string; detail?: Record<string, string> } | undefined;
  if (!state.proto.kinds.includes(c.kind)) refusal = { code: "unknown_command", detail: { kind: c.kind } };
  else {
    const parsed = commandSchema.safeParse({ ...input, actor: FILLER_ACTOR });
    if (!parsed.success) refusal = { code: "schema_violation", detail: { path: parsed.error.issues[0]?.path.join(".") ?? "" } };
  }
  if (!refusal) return { input: input as unknown as CommandInput };
  return { input: { kind: "list_users", id: c.id, page: 1, perPage: 10 }, refusal };
}
