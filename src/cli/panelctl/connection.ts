/**
 * The options every panel subcommand shares (which panels, which broker, which key, who acts) and
 * the cloud client built from them. The client signs every command and seals its codes to the
 * panel's key; panelctl adds nothing of its own to that (src/cloud).
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { Option, type Command } from "commander";
import { loadSigningKey, type SigningKey } from "../../../protocol/index.js";
import { PANEL_ID_PATTERN } from "../../../protocol/schema.js";
import { TOPIC_PREFIX_PATTERN } from "../../../protocol/topics.js";
import { CloudClient, CloudError, JsonFileSeqStore } from "../../cloud/index.js";
import type { Actor } from "../../domain/index.js";
import type { Out } from "./output.js";
import { choiceOption, EXIT, fileName, repeatable, UsageError } from "./usage.js";

/** The actor kinds a cloud command may carry (protocol actorSchema; keypad_user and system are the panel's own). */
export const ACTOR_KINDS = ["cloud", "master", "dealer"] as const;
export type ActorKind = (typeof ACTOR_KINDS)[number];

export interface ConnectionOptions {
  panel?: string[];
  panelsFile?: string;
  broker: string;
  key?: string;
  prefix: string;
  mqtt: 4 | 5;
  /** Milliseconds (given in seconds). */
  timeout: number;
  seqFile: string;
  actor: string;
  actorKind: ActorKind;
  username?: string;
  password?: string;
  ca?: string;
  cert?: string;
  certKey?: string;
  json?: boolean;
}

const SCHEMES = ["mqtt:", "mqtts:", "ws:", "wss:"];

/** The broker URL, refused before connecting when it has no scheme mqtt.js speaks. */
export function brokerUrl(text: string): string {
  let u: URL | undefined;
  try {
    u = new URL(text);
  } catch {
    u = undefined;
  }
  if (!u || !SCHEMES.includes(u.protocol) || !u.hostname) throw new UsageError("the broker URL needs mqtt://, mqtts://, ws:// or wss:// and a host, e.g. mqtt://127.0.0.1:1883");
  return text;
}

/** The URL for messages, without any user or password in it. */
function shownUrl(text: string): string {
  try {
    const u = new URL(text);
    u.username = "";
    u.password = "";
    return u.toString().replace(/\/$/, "");
  } catch {
    return "(the broker)";
  }
}

function timeoutMs(text: string): number {
  const seconds = Number(text);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text) || seconds <= 0 || seconds > 3600) throw new UsageError("--timeout is seconds, > 0");
  return Math.round(seconds * 1000);
}

function topicPrefix(text: string): string {
  if (!TOPIC_PREFIX_PATTERN.test(text)) throw new UsageError("invalid --prefix");
  return text;
}

function actorId(text: string): string {
  if (text.length === 0 || text.length > 128) throw new UsageError("--actor is an id of 1 to 128 characters");
  return text;
}

const CONNECTION = "Connection:";
const ACTING = "Acting as:";

/** --json, on every subcommand. */
export function jsonOption(): Option {
  return new Option("--json", "machine-readable output: one JSON object per line").helpGroup("Output:");
}

/** Adds the shared options to a panel subcommand. */
export function addConnectionOptions(cmd: Command): Command {
  const group = (o: Option, heading = CONNECTION) => cmd.addOption(o.helpGroup(heading));
  group(new Option("--panel <ID>", "a panel (repeatable)").argParser(repeatable((t) => t)), "Panels:");
  group(new Option("--panels-file <FILE>", "one panel id per line (# comments)"), "Panels:");
  group(new Option("--broker <URL>", "the MQTT broker").env("PANELCTL_BROKER").default("mqtt://127.0.0.1:1883").argParser(brokerUrl));
  group(new Option("--key <FILE>", "signing key (seed) file").env("PANELCTL_KEY"));
  group(new Option("--prefix <P>", "topic prefix").default("panels").argParser(topicPrefix));
  group(choiceOption<4 | 5>("--mqtt <VERSION>", "MQTT version", ["4", "5"], "--mqtt is 4 or 5", (t) => (t === "5" ? 5 : 4)).default(4));
  group(new Option("--timeout <S>", "seconds to wait for each ack").default(10_000, "10").argParser(timeoutMs));
  group(new Option("--seq-file <FILE>", "per-panel sequence counters").env("PANELCTL_SEQ_FILE").default(defaultSeqFile(), "~/.local/state/panelctl/seq.json"));
  group(new Option("--username <U>", "broker user"));
  group(new Option("--password <P>", "broker password").env("PANELCTL_PASSWORD"));
  group(new Option("--ca <FILE>", "TLS: CA certificate"));
  group(new Option("--cert <FILE>", "TLS: client certificate"));
  group(new Option("--cert-key <FILE>", "TLS: client certificate's key"));
  group(new Option("--actor <ID>", "actor id recorded in the action log").default("panelctl").argParser(actorId), ACTING);
  group(
    choiceOption("--actor-kind <K>", "cloud, master (on the Master's behalf) or dealer (the Security Professional); dealer grant/revoke act as the Master unless it is given", ACTOR_KINDS, `--actor-kind is ${ACTOR_KINDS.join(", ")}`).default("cloud"),
    ACTING,
  );
  return cmd.addOption(jsonOption());
}

export function defaultSeqFile(): string {
  return join(process.env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "panelctl", "seq.json");
}

function readKey(path: string): SigningKey {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new UsageError(`cannot read the key file ${fileName(path, "--key")}`);
  }
  const text = bytes.toString("utf8").trim();
  try {
    if (text.startsWith("-----BEGIN")) return loadSigningKey(text);
    if (/^[0-9a-fA-F]{64}$/.test(text)) return loadSigningKey(Buffer.from(text, "hex"));
    const b64 = Buffer.from(text, "base64");
    if (b64.length === 32) return loadSigningKey(b64);
    if (bytes.length === 32) return loadSigningKey(bytes);
  } catch {
    /* not a key in that form: the sentence below says which forms are */
  }
  throw new UsageError(`${fileName(path, "--key")} is not an Ed25519 key (64 hex chars, base64 of 32 bytes, raw 32 bytes or PKCS#8 PEM)`);
}

const PANEL_ID_RULE = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit";

/** The panels of --panel and --panels-file, once each. A bad id is not echoed: it may be a code typed in the wrong place. */
function readPanels(o: ConnectionOptions): string[] {
  const panels = [...(o.panel ?? [])];
  for (const p of panels) if (!PANEL_ID_PATTERN.test(p)) throw new UsageError(`invalid --panel: a panel id is ${PANEL_ID_RULE}`);
  if (o.panelsFile) {
    let text: string;
    try {
      text = readFileSync(o.panelsFile, "utf8");
    } catch {
      throw new UsageError(`cannot read ${fileName(o.panelsFile, "--panels-file")}`);
    }
    for (const [i, line] of text.split(/\r?\n/).entries()) {
      const id = line.replace(/#.*/, "").trim();
      if (!id) continue;
      if (!PANEL_ID_PATTERN.test(id)) throw new UsageError(`${fileName(o.panelsFile, "--panels-file")} line ${i + 1}: invalid panel id (${PANEL_ID_RULE})`);
      panels.push(id);
    }
  }
  return [...new Set(panels)];
}

function readFile(path: string | undefined, flag: string): Buffer | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch {
    throw new UsageError(`cannot read ${fileName(path, flag)}`);
  }
}

/** What a panel subcommand runs with: its panels, a connected client, who acts, how long to wait. */
export interface Ctx {
  out: Out;
  panels: string[];
  client: CloudClient;
  actor: Actor;
  /** Whether --actor-kind was given (dealer grant/revoke act as the Master when it was not). */
  actorKindGiven: boolean;
  timeoutMs: number;
  /** The broker URL without credentials, for messages. */
  broker: string;
}

export interface Needs {
  /** Sends commands: a signing key is required. */
  signs: boolean;
  /** At least one panel is required (watch watches every panel without one). */
  panels: boolean;
}

/**
 * Checks the shared options, connects a client and runs `fn` with it; closes the client after.
 * Exit 4 when the broker cannot be reached.
 */
export async function withClient(cmd: Command, out: Out, needs: Needs, fn: (ctx: Ctx) => Promise<number>): Promise<number> {
  const o = cmd.opts<ConnectionOptions>();
  const panels = readPanels(o);
  if (panels.length === 0 && needs.panels) throw new UsageError("give --panel ID (repeatable) or --panels-file FILE");
  if (needs.signs && !o.key) throw new UsageError("give --key FILE (or set PANELCTL_KEY)");
  // A read-only subcommand signs nothing: a throwaway key keeps the client's constructor whole.
  const signingKey = needs.signs ? readKey(o.key!) : loadSigningKey(randomBytes(32));
  const tls = o.ca || o.cert ? { ca: readFile(o.ca, "--ca"), cert: readFile(o.cert, "--cert"), key: readFile(o.certKey, "--cert-key") } : undefined;
  const actor: Actor = { kind: o.actorKind, id: o.actor };
  const client = new CloudClient({
    url: o.broker,
    signingKey,
    protocolVersion: o.mqtt,
    topicPrefix: o.prefix,
    ackTimeoutMs: o.timeout,
    connectTimeoutMs: o.timeout,
    seqStore: new JsonFileSeqStore(o.seqFile),
    // The seq file lives apart from the agent's data: keep it in step when the panel was reset or the file is stale.
    resequence: true,
    actor,
    ...(o.username ? { username: o.username } : {}),
    ...(o.password ? { password: o.password } : {}),
    ...(tls ? { tls } : {}),
  });
  try {
    const wasReset = new Set<string>();
    client.on("reset", (r) => {
      wasReset.add(r.panelId);
      out.error(`panelctl: panel ${r.panelId} was reset (new database epoch ${r.epoch}): its sequence restarts at ${r.lastSeq + 1}; its table must be sent again with \`panelctl snapshot\``);
    });
    client.on("resequenced", (r) => {
      if (wasReset.has(r.panelId)) return;
      const why = r.code === "replayed" ? "was already used on the panel (another sender?)" : "was ahead of the panel's (a stale seq file, or the panel was reset)";
      out.error(`panelctl: panel ${r.panelId}: this counter's seq ${r.from} ${why}; sent again as seq ${r.to}`);
    });
    // The client believes only what a panel's pinned identity signed (src/cloud/authenticity.ts); say when it pins or drops.
    client.on("identity", (i) => {
      if (i.how === "first_use") out.error(`panelctl: panel ${i.panelId}: identity ${i.kid} trusted on first use; compare it with the installer's record`);
    });
    const forgedSaid = new Set<string>();
    client.on("forged", (f) => {
      if (forgedSaid.has(`${f.panelId} ${f.reason}`)) return;
      forgedSaid.add(`${f.panelId} ${f.reason}`);
      out.error(
        `panelctl: panel ${f.panelId}: dropped a ${f.channel} message not signed by its pinned identity (${f.reason}); if the panel was wiped or replaced on purpose, run \`panelctl trust --panel ${f.panelId}\` (or with --identity HEX, the key the installer recorded)`,
      );
    });
    try {
      await client.connect();
    } catch (err) {
      out.error(`panelctl: ${err instanceof CloudError ? err.message : "cannot connect to the broker"}`);
      return EXIT.connection;
    }
    const actorKindGiven = cmd.getOptionValueSource("actorKind") !== "default";
    return await fn({ out, panels, client, actor, actorKindGiven, timeoutMs: o.timeout, broker: shownUrl(o.broker) });
  } finally {
    await client.close();
  }
}
