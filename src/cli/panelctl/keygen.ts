/** panelctl keygen: a new Ed25519 signing key pair for a cloud service (its public half goes in the agent's trustedCloudKeys). */
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { Command, Option } from "commander";
import { generateSigningKey, rawPrivateKey } from "../../../protocol/index.js";
import { localAction, type Io } from "./action.js";
import { jsonOption } from "./connection.js";
import { EXIT, fileName, UsageError } from "./usage.js";

interface KeygenOptions {
  out?: string;
  force?: boolean;
}

export function keygenCommand(io: Io): Command {
  const cmd = new Command("keygen")
    .summary("create an Ed25519 signing key pair")
    .description("Create an Ed25519 signing key pair.")
    .usage("[--out FILE] [--force]")
    .addOption(new Option("--out <FILE>", "where to write the private seed (mode 0600); the public key goes to FILE.pub").env("PANELCTL_KEY"))
    .option("--force", "replace FILE if it exists")
    .addOption(jsonOption())
    .addHelpText(
      "after",
      `
Writes the private seed (hex) to FILE (mode 0600; default $PANELCTL_KEY) and the public key to FILE.pub,
and prints the public key in hex: put it in the agent's trustedCloudKeys. Without FILE, prints both.`,
    );
  return localAction<KeygenOptions>(cmd, io, ({ out: file, force }) => {
    const { out } = io;
    const key = generateSigningKey();
    const seed = rawPrivateKey(key.privateKey).toString("hex");
    const publicKey = key.publicRaw.toString("hex");
    if (file) {
      if (existsSync(file) && force !== true) throw new UsageError(`${fileName(file, "--out")} exists (use --force to replace it)`);
      writeFileSync(file, seed + "\n", { mode: 0o600 });
      chmodSync(file, 0o600);
      writeFileSync(file + ".pub", publicKey + "\n", { mode: 0o644 });
    }
    if (out.json) out.print(JSON.stringify({ publicKey, kid: key.kid, ...(file ? { file } : { privateSeed: seed }) }));
    else {
      if (!file) out.print(`private   ${seed}`);
      out.print(`public    ${publicKey}`);
      out.print(`kid       ${key.kid}`);
      if (file) out.print(`saved     ${file} (0600), ${file}.pub`);
    }
    return EXIT.ok;
  });
}
