/**
 * What the inbound handlers need of the client: its options, the identity gate (to refuse a
 * message that names another panel or identity), its events, and the panel-reset rule shared with
 * the client's start-up.
 */
import type { EventEmitter } from "node:events";
import type { State } from "../../../protocol/index.js";
import type { IdentityGate } from "../identity-gate.js";
import type { Panel } from "../panel.js";
import type { CloudClientEvents } from "../types.js";

/** The client's own emit (bound): handlers tell the client's listeners directly. */
export type Emit = EventEmitter<CloudClientEvents>["emit"];

export interface InboundContext {
  readonly resequence: boolean;
  readonly verify: boolean;
  readonly ackTimeoutMs: number;
  readonly gate: IdentityGate;
  readonly emit: Emit;
  closed(): boolean;
  /** The panel (made on first sight: a status may arrive for a panel not yet sent to). */
  panel(panelId: string): Panel;
  /** The panel's state shows another epoch than its counter's (see CloudClient). */
  reset(p: Panel, state: State, counter: number): void;
}
