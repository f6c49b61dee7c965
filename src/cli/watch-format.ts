/**
 * panelctl watch: one readable line per event (the raw event is `--json`). Pure: no IO, no
 * credentials (events carry none: slots, points, reasons).
 */
import type { Status, WireEvent } from "../../protocol/index.js";

/** Why an access attempt was denied, in words (the agent's stable reason codes, src/access). */
export const DENIAL_WORDS: Record<string, string> = {
  unknown_credential: "unknown code or tag",
  no_code: "the user has no code",
  outside_schedule: "outside the user's schedule",
  not_yet_valid: "temporary access not yet valid",
  expired: "temporary access expired",
  partition_not_allowed: "not allowed on this keypad's partitions",
  lock_not_assigned: "door lock not assigned to the user",
  role_not_permitted: "the user's role may not do that",
  one_time_used: "one-time user already disarmed today",
  locked_out: "keypad locked out (too many wrong codes)",
};

function point(p: { kind: string; id: string } | null | undefined): string {
  return p ? `${p.kind === "doorlock" ? "door lock" : "keypad"} ${p.id}` : "every keypad";
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function actor(a: { kind: string; id: string; slot?: number } | undefined): string {
  return a ? `${a.kind} ${a.id}${a.slot !== undefined ? ` (slot ${a.slot})` : ""}` : "?";
}

const list = (xs: number[]) => (xs.length > 0 ? xs.join(",") : "none");

/** The words of one event (without time and panel). */
export function eventText(e: WireEvent): string {
  switch (e.type) {
    case "access": {
      const d = e.data;
      const who = d.slot !== undefined ? `slot ${d.slot}` : "no user";
      const cred = d.credential === "tag" ? "tag" : "code";
      if (d.granted) return `access granted   ${point(d.point)}  ${who} (${cred})${d.duress ? "  DURESS" : ""}`;
      return `access denied    ${point(d.point)}  ${who} (${cred})  reason ${d.reason}: ${DENIAL_WORDS[d.reason] ?? d.reason}`;
    }
    case "duress":
      return `DURESS           ${point(e.data.point)}  slot ${e.data.slot}: a duress code was used (silent alarm; the keypad showed an ordinary grant)`;
    case "lockout":
      return `lockout          ${e.data.scope === "panel" ? "the whole panel" : point(e.data.point)} locked until ${iso(e.data.until)} after ${e.data.failures} wrong attempts`;
    case "dealer_access": {
      const d = e.data;
      const window = d.until !== undefined ? ` until ${iso(d.until)}` : "";
      switch (d.change) {
        case "granted":
          return `dealer access    granted${d.hours !== undefined ? ` for ${d.hours} h` : ""}${window}${d.requestId !== undefined ? ` answering request ${d.requestId}` : " directly"} by ${actor(d.by)}`;
        case "revoked":
          return `dealer access    revoked by ${actor(d.by)}`;
        case "expired":
          return "dealer access    expired (read-only again)";
        default:
          return `dealer access    session started${d.by ? ` by ${actor(d.by)}` : ""} (the dealer's first command)`;
      }
    }
    case "resync_request":
      return `resync request   the panel's last seq is ${e.data.lastSeq}${e.data.gotSeq !== undefined ? `, it got ${e.data.gotSeq}` : ""} (${e.data.reason}): answer with \`panelctl snapshot\``;
    case "local_change":
      return `change           ${e.data.action}${e.data.slot !== null ? ` slot ${e.data.slot}` : ""} by ${actor(e.data.actor)}`;
    case "one_time_consumed":
      return `one-time use     slot ${e.data.slot} disarmed (its use for ${e.data.localDay})`;
    case "snapshot_applied":
      return `snapshot applied added ${list(e.data.added)}; changed ${list(e.data.changed)}; removed ${list(e.data.removed)}`;
    case "temporary_access_expired":
      return `temporary access slot ${e.data.slot} ended at ${iso(e.data.until)}`;
    default:
      return `${(e as { type: string }).type}`;
  }
}

export function eventLine(panelId: string, e: WireEvent): string {
  return `${iso(e.at)} ${panelId.padEnd(16)} #${String(e.n).padEnd(5)} ${eventText(e)}`;
}

export function statusLine(panelId: string, s: Status, at: number): string {
  const why = s.reason === "shutdown" ? " (agent stopped)" : s.reason === "connection_lost" ? " (connection lost)" : "";
  return `${iso(at)} ${panelId.padEnd(16)} panel ${s.status}${why}`;
}

export function brokerLine(up: boolean, broker: string, at: number): string {
  return `${iso(at)} ${"(broker)".padEnd(16)} ${up ? `broker ${broker} is back; watching again` : `broker ${broker} went away; reconnecting`}`;
}
