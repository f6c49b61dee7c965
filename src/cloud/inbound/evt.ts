/** Events: decoded, deduplicated by (epoch, outbox number `n`), and a resync request also told as `resync`. */
import { decodeEvent } from "../../../protocol/index.js";
import type { Panel } from "../panel.js";
import type { ResyncRequest } from "../types.js";
import type { InboundContext } from "./context.js";

export function onEvent(ctx: InboundContext, p: Panel, body: Uint8Array): void {
  const d = decodeEvent(body);
  if (!d.ok) return void ctx.emit("warning", { panelId: p.id, code: d.error.code });
  if (d.value.panel !== p.id) return ctx.gate.refuse(p.id, "evt", "wrong_panel");
  // The agent republishes its outbox until acknowledged by the broker: seen numbers come again.
  if (!isNew(p, d.value.epoch, d.value.n)) return;
  ctx.emit("event", p.id, d.value);
  if (d.value.type === "resync_request") {
    const data = d.value.data;
    const req: ResyncRequest = { panelId: p.id, lastSeq: data.lastSeq, reason: data.reason };
    if (data.gotSeq !== undefined) req.gotSeq = data.gotSeq;
    ctx.emit("resync", req);
  }
}

/** Epochs whose highest event number is remembered per panel: a reset panel's old epoch can still be redelivered for a while. */
export const EPOCHS_REMEMBERED = 4;

/**
 * Whether event `n` of `epoch` was not heard before, noting it. Numbers restart at 1 with a new
 * database, so an event naming its epoch counts within that epoch, whether or not the panel's new
 * state (which resets `highestN`) was heard first; one naming none counts in `highestN`.
 */
export function isNew(p: Pick<Panel, "highestN" | "highestNByEpoch">, epoch: string | undefined, n: number): boolean {
  if (epoch === undefined) {
    if (n <= p.highestN) return false;
    p.highestN = n;
    return true;
  }
  const seen = p.highestNByEpoch.get(epoch) ?? 0;
  if (n <= seen) return false;
  p.highestNByEpoch.delete(epoch);
  p.highestNByEpoch.set(epoch, n);
  for (const old of p.highestNByEpoch.keys()) {
    if (p.highestNByEpoch.size <= EPOCHS_REMEMBERED) break;
    p.highestNByEpoch.delete(old);
  }
  return true;
}
