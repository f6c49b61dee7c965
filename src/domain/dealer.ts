import { READ_COMMANDS, type Actor, type CommandKind } from "./commands.js";
import type { ErrorCode } from "./errors.js";
import type { MetaValue } from "./table.js";

/**
 * Security Professional (dealer) access, from seed doc 002: read-only by default; the Master user
 * grants near-full access for 2 hours (directly) or 24 hours (answering the dealer's emailed
 * request); the dealer can change anything except user codes; the Master can end it early; after
 * expiry the dealer is read-only again.
 *
 * Time: the window is measured on the agent's steady clock (`ApplyContext.steady`: milliseconds
 * that only move forward, continuous across restarts; see src/store/steady-clock.ts), never on the
 * wall clock, so an NTP correction or a manual clock change neither extends nor shortens it. Wall
 * times are kept for display only. The window is checked at every command; housekeeping only
 * turns an elapsed window into its `dealer_access_expired` event.
 */
export const DEALER_KEY = "dealer";

export const DEALER_HOURS = { direct: 2, request: 24 } as const;

export interface DealerWindow {
  [key: string]: MetaValue;
  state: "active" | "revoked" | "expired";
  how: "direct" | "request";
  requestId: string | null;
  hours: number;
  grantedBy: string;
  /** Steady-clock milliseconds: the truth for enforcement. */
  grantedSteady: number;
  expiresSteady: number;
  /** Wall-clock milliseconds at grant and the expected end, for people to read. */
  grantedAt: number;
  expiresAt: number;
  /** Wall time of the dealer's first command in this window (the "dealer logged in" notification), or null. */
  sessionStartedAt: number | null;
  endedAt: number | null;
}

/**
 * Commands that set, change, remove or could reveal a credential. A dealer may never issue them
 * (seed doc 002: "cannot change your system's user codes"). Disabling removes the code; a snapshot
 * replaces every code; proximity tags are credentials too (our reading: the same rule applies).
 */
export const CREDENTIAL_COMMANDS: ReadonlySet<CommandKind> = new Set<CommandKind>(["set_code", "disable_user", "snapshot", "set_proximity_tags"]);

/** Commands only the Master may issue. */
export const MASTER_COMMANDS: ReadonlySet<CommandKind> = new Set<CommandKind>(["grant_dealer_access", "revoke_dealer_access"]);

export function dealerWindow(value: MetaValue | undefined): DealerWindow | null {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as DealerWindow) : null;
}

export function isWindowOpen(w: DealerWindow | null, steady: number): w is DealerWindow {
  return w !== null && w.state === "active" && steady < w.expiresSteady;
}

/** The window is still marked active but its time is up: housekeeping turns it into `expire_dealer_access`. */
export function windowElapsed(w: DealerWindow | null, steady: number): w is DealerWindow {
  return w !== null && w.state === "active" && steady >= w.expiresSteady;
}

/** Why a dealer may not issue `kind` now, or null when the dealer may. */
export function dealerRefusal(w: DealerWindow | null, kind: CommandKind, steady: number): ErrorCode | null {
  if (READ_COMMANDS.has(kind)) return null;
  if (MASTER_COMMANDS.has(kind)) return "master_required";
  if (!isWindowOpen(w, steady)) return w === null ? "dealer_read_only" : "dealer_access_expired";
  if (CREDENTIAL_COMMANDS.has(kind)) return "dealer_cannot_change_codes";
  return null;
}

export function isMasterActor(actor: Actor, slotRoleIsMaster: (slot: number) => boolean): boolean {
  if (actor.kind === "master") return true;
  return actor.kind === "keypad_user" && actor.slot !== undefined && slotRoleIsMaster(actor.slot);
}
