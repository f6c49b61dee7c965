/** Status is not signed (the broker publishes the last will): it only says when to expect answers, never an outcome. */
import { decodeStatus } from "../../../protocol/index.js";
import type { InboundContext } from "./context.js";

export function onStatus(ctx: InboundContext, panelId: string, payload: Buffer): void {
  const d = decodeStatus(payload);
  if (!d.ok) return void ctx.emit("warning", { panelId, code: d.error.code });
  const p = ctx.panel(panelId);
  const wasOffline = p.status?.status === "offline";
  p.status = d.value;
  ctx.emit("status", panelId, d.value);
  // Back online: what the broker queued arrives now; resend only if that does not answer in time.
  if (wasOffline && d.value.status === "online") p.sender.backOnline();
}
