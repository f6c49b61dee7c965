/**
 * panelctl trust: what to believe of a panel's identity. The client pins each panel's Ed25519
 * identity key in the seq file (on first use, or as given here) and drops anything signed by
 * another key, so a panel whose state directory was wiped or that was replaced (a new identity
 * key) is refused until a person says so: `trust --panel P` forgets the pin (the panel's next
 * signed state pins its new key), `trust --panel P --identity HEX` pins the key the installer
 * recorded (the agent logs it when it creates it), which is the safer of the two.
 */
import { Command, Option } from "commander";
import { keyId } from "../../../protocol/index.js";
import { PANEL_ID_PATTERN } from "../../../protocol/schema.js";
import { JsonFileSeqStore } from "../../cloud/index.js";
import { localAction, type Io } from "./action.js";
import { defaultSeqFile, jsonOption } from "./connection.js";
import { EXIT, repeatable, UsageError } from "./usage.js";

interface TrustOptions {
  panel?: string[];
  identity?: string;
  seqFile: string;
}

const IDENTITY_HEX = /^[0-9a-f]{64}$/;

export function trustCommand(io: Io): Command {
  const cmd = new Command("trust")
    .summary("forget or set the identity pinned for a wiped or replaced panel")
    .description("Forget the identity key pinned for a panel (its next signed state pins the new one), or pin the one given.")
    .usage("--panel ID [--identity HEX] [--seq-file FILE]")
    .addOption(new Option("--panel <ID>", "a panel (repeatable)").argParser(repeatable((t) => t)))
    .addOption(new Option("--identity <HEX>", "pin this Ed25519 public key (64 hex digits, from the agent's \"panel identity key created\" log line)"))
    .addOption(new Option("--seq-file <FILE>", "per-panel sequence counters and pinned identities").env("PANELCTL_SEQ_FILE").default(defaultSeqFile(), "~/.local/state/panelctl/seq.json"))
    .addOption(jsonOption())
    .addHelpText(
      "after",
      `
Only after a panel was wiped or replaced on purpose: a panel that shows a new identity key is
otherwise refused (it cannot be told from a forger). Pinning the key the installer recorded is
safer than forgetting: a forgotten pin is taken from the first signed state that arrives.`,
    );
  return localAction<TrustOptions>(cmd, io, ({ panel, identity, seqFile }) => {
    const { out } = io;
    const panels = panel ?? [];
    if (panels.length === 0) throw new UsageError("trust needs --panel ID");
    for (const p of panels) if (!PANEL_ID_PATTERN.test(p)) throw new UsageError("--panel is a panel id: a letter or digit, then letters, digits, '.', '_' or '-'");
    const key = identity?.toLowerCase();
    if (key !== undefined && !IDENTITY_HEX.test(key)) throw new UsageError("--identity is an Ed25519 public key: 64 hex digits");
    const store = new JsonFileSeqStore(seqFile);
    for (const p of panels) {
      const before = store.loadIdentity(p);
      store.saveIdentity(p, key);
      const was = before ? keyId(Buffer.from(before, "hex")) : null;
      const now = key ? keyId(Buffer.from(key, "hex")) : null;
      if (out.json) out.print(JSON.stringify({ panel: p, was, pinned: now }));
      else if (now) out.print(`panel ${p}: identity ${now} pinned${was ? ` (was ${was})` : ""}`);
      else out.print(`panel ${p}: ${was ? `identity ${was} forgotten` : "no identity was pinned"}; its next signed state pins the one it presents`);
    }
    return EXIT.ok;
  });
}
