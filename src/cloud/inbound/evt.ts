/** Events: decoded, deduplicated by the outbox number `n`, and a resync request also told as `resync`. */
import { decodeEvent } from "../../../protocol/index.js";
import type { Panel } from "../panel.js";
import type { ResyncRequest } from "../types.js";
import type { InboundContext } from "./context.js";

export function onEvent(ctx: InboundContext, p: Panel, body: Uint8Array): void {
  const d = decodeEvent(body);
  if (!d.ok) return void ctx.emit("warning", { panelId: p.id, code: d.error.code });
  if (d.value.panel !== p.id) return ctx.gate.refuse(p.id, "evt", "wrong_panel");
  // The agent republishes its outbox until acknowledged by the broker: seen numbers come again.
  if (d.value.n <= p.highestN) return;
  p.highestN = d.value.n;
  ctx.emit("event", p.id, d.value);
  if (d.value.type === "resync_request") {
    const data = d.value.data;
    const req: ResyncRequest = { panelId: p.id, lastSeq: data.lastSeq, reason: data.reason };
    if (data.gotSeq !== undefined) req.gotSeq = data.gotSeq;
    ctx.emit("resync", req);
  }
}
