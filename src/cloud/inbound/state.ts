/**
 * The panel's retained state: the sealing key, the last applied seq and the database epoch that
 * the sender works from. A replayed or foreign state must neither wind the panel back nor undo a
 * reset.
 */
import { decodeState, type State } from "../../../protocol/index.js";
import type { Panel } from "../panel.js";
import type { InboundContext } from "./context.js";

/** `payload` is the message as it came (kept by the gate should the state be judged again after a pin). */
export function onStateMessage(ctx: InboundContext, p: Panel, body: Uint8Array, payload?: Buffer): void {
  const d = decodeState(body);
  if (!d.ok) return void ctx.emit("warning", { panelId: p.id, code: d.error.code });
  if (d.value.panel !== p.id) return ctx.gate.refuse(p.id, "state", "wrong_panel");
  const pinned = ctx.gate.identityOf(p.id);
  if (ctx.verify && pinned && d.value.identityKey && !pinned.publicRaw.equals(Buffer.from(d.value.identityKey))) {
    return ctx.gate.refuse(p.id, "state", "identity_mismatch", payload);
  }
  if (staleState(p, d.value)) return void ctx.emit("warning", { panelId: p.id, code: "stale_state" });
  takeState(ctx, p, d.value);
}

/**
 * A signed state can be published again by whoever recorded it: one older than the state in
 * hand (same database, lower lastSeq or tableVersion) or of a database the panel has left is
 * not taken, so a replay can neither wind a panel back nor undo a reset.
 */
function staleState(p: Panel, s: State): boolean {
  if (s.epoch !== undefined && p.pastEpochs?.has(s.epoch)) return true;
  const cur = p.state;
  return cur !== undefined && cur.epoch === s.epoch && (s.lastSeq < cur.lastSeq || s.tableVersion < cur.tableVersion);
}

function takeState(ctx: InboundContext, p: Panel, state: State): void {
  const before = p.state;
  if (before?.epoch !== undefined && before.epoch !== state.epoch) (p.pastEpochs ??= new Set()).add(before.epoch);
  p.state = state;
  const counter = p.sender.lastAssigned;
  // Another epoch: the panel's database was made anew (only once the counter is known; the client's start-up checks the first).
  if (counter !== undefined && p.epoch !== undefined && state.epoch !== undefined && state.epoch !== p.epoch) ctx.reset(p, state, counter);
  else if (counter !== undefined) p.epoch ??= state.epoch;
  // A new sealing key: what was prepared is sealed to the old one.
  if (before && !Buffer.from(before.sealKey).equals(Buffer.from(state.sealKey))) p.sender.unprepare();
  const waiters = p.stateWaiters;
  p.stateWaiters = [];
  for (const w of waiters) w(state);
  ctx.emit("state", p.id, state);
}
