/**
 * What panelctl prints: one line (or one JSON object) per panel and command, a refusal with its
 * code and sentence, pages as tables. A code is printed only when panelctl generated it, once.
 */
import { outcomeSentence, type Outcome } from "../../cloud/index.js";
import { windowText, type DealerWindowView } from "./dealer-window.js";
import { EXIT } from "./usage.js";

export interface Out {
  /** Set from --json before a subcommand runs. */
  json: boolean;
  print(line: string): void;
  error(line: string): void;
}

/** The sentence of an outcome's code (the agent's table, then the cloud client's own), for people; the code stays beside it. */
export const sentenceOf = outcomeSentence;

/** Why a command is pending, in a sentence. */
export function pendingSentence(o: { panelId: string; reason: string }, broker: string): string {
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

export function exitFor(outcomes: readonly Outcome[]): number {
  if (outcomes.some((o) => o.status === "rejected")) return EXIT.rejected;
  if (outcomes.some((o) => o.status === "pending")) return EXIT.pending;
  return EXIT.ok;
}

/** A value of an agent's page as text for a grid cell: text and numbers as they are, anything else (absent, null) as `missing`. */
export function shown(v: unknown, missing: string): string {
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : missing;
}

export function fmtDate(ms: unknown): string {
  return typeof ms === "number" ? new Date(ms).toISOString().slice(0, 10) : "-";
}

/** [1, 2, 3, 5, 7, 8] as "1-3,5,7,8". */
export function fmtPartitions(ps: unknown): string {
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

/** A cell of `n` characters: cut with an ellipsis, or padded. */
export function cut(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + "…" : s.padEnd(n);
}

function slotsText(r: { added?: number[]; changed?: number[]; removed?: number[] }): string {
  const list = (x?: number[]) => (x && x.length > 0 ? fmtPartitions(x) : "none");
  return `added ${list(r.added)}; changed ${list(r.changed)}; removed ${list(r.removed)}`;
}

export interface Reporter {
  out: Out;
  /** The broker URL without credentials, for messages. */
  broker: string;
}

/** One line per panel, or one JSON object per panel (never a code, except `generated` when it is). */
export function report(ctx: Reporter, outcomes: readonly Outcome[], generated?: ReadonlyMap<string, string>, windows?: ReadonlyMap<string, DealerWindowView>): number {
  const { out, broker } = ctx;
  for (const o of outcomes) {
    const code = generated?.get(o.panelId);
    const showCode = code !== undefined && o.status !== "rejected";
    const snapshot = o.status === "applied" && o.result && (o.result.added || o.result.changed || o.result.removed) ? o.result : undefined;
    const w = o.status === "applied" ? windows?.get(o.panelId) : undefined;
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
      if (snapshot) {
        j.added = snapshot.added ?? [];
        j.changed = snapshot.changed ?? [];
        j.removed = snapshot.removed ?? [];
      }
      if (o.status === "applied" && o.dup) j.dup = true;
      if (w) j.dealerAccess = w;
      if (showCode) j.generatedCode = code;
      out.print(JSON.stringify(j));
    } else {
      const what =
        o.status === "applied" ? `applied   seq=${o.seq}` : o.status === "rejected" ? `rejected  ${o.code}  ${sentenceOf(o.code)}` : `pending   ${o.reason}  ${pendingSentence(o, broker)}`;
      out.print(`${o.panelId.padEnd(20)} ${what}${showCode ? `  code=${code}` : ""}${w ? `  dealer access ${windowText(w)}` : ""}${snapshot ? `  ${slotsText(snapshot)}` : ""}`);
    }
  }
  return exitFor(outcomes);
}

/** Prints each panel's page (a read's result) as a table with its range text, or as JSON lines. */
export function printPages(ctx: Reporter & { panels: readonly string[] }, outcomes: readonly Outcome[], header: string, row: (r: Record<string, unknown>) => string): number {
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
    for (const r of p.rows) ctx.out.print(row(r));
    ctx.out.print(p.range);
  }
  return exitFor(outcomes);
}
