#!/usr/bin/env node
/**
 * panelctl — manage the users of panels running panel-agent, over MQTT, as a cloud service would:
 * every command signed (Ed25519) and its codes sealed to the panel's key (protocol/README.md).
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
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { loadSigningKey, rawPrivateKey, type SigningKey, type State, type WireEvent } from "../../protocol/index.js";
import { brokerLine, eventLine, statusLine } from "../cli/watch-format.js";
import { CloudClient, CloudError, generateCode, JsonFileSeqStore, type CommandInput, type Outcome } from "../cloud/index.js";
import { ERROR_SENTENCES, isPageSize, PANEL_TYPES, ROLES, Secret, type Actor, type PageSize, type Role } from "../domain/index.js";

/** The actor kinds a cloud command may carry (protocol actorSchema; keypad_user and system are the panel's own). */
export const ACTOR_KINDS = ["cloud", "master", "dealer"] as const;

export const EXIT = { ok: 0, usage: 1, rejected: 2, pending: 3, connection: 4 } as const;

class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig["options"]>;
type Values = Record<string, string | boolean | string[] | boolean[] | undefined>;

const COMMON: Options = {
  broker: { type: "string" },
  key: { type: "string" },
  prefix: { type: "string" },
  mqtt: { type: "string" },
  timeout: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  panel: { type: "string", multiple: true },
  "panels-file": { type: "string" },
  "seq-file": { type: "string" },
  actor: { type: "string" },
  "actor-kind": { type: "string" },
  username: { type: "string" },
  password: { type: "string" },
  ca: { type: "string" },
  cert: { type: "string" },
  "cert-key": { type: "string" },
};

const COMMON_HELP = `Common flags:
  --panel ID            a panel (repeatable)            --panels-file FILE   one panel id per line (# comments)
  --broker URL          default $PANELCTL_BROKER or mqtt://127.0.0.1:1883
  --key FILE            signing key (seed) file, default $PANELCTL_KEY
  --prefix P            topic prefix (default "panels")  --mqtt 4|5          MQTT version (default 4)
  --timeout S           seconds to wait for each ack (default 10)
  --seq-file FILE       per-panel sequence counters (default $PANELCTL_SEQ_FILE or ~/.local/state/panelctl/seq.json)
  --actor ID            actor id recorded in the action log (default "panelctl")
  --actor-kind K        cloud (default), master (on the Master's behalf) or dealer (the Security Professional);
                        dealer grant/revoke act as the Master unless it is given
  --username U --password P (or $PANELCTL_PASSWORD)   --ca FILE --cert FILE --cert-key FILE (TLS)
  --json                machine-readable output         -h, --help          this help
Exit codes: 0 all applied, 1 usage, 2 rejected (any), 3 pending/timeout (any), 4 connection failure.`;

interface Sub {
  summary: string;
  usage: string;
  options: Options;
  /** Needs a signing key (sends commands). */
  signs: boolean;
  run: (ctx: Ctx) => Promise<number>;
}

interface Out {
  json: boolean;
  print(line: string): void;
  error(line: string): void;
}

interface Ctx {
  values: Values;
  out: Out;
  panels: string[];
  client: CloudClient;
  actor: Actor;
  timeoutMs: number;
  /** The broker URL (no credentials: they are never part of it here), for messages. */
  broker: string;
}

/** Codes the cloud client gives itself (not the agent's table). */
const LOCAL_SENTENCES: Record<string, string> = {
  seq_store_failed: "The command could not be numbered: the sequence file could not be written.",
  missing_ack: "The panel's batch ack did not answer this command.",
};

/** The sentence of an error code (src/domain/errors.ts), for people; the code stays beside it. */
export function sentenceOf(code: string): string {
  return (ERROR_SENTENCES as Record<string, string>)[code] ?? LOCAL_SENTENCES[code] ?? "The panel refused the command (a code this panelctl does not know).";
}

/** Why a command is pending, in a sentence. */
function pendingSentence(o: { panelId: string; reason: string }, broker: string): string {
  switch (o.reason) {
    case "no_state":
      return `no retained state was found for panel ${o.panelId} on broker ${broker}: is the panel id right, is the agent connected?`;
    case "offline":
      return "the panel is offline; the command waits at the broker and may still be applied";
    case "timeout":
      return "no answer in time; the command may still be applied";
    default:
      return "the answer did not come before panelctl stopped; the command may still be applied";
  }
}

// ---------------------------------------------------------------------------------------------
// helpers

function str(v: Values, name: string): string | undefined {
  const x = v[name];
  return typeof x === "string" ? x : undefined;
}

function need(v: Values, name: string): string {
  const x = str(v, name);
  if (x === undefined || x === "") throw new UsageError(`--${name} is required`);
  return x;
}

function int(v: Values, name: string, min: number, max: number, fallback?: number): number {
  const x = str(v, name);
  if (x === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required`);
    return fallback;
  }
  if (!/^[0-9]+$/.test(x) || Number(x) < min || Number(x) > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`);
  return Number(x);
}

/** --page and --per-page, with the grid's page sizes. */
function pageArgs(v: Values): { page: number; perPage: PageSize } {
  const page = int(v, "page", 1, 1_000_000, 1);
  const text = str(v, "per-page") ?? "15";
  const perPage = /^[0-9]{1,3}$/.test(text) ? Number(text) : NaN;
  if (!isPageSize(perPage)) throw new UsageError("--per-page is 10, 15, 50, 100 or 200");
  return { page, perPage };
}

/** Keys holding epoch milliseconds: JSON output gives `<key>Iso` beside them. */
const TIME_KEYS = new Set(["at", "created", "createdAt", "until", "from", "to", "expiresAt", "grantedAt"]);

/**
 * The JSON form of an answer: the grid's "-" (nothing there) is null, and every time in epoch
 * milliseconds has its ISO-8601 text beside it (`created` and `createdIso`).
 */
export function jsonView(value: unknown): unknown {
  if (value === "-") return null;
  if (Array.isArray(value)) return value.map(jsonView);
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = jsonView(v);
    if (TIME_KEYS.has(k) && typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= 8.64e15) out[`${k}Iso`] = new Date(v).toISOString();
  }
  return out;
}

function slotsText(r: { added?: number[]; changed?: number[]; removed?: number[] }): string {
  const list = (x?: number[]) => (x && x.length > 0 ? fmtPartitions(x) : "none");
  return `added ${list(r.added)}; changed ${list(r.changed)}; removed ${list(r.removed)}`;
}

/** Prints each panel's page (a read's result) as a table with its range text, or as JSON lines. */
function printPages(ctx: Ctx, outcomes: readonly Outcome[], header: string, row: (r: Record<string, unknown>) => string): void {
  for (const o of outcomes) {
    if (o.status !== "applied" || !o.result?.page) {
      report(ctx, [o]);
      continue;
    }
    const p = o.result.page;
    if (ctx.out.json) {
      ctx.out.print(JSON.stringify({ panel: o.panelId, status: o.status, ...(jsonView(p) as object) }));
      continue;
    }
    if (ctx.panels.length > 1) ctx.out.print(`== ${o.panelId}`);
    ctx.out.print(header);
    for (const r of p.rows as Array<Record<string, unknown>>) ctx.out.print(row(r));
    ctx.out.print(p.range);
  }
}

function slotOf(v: Values): number {
  const x = str(v, "slot");
  if (x === undefined) throw new UsageError("--slot is required (the user number, 1 for the Master)");
  if (!/^[0-9]+$/.test(x) || Number(x) < 1 || Number(x) > 1_000_000) throw new UsageError("--slot is a user number: a whole number, 1 or more (1 is the Master)");
  return Number(x);
}

function expected(v: Values): { expectedVersion?: number } {
  return str(v, "expected-version") === undefined ? {} : { expectedVersion: int(v, "expected-version", 0, Number.MAX_SAFE_INTEGER) };
}

function isoTime(text: string, flag: string): number {
  const t = Date.parse(text);
  if (!Number.isFinite(t)) throw new UsageError(`--${flag} must be an ISO date/time, e.g. 2026-12-24T18:00:00Z`);
  return t;
}

const DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
function day(text: string): number {
  const t = text.trim().toLowerCase();
  if (/^[0-6]$/.test(t)) return Number(t);
  const i = DAY_NAMES.indexOf(t.slice(0, 3));
  if (i < 0) throw new UsageError("--weekly days are 0-6 (0 = Sunday) or sun..sat");
  return i;
}

function minutes(text: string, isEnd: boolean): number {
  const m = /^([0-9]{1,2}):([0-9]{2})$/.exec(text);
  if (!m) throw new UsageError("--weekly times are HH:MM");
  const value = Number(m[1]) * 60 + Number(m[2]);
  if (Number(m[2]) > 59 || value > (isEnd ? 1440 : 1439) || (isEnd && value === 0)) throw new UsageError("--weekly times are 00:00..23:59 (24:00 as an end)");
  return value;
}

/** "1-5 08:00-17:00", "sat,sun 22:00-06:00" (a window whose end is not after its start crosses midnight). */
export function parseWeekly(spec: string): { days: number[]; start: number; end: number } {
  const parts = spec.trim().split(/\s+/);
  if (parts.length !== 2) throw new UsageError('--weekly takes "DAYS HH:MM-HH:MM", e.g. "1-5 08:00-17:00"');
  const days = new Set<number>();
  for (const piece of parts[0]!.split(",")) {
    const [a, b] = piece.split("-");
    if (b === undefined) days.add(day(a!));
    else for (let d = day(a!), end = day(b); ; d = (d + 1) % 7) {
      days.add(d);
      if (d === end) break;
    }
  }
  const [s, e] = parts[1]!.split("-");
  if (s === undefined || e === undefined) throw new UsageError("--weekly times are HH:MM-HH:MM");
  return { days: [...days].sort((x, y) => x - y), start: minutes(s, false), end: minutes(e, true) };
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

function readKey(path: string): SigningKey {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new UsageError(`cannot read the key file ${path}`);
  }
  const text = bytes.toString("utf8").trim();
  try {
    if (text.startsWith("-----BEGIN")) return loadSigningKey(text);
    if (/^[0-9a-fA-F]{64}$/.test(text)) return loadSigningKey(Buffer.from(text, "hex"));
    const b64 = Buffer.from(text, "base64");
    if (b64.length === 32) return loadSigningKey(b64);
    if (bytes.length === 32) return loadSigningKey(bytes);
  } catch {
    /* fall through */
  }
  throw new UsageError(`${path} is not an Ed25519 key (64 hex chars, base64 of 32 bytes, raw 32 bytes or PKCS#8 PEM)`);
}

function readPanels(v: Values): string[] {
  const panels = [...((v.panel as string[] | undefined) ?? [])];
  const file = str(v, "panels-file");
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      throw new UsageError(`cannot read ${file}`);
    }
    for (const line of text.split(/\r?\n/)) {
      const id = line.replace(/#.*/, "").trim();
      if (id) panels.push(id);
    }
  }
  for (const p of panels) if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(p)) throw new UsageError(`invalid panel id ${JSON.stringify(p)}`);
  return [...new Set(panels)];
}

function readStdinLine(): string {
  try {
    return readFileSync(0, "utf8").split(/\r?\n/)[0]!.trim();
  } catch {
    throw new UsageError("cannot read the code from stdin");
  }
}

function exitFor(outcomes: readonly Outcome[]): number {
  if (outcomes.some((o) => o.status === "rejected")) return EXIT.rejected;
  if (outcomes.some((o) => o.status === "pending")) return EXIT.pending;
  return EXIT.ok;
}

/** One line per panel, or one JSON object per panel (never a code, except `generated` when it is). */
function report(ctx: Pick<Ctx, "out" | "broker">, outcomes: readonly Outcome[], generated?: ReadonlyMap<string, string>, windows?: ReadonlyMap<string, DealerWindowView>): number {
  const { out, broker } = ctx;
  for (const o of outcomes) {
    const code = generated?.get(o.panelId);
    const showCode = code !== undefined && o.status !== "rejected";
    if (out.json) {
      const j: Record<string, unknown> = { panel: o.panelId, status: o.status, id: o.id };
      if (o.seq !== undefined) j.seq = o.seq;
      if (o.status === "rejected") {
        j.code = o.code;
        j.detail = o.detail ?? null;
        j.message = sentenceOf(o.code);
      }
      if (o.status === "pending") {
        j.reason = o.reason;
        j.message = pendingSentence(o, broker);
      }
      if (o.status === "applied" && o.result?.slots) j.slots = jsonView(o.result.slots);
      if (o.status === "applied" && o.result && (o.result.added || o.result.changed || o.result.removed)) {
        j.added = o.result.added ?? [];
        j.changed = o.result.changed ?? [];
        j.removed = o.result.removed ?? [];
      }
      if (o.status === "applied" && o.dup) j.dup = true;
      const w = o.status === "applied" ? windows?.get(o.panelId) : undefined;
      if (w) j.dealerAccess = w;
      if (showCode) j.generatedCode = code;
      out.print(JSON.stringify(j));
    } else {
      const what =
        o.status === "applied" ? `applied   seq=${o.seq}` : o.status === "rejected" ? `rejected  ${o.code}  ${sentenceOf(o.code)}` : `pending   ${o.reason}  ${pendingSentence(o, broker)}`;
      const w = o.status === "applied" ? windows?.get(o.panelId) : undefined;
      const snap = o.status === "applied" && o.result && (o.result.added || o.result.changed || o.result.removed) ? `  ${slotsText(o.result)}` : "";
      out.print(`${o.panelId.padEnd(20)} ${what}${showCode ? `  code=${code}` : ""}${w ? `  dealer access ${windowText(w)}` : ""}${snap}`);
    }
  }
  return exitFor(outcomes);
}

/** How long to wait for a panel's retained state (it comes with the subscription when there is one). */
const STATE_WAIT_MS = 3000;

function noState(panelId: string): Outcome {
  const o = { status: "pending", panelId, id: "-", reason: "no_state" } as const;
  return { ...o, later: Promise.resolve({ ...o, later: Promise.resolve(o as unknown as Outcome) }) };
}

/** The panel's retained state, or undefined when the broker has none (a wrong id, an agent never connected). */
function stateOf(ctx: Ctx, panelId: string): Promise<State | undefined> {
  return ctx.client.panelState(panelId, Math.min(ctx.timeoutMs, STATE_WAIT_MS));
}

/** Sends to every panel that has a retained state; the others are `pending no_state` at once (nothing is sent to them). */
async function sendAll(ctx: Ctx, make: (panelId: string, state: State) => CommandInput): Promise<Outcome[]> {
  return Promise.all(
    ctx.panels.map(async (panelId) => {
      const state = await stateOf(ctx, panelId);
      return state ? ctx.client.send(panelId, { actor: ctx.actor, ...make(panelId, state) }) : noState(panelId);
    }),
  );
}

async function simple(ctx: Ctx, make: (panelId: string) => CommandInput): Promise<number> {
  return report(ctx, await sendAll(ctx, make));
}

function fmtDate(ms: unknown): string {
  return typeof ms === "number" ? new Date(ms).toISOString().slice(0, 10) : "-";
}

function fmtPartitions(ps: unknown): string {
  if (!Array.isArray(ps) || ps.length === 0) return "-";
  const nums = (ps as number[]).slice().sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < nums.length; i++) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j]! + 1) j++;
    out.push(j > i + 1 ? `${nums[i]}-${nums[j]}` : j === i + 1 ? `${nums[i]},${nums[j]}` : String(nums[i]));
    i = j;
  }
  return out.join(",");
}

function cut(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + "…" : s.padEnd(n);
}

// ---------------------------------------------------------------------------------------------
// subcommands

const slotOpt: Options = { slot: { type: "string" }, "expected-version": { type: "string" } };

const SUBS: Record<string, Sub> = {
  keygen: {
    summary: "create an Ed25519 signing key pair",
    usage: `panelctl keygen [--out FILE] [--force]
  Writes the private seed (hex) to FILE (mode 0600; default $PANELCTL_KEY) and the public key to FILE.pub,
  and prints the public key in hex: put it in the agent's trustedCloudKeys. Without FILE, prints both.`,
    options: { out: { type: "string" }, force: { type: "boolean" } },
    signs: false,
    run: async ({ values, out }) => {
      const { generateSigningKey } = await import("../../protocol/index.js");
      const key = generateSigningKey();
      const seed = rawPrivateKey(key.privateKey).toString("hex");
      const publicKey = key.publicRaw.toString("hex");
      const file = str(values, "out") ?? process.env.PANELCTL_KEY;
      if (file) {
        if (existsSync(file) && values.force !== true) throw new UsageError(`${file} exists (use --force to replace it)`);
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
    },
  },

  "set-code": {
    summary: "set a user's code (sealed to the panel)",
    usage: `panelctl set-code --panel ID --slot N (--code DIGITS | --code - | --generate) [--expected-version V]
  --code -     read the code from the first line of stdin (keeps it out of the process list)
  --generate   pick a random code of the panel's code length that is not weak (not all one digit, not a
               run like 1234/4321, not refused by the panel type); printed once, only here`,
    options: { ...slotOpt, code: { type: "string" }, generate: { type: "boolean" } },
    signs: true,
    run: async (ctx) => {
      const { values, client } = ctx;
      const slot = slotOf(values);
      const given = str(values, "code");
      const generate = values.generate === true;
      if ((given === undefined) === !generate) throw new UsageError("give exactly one of --code or --generate");
      if (!generate) {
        const code = given === "-" ? readStdinLine() : given!;
        return simple(ctx, () => ({ kind: "set_code", slot, code: new Secret(code), ...expected(values) }));
      }
      const generated = new Map<string, string>();
      const outcomes = await Promise.all(
        ctx.panels.map(async (panelId): Promise<Outcome> => {
          const state = await stateOf(ctx, panelId);
          if (!state) return noState(panelId);
          const refused = PANEL_TYPES[state.panelType].refusedCodes;
          // A code already in use on the panel is refused: pick another, a few times.
          for (let attempt = 0; ; attempt++) {
            const code = generateCode(state.codeLength, refused);
            const o = await client.send(panelId, { kind: "set_code", slot, code: new Secret(code), actor: ctx.actor, ...expected(values) });
            if (o.status === "rejected" && o.code === "code_in_use" && attempt < 4) continue;
            if (o.status !== "rejected") generated.set(panelId, code);
            return o;
          }
        }),
      );
      return report(ctx, outcomes, generated);
    },
  },

  "set-label": {
    summary: "set a user's label (or first and last name)",
    usage: "panelctl set-label --panel ID --slot N (--label TEXT | --first NAME [--last NAME]) [--expected-version V]",
    options: { ...slotOpt, label: { type: "string" }, first: { type: "string" }, last: { type: "string" } },
    signs: true,
    run: (ctx) => {
      const v = ctx.values;
      const slot = slotOf(v);
      const label = str(v, "label");
      const first = str(v, "first");
      const last = str(v, "last");
      if (label === undefined && first === undefined && last === undefined) throw new UsageError("give --label or --first/--last");
      return simple(ctx, () => ({ kind: "set_label", slot, ...(label !== undefined ? { label } : {}), ...(first !== undefined ? { firstName: first } : {}), ...(last !== undefined ? { lastName: last } : {}), ...expected(v) }));
    },
  },

  "set-partitions": {
    summary: "set a user's partitions",
    usage: "panelctl set-partitions --panel ID --slot N --partitions 1,2,5-8 [--expected-version V]",
    options: { ...slotOpt, partitions: { type: "string" } },
    signs: true,
    run: (ctx) => {
      const slot = slotOf(ctx.values);
      const partitions: number[] = [];
      for (const piece of need(ctx.values, "partitions").split(",")) {
        const m = /^([0-9]{1,2})(?:-([0-9]{1,2}))?$/.exec(piece.trim());
        if (!m) throw new UsageError("--partitions is a list like 1,2,5-8");
        for (let p = Number(m[1]); p <= Number(m[2] ?? m[1]); p++) partitions.push(p);
      }
      return simple(ctx, () => ({ kind: "set_partitions", slot, partitions, ...expected(ctx.values) }));
    },
  },

  "set-role": {
    summary: "set a user's role",
    usage: `panelctl set-role --panel ID --slot N --role ROLE [--expected-version V]\n  roles: ${ROLES.join(", ")}`,
    options: { ...slotOpt, role: { type: "string" } },
    signs: true,
    run: (ctx) => {
      const slot = slotOf(ctx.values);
      const role = need(ctx.values, "role");
      if (!(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role is one of: ${ROLES.join(", ")}`);
      return simple(ctx, () => ({ kind: "set_role", slot, role: role as Role, ...expected(ctx.values) }));
    },
  },

  "set-schedule": {
    summary: "set when a user's code works",
    usage: `panelctl set-schedule --panel ID --slot N (--always | --weekly "DAYS HH:MM-HH:MM" [--weekly ...] | --from ISO --to ISO)
  DAYS: 0-6 (0 = Sunday) or sun..sat, ranges and lists: "1-5", "sat,sun", "fri-mon". Local panel time;
  a window that ends at or before its start crosses midnight.`,
    options: { ...slotOpt, always: { type: "boolean" }, weekly: { type: "string", multiple: true }, from: { type: "string" }, to: { type: "string" } },
    signs: true,
    run: (ctx) => {
      const v = ctx.values;
      const slot = slotOf(v);
      const weekly = (v.weekly as string[] | undefined) ?? [];
      const modes = [v.always === true, weekly.length > 0, str(v, "from") !== undefined || str(v, "to") !== undefined].filter(Boolean).length;
      if (modes !== 1) throw new UsageError("give exactly one of --always, --weekly or --from/--to");
      const schedule =
        v.always === true
          ? { kind: "always" as const }
          : weekly.length > 0
            ? { kind: "weekly" as const, windows: weekly.map(parseWeekly) }
            : { kind: "temporary" as const, from: isoTime(need(v, "from"), "from"), to: isoTime(need(v, "to"), "to") };
      return simple(ctx, () => ({ kind: "set_schedule", slot, schedule, ...expected(v) }));
    },
  },

  disable: {
    summary: "disable a user (removes the code; the label resets with it)",
    usage: "panelctl disable --panel ID --slot N [--expected-version V]",
    options: slotOpt,
    signs: true,
    run: (ctx) => simple(ctx, () => ({ kind: "disable_user", slot: slotOf(ctx.values), ...expected(ctx.values) })),
  },

  "assign-account": {
    summary: "assign an app account to a user",
    usage: `panelctl assign-account --panel ID --slot N --account-id ID --email ADDR [--created ISO] [--status Active|"Not confirmed"|Suspended]`,
    options: { ...slotOpt, "account-id": { type: "string" }, email: { type: "string" }, created: { type: "string" }, status: { type: "string" } },
    signs: true,
    run: (ctx) => {
      const v = ctx.values;
      const slot = slotOf(v);
      const status = str(v, "status") ?? "Active";
      if (!["Active", "Not confirmed", "Suspended"].includes(status)) throw new UsageError('--status is Active, "Not confirmed" or Suspended');
      const account = { id: need(v, "account-id"), email: need(v, "email"), createdAt: str(v, "created") ? isoTime(str(v, "created")!, "created") : Date.now(), status: status as "Active" };
      return simple(ctx, () => ({ kind: "assign_account", slot, account, ...expected(v) }));
    },
  },

  "unassign-account": {
    summary: "unassign a user's account (the account is kept)",
    usage: "panelctl unassign-account --panel ID --slot N [--expected-version V]",
    options: slotOpt,
    signs: true,
    run: (ctx) => simple(ctx, () => ({ kind: "unassign_account", slot: slotOf(ctx.values), ...expected(ctx.values) })),
  },

  "remove-account": {
    summary: "remove an account from every user it is assigned to",
    usage: "panelctl remove-account --panel ID --account-id ID",
    options: { "account-id": { type: "string" } },
    signs: true,
    run: (ctx) => simple(ctx, () => ({ kind: "remove_account", accountId: need(ctx.values, "account-id") })),
  },

  users: {
    summary: "list users as the Users grid shows them",
    usage: "panelctl users --panel ID [--page N] [--per-page 10|15|50|100|200] [--only-active]",
    options: { page: { type: "string" }, "per-page": { type: "string" }, "only-active": { type: "boolean" } },
    signs: true,
    run: async (ctx) => {
      const { page, perPage } = pageArgs(ctx.values);
      const outcomes = await sendAll(ctx, () => ({ kind: "list_users", page, perPage, onlyActive: ctx.values["only-active"] === true }));
      printPages(ctx, outcomes, `${"№".padEnd(6)} ${"Label & role".padEnd(30)} ${"Code".padEnd(4)} ${"Partitions".padEnd(11)} ${"Account".padEnd(26)} ${"Created".padEnd(10)} Status`, (r) => {
        const label = `${String(r.label ?? "")}${r.role && r.role !== "-" ? ` (${String(r.role)})` : ""}`;
        return `${String(r.number).padEnd(6)} ${cut(label, 30)} ${(r.codeSet ? "✓" : "-").padEnd(4)} ${cut(fmtPartitions(r.partitions), 11)} ${cut(String(r.account ?? "-"), 26)} ${fmtDate(r.created).padEnd(10)} ${String(r.status ?? "")}`;
      });
      return exitFor(outcomes);
    },
  },

  log: {
    summary: "read the action log (newest first)",
    usage: "panelctl log --panel ID [--page N] [--per-page 10|15|50|100|200]",
    options: { page: { type: "string" }, "per-page": { type: "string" } },
    signs: true,
    run: async (ctx) => {
      const { page, perPage } = pageArgs(ctx.values);
      const outcomes = await sendAll(ctx, () => ({ kind: "read_action_log", page, perPage }));
      printPages(ctx, outcomes, `${"Time".padEnd(24)} ${"Actor".padEnd(22)} ${"Action".padEnd(22)} ${"Slot".padEnd(6)} Result`, (r) => {
        const actor = r.actor as { kind?: string; id?: string } | undefined;
        return `${new Date(Number(r.at)).toISOString().padEnd(24)} ${cut(`${actor?.kind ?? "?"}:${actor?.id ?? "?"}`, 22)} ${cut(String(r.action), 22)} ${String(r.slot ?? "-").padEnd(6)} ${String(r.result)}`;
      });
      return exitFor(outcomes);
    },
  },

  snapshot: {
    summary: "replace the panel's whole user table (the answer to a resync request)",
    usage: `panelctl snapshot --panel ID --file USERS.json
  USERS.json: {"users": [{"slot": 1, "code": "1234" | "keep", "label": "...", "role": "...", "partitions": [1],
  "schedule": {...}, "doorLocks": [...], "tags": [{"kind": "keypad", "tag": "..."}], "account": {...} | null}]}
  Slots not listed are cleared. Codes are sealed to each panel; they are never printed.`,
    options: { file: { type: "string" } },
    signs: true,
    run: (ctx) => {
      const file = need(ctx.values, "file");
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(file, "utf8"));
      } catch {
        throw new UsageError(`cannot read ${file} as JSON`);
      }
      const list = Array.isArray(raw) ? raw : (raw as { users?: unknown }).users;
      if (!Array.isArray(list)) throw new UsageError(`${file}: expected {"users": [...]}`);
      const users = list.map((u: Record<string, unknown>) => {
        const user: Record<string, unknown> = { ...u };
        user.code = u.code === "keep" ? "keep" : new Secret(String(u.code ?? ""));
        if (Array.isArray(u.tags)) user.tags = (u.tags as Array<{ kind: string; tag: string }>).map((t) => ({ kind: t.kind, tag: new Secret(String(t.tag)) }));
        return user;
      });
      return simple(ctx, () => ({ kind: "snapshot", users } as CommandInput));
    },
  },

  dealer: {
    summary: "Security Professional access: grant [--request ID] [--hours 2|24] | revoke | status",
    usage: `panelctl dealer grant --panel ID [--request ID] [--hours 2|24]   (as the Master; 2 h, or 24 h answering a request)
panelctl dealer revoke --panel ID
panelctl dealer status --panel ID                                   (from the retained state; sends nothing)`,
    options: { request: { type: "string" }, hours: { type: "string" } },
    signs: true,
    run: async () => EXIT.usage, // dispatched by action below
  },

  watch: {
    summary: "print events live until Ctrl-C",
    usage: `panelctl watch [--panel ID ...] [--json]   (every panel when none is given)
  One line per event: access granted/denied (keypad or door lock, slot, the reason of a denial),
  duress, lockout, dealer access, resync requests, changes; panels going offline/online and the
  broker going away and coming back. --json prints each event as the panel sent it.`,
    options: {},
    signs: false,
    run: async (ctx) => {
      const print = (panelId: string, e: WireEvent) => {
        if (ctx.out.json) ctx.out.print(JSON.stringify(e));
        else ctx.out.print(eventLine(panelId, e));
      };
      ctx.client.on("status", (panelId, s) => {
        if (ctx.panels.length > 0 && !ctx.panels.includes(panelId)) return;
        if (ctx.out.json) ctx.out.print(JSON.stringify({ panel: panelId, status: s.status, ...(s.reason ? { reason: s.reason } : {}) }));
        else ctx.out.print(statusLine(panelId, s, s.at ?? Date.now()));
      });
      ctx.client.on("broker", ({ up }) => {
        if (ctx.out.json) ctx.out.print(JSON.stringify({ broker: ctx.broker, up }));
        else ctx.out.print(brokerLine(up, ctx.broker, Date.now()));
      });
      const stop = new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      const iterators = ctx.panels.length > 0 ? ctx.panels.map((p) => ctx.client.events(p)) : [ctx.client.events("+")];
      const loops = iterators.map(async (it) => {
        for await (const { panelId, event } of it) print(panelId, event);
      });
      ctx.out.error("watching; Ctrl-C to stop");
      await stop;
      for (const it of iterators) await it.return?.();
      await Promise.all(loops);
      return EXIT.ok;
    },
  },
};

interface DealerWindowView {
  until: number;
  untilIso: string;
  /** The panel's local time of `until`, in its time zone. */
  untilLocal: string;
  timeZone: string;
  hours: 2 | 24;
  how: "direct" | "request";
  requestId?: string;
}

function localTime(ms: number, timeZone: string): string {
  try {
    const parts = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(new Date(ms));
    const get = (t: string) => parts.find((x) => x.type === t)?.value ?? "";
    return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")} ${timeZone}`;
  } catch {
    return new Date(ms).toISOString();
  }
}

/** A dealer window for people: until (ISO and panel-local), hours, how it was granted (24 h answers a request, 2 h is direct). */
function windowView(d: { until: number; hours: 2 | 24; requestId?: string }, timeZone: string): DealerWindowView {
  const v: DealerWindowView = { until: d.until, untilIso: new Date(d.until).toISOString(), untilLocal: localTime(d.until, timeZone), timeZone, hours: d.hours, how: d.hours === 24 ? "request" : "direct" };
  if (d.requestId !== undefined) v.requestId = d.requestId;
  return v;
}

function windowText(w: DealerWindowView): string {
  const how = w.how === "request" ? `answering ${w.requestId !== undefined ? `request ${w.requestId}` : "a dealer's request"}` : "granted directly by the Master";
  return `until ${w.untilIso} (${w.untilLocal}), ${w.hours} h, ${how}`;
}

async function dealer(ctx: Ctx, action: string): Promise<number> {
  if (action === "status") {
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
  // Grants and revocations are the Master's (or a keypad Master's): the actor is the Master unless --actor-kind says otherwise.
  const actor: Actor = str(ctx.values, "actor-kind") === undefined ? { kind: "master", id: ctx.actor.id } : ctx.actor;
  if (action === "grant") {
    const requestId = str(ctx.values, "request");
    const hoursText = str(ctx.values, "hours");
    if (hoursText !== undefined && hoursText !== "2" && hoursText !== "24") throw new UsageError("--hours is 2 or 24");
    if (hoursText === "24" && requestId === undefined) throw new UsageError("--hours 24 answers a dealer's request: give --request ID (a direct grant lasts 2 h)");
    if (hoursText === "2" && requestId !== undefined) throw new UsageError("a grant answering a request (--request) lasts 24 h: leave out --hours 2");
    const hours = requestId !== undefined ? 24 : 2;
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
      const code = report(ctx, outcomes, undefined, granted);
      return code;
    } finally {
      ctx.client.off("event", onEvent);
    }
  }
  if (action === "revoke") return report(ctx, await sendAll(ctx, () => ({ kind: "revoke_dealer_access", actor })));
  throw new UsageError("dealer takes grant, revoke or status");
}

function mainHelp(): string {
  const lines = Object.entries(SUBS).map(([name, s]) => `  ${name.padEnd(18)} ${s.summary}`);
  return `panelctl — manage panel users over MQTT (signed, sealed commands)\n\nUsage: panelctl <command> [flags]   (panelctl <command> --help)\n\n${lines.join("\n")}\n\n${COMMON_HELP}`;
}

/** A parseArgs failure in words, never echoing a value (it might be a code typed in the wrong place). */
function argsError(err: NodeJS.ErrnoException, args: readonly string[]): string {
  const text = err.message;
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return "unexpected argument (flags take their value as --flag VALUE)";
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE": {
      const name = /'(--[a-z-]+)/.exec(text)?.[1];
      if (!name) return "an option is missing its value";
      const i = args.indexOf(name);
      const next = i >= 0 ? args[i + 1] : undefined;
      if (next !== undefined && /^-[0-9]/.test(next)) {
        if (name === "--slot") return "--slot is a user number: a whole number, 1 or more (1 is the Master)";
        if (name === "--code") return "--code takes digits only";
        return `${name} cannot be negative`;
      }
      return `${name} needs a value`;
    }
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION": {
      const name = /'([^']*)'/.exec(text)?.[1];
      return name !== undefined && /^--?[A-Za-z][A-Za-z-]*$/.test(name) ? `unknown option ${name}` : "unknown option";
    }
    default:
      return "invalid arguments";
  }
}

export async function main(argv: string[], out: Out): Promise<number> {
  const name = argv[0];
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    (name === undefined ? out.error : out.print)(mainHelp());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const sub = SUBS[name];
  if (!sub) {
    out.error(`panelctl: unknown command ${JSON.stringify(name)}\n\n${mainHelp()}`);
    return EXIT.usage;
  }
  let rest = argv.slice(1);
  let action: string | undefined;
  if (name === "dealer" && rest[0] !== undefined && !rest[0].startsWith("-")) {
    action = rest[0];
    rest = rest.slice(1);
  }
  let values: Values;
  try {
    values = parseArgs({ args: rest, options: { ...COMMON, ...sub.options }, strict: true, allowPositionals: false }).values as Values;
  } catch (err) {
    const msg = argsError(err as NodeJS.ErrnoException, rest);
    out.error(`panelctl ${name}: ${msg}\n\n${sub.usage}`);
    return EXIT.usage;
  }
  out.json = values.json === true;
  if (values.help === true) {
    out.print(`${sub.usage}\n\n${COMMON_HELP}`);
    return EXIT.ok;
  }

  let client: CloudClient | undefined;
  try {
    if (name === "keygen") return await sub.run({ values, out } as Ctx);
    if (name === "dealer" && (action === undefined || !["grant", "revoke", "status"].includes(action))) throw new UsageError("dealer takes grant, revoke or status");
    const panels = readPanels(values);
    if (panels.length === 0 && name !== "watch") throw new UsageError("give --panel ID (repeatable) or --panels-file FILE");
    const signs = sub.signs && !(name === "dealer" && action === "status");
    const keyFile = str(values, "key") ?? process.env.PANELCTL_KEY;
    if (signs && !keyFile) throw new UsageError("give --key FILE (or set PANELCTL_KEY)");
    const signingKey = keyFile && signs ? readKey(keyFile) : loadSigningKey(randomBytes(32));
    const mqttVersion = str(values, "mqtt") ?? "4";
    if (mqttVersion !== "4" && mqttVersion !== "5") throw new UsageError("--mqtt is 4 or 5");
    const timeoutText = str(values, "timeout") ?? "10";
    const timeoutS = Number(timeoutText);
    if (!/^[0-9]+(\.[0-9]+)?$/.test(timeoutText) || timeoutS <= 0 || timeoutS > 3600) throw new UsageError("--timeout is seconds, > 0");
    const timeoutMs = Math.round(timeoutS * 1000);
    const prefix = str(values, "prefix") ?? "panels";
    if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(prefix)) throw new UsageError("invalid --prefix");
    const file = (f: string | undefined) => {
      if (!f) return undefined;
      try {
        return readFileSync(f);
      } catch {
        throw new UsageError(`cannot read ${f}`);
      }
    };
    const tls = str(values, "ca") || str(values, "cert") ? { ca: file(str(values, "ca")), cert: file(str(values, "cert")), key: file(str(values, "cert-key")) } : undefined;
    const seqFile = str(values, "seq-file") ?? process.env.PANELCTL_SEQ_FILE ?? join(process.env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "panelctl", "seq.json");
    const password = str(values, "password") ?? process.env.PANELCTL_PASSWORD;
    const actorKind = str(values, "actor-kind") ?? "cloud";
    if (!(ACTOR_KINDS as readonly string[]).includes(actorKind)) throw new UsageError(`--actor-kind is ${ACTOR_KINDS.join(", ")}`);
    const actorId = str(values, "actor") ?? "panelctl";
    if (actorId.length === 0 || actorId.length > 128) throw new UsageError("--actor is an id of 1 to 128 characters");
    const actor: Actor = { kind: actorKind as (typeof ACTOR_KINDS)[number], id: actorId };
    const url = brokerUrl(str(values, "broker") ?? process.env.PANELCTL_BROKER ?? "mqtt://127.0.0.1:1883");
    client = new CloudClient({
      url,
      signingKey,
      protocolVersion: mqttVersion === "5" ? 5 : 4,
      topicPrefix: prefix,
      ackTimeoutMs: timeoutMs,
      connectTimeoutMs: timeoutMs,
      seqStore: new JsonFileSeqStore(seqFile),
      // The seq file lives apart from the agent's data: keep it in step when the panel was reset or the file is stale.
      resequence: true,
      actor,
      ...(str(values, "username") ? { username: str(values, "username") } : {}),
      ...(password ? { password } : {}),
      ...(tls ? { tls } : {}),
    });
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
    try {
      await client.connect();
    } catch (err) {
      out.error(`panelctl: ${err instanceof CloudError ? err.message : "cannot connect to the broker"}`);
      return EXIT.connection;
    }
    const ctx: Ctx = { values, out, panels, client, actor, timeoutMs, broker: shownUrl(url) };
    return name === "dealer" ? await dealer(ctx, action!) : await sub.run(ctx);
  } catch (err) {
    if (err instanceof UsageError) {
      out.error(`panelctl ${name}: ${err.message}\n\n${sub.usage}`);
      return EXIT.usage;
    }
    throw err;
  } finally {
    await client?.close();
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, "/").split("/").pop()!);
if (isMain) {
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
}
