import type { EventData, EventType } from "../../protocol/index.js";
import type { AgentEvent } from "../core.js";

export interface WireEventBody<T extends EventType = EventType> {
  type: T;
  at: number;
  data: EventData<T>;
}

function body<T extends EventType>(type: T, at: number, data: EventData<T>): WireEventBody {
  return { type, at, data };
}

/** Every event the agent emits, in its wire form (protocol/README.md, "Events"). No credential reaches it. */
export function wireEvent(e: AgentEvent): WireEventBody {
  switch (e.type) {
    case "local_change":
      return body("local_change", e.at, { actor: e.actor, action: e.action, slot: e.slot, after: e.after });
    case "one_time_consumed":
      return body("one_time_consumed", e.at, { slot: e.slot, localDay: e.localDay });
    case "snapshot_applied":
      return body("snapshot_applied", e.at, { added: e.added, changed: e.changed, removed: e.removed });
    case "dealer_access_granted":
      return body("dealer_access", e.at, { change: "granted", by: e.by, hours: e.hours === 24 ? 24 : 2, until: e.expiresAt, ...(e.requestId ? { requestId: e.requestId } : {}) });
    case "dealer_session_started":
      return body("dealer_access", e.at, { change: "session_started", by: { kind: "dealer", id: e.dealer } });
    case "dealer_access_revoked":
      return body("dealer_access", e.at, { change: "revoked", by: e.by });
    case "dealer_access_expired":
      return body("dealer_access", e.at, { change: "expired" });
    case "access":
      return body("access", e.at, {
        point: e.point.kind === "keypad" ? { kind: "keypad", id: e.point.id } : { kind: "doorlock", id: e.point.lockId },
        credential: e.credentialKind,
        granted: e.granted,
        reason: e.reason ?? "ok",
        ...(e.slot !== null ? { slot: e.slot } : {}),
      });
    case "duress":
      return body("duress", e.at, { slot: e.slot, point: e.point.kind === "keypad" ? { kind: "keypad", id: e.point.id } : { kind: "doorlock", id: e.point.lockId } });
    case "lockout":
      return body("lockout", e.at, {
        point: e.scope === "panel" ? null : { kind: e.scope === "keypad" ? "keypad" : "doorlock", id: e.id },
        scope: e.scope === "panel" ? "panel" : "keypad",
        failures: e.failures,
        until: e.at + e.lockedForMs,
      });
  }
}
