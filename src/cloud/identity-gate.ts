import { panelIdentity, type PanelIdentity } from "../../protocol/index.js";
import { judge, type AgentChannel, type ForgedMessage, type IdentityPinned, type TrustMode } from "./authenticity.js";
import type { SeqStore } from "./seq-store.js";

/** Messages kept per panel while its identity is not yet known. */
const MAX_HELD = 1000;

export interface IdentityGateOptions {
  trust: TrustMode;
  /** Where pins are kept across restarts (both methods optional: then per process). */
  store: Pick<SeqStore, "loadIdentity" | "saveIdentity">;
  logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** A message signed by the panel's pinned identity: `body` is the verified message. */
  deliver(panelId: string, channel: AgentChannel, body: Uint8Array, payload: Buffer): void;
  forged(info: ForgedMessage): void;
  identity(info: IdentityPinned): void;
  warning(panelId: string, code: string): void;
}

interface PanelTrust {
  identity?: PanelIdentity;
  /** The store was asked (or an identity was pinned or forgotten explicitly). */
  loaded: boolean;
  loading: boolean;
  /** Payloads waiting for the identity to be known, in arrival order. */
  held: { channel: AgentChannel; payload: Buffer }[];
  /** The last state refused for its key: judged again when an identity is pinned or forgotten. */
  refusedState?: Buffer;
}

/**
 * The cloud client's gate on a panel's ack, evt and state topics (protocol/README.md 4.1): only
 * what the panel's pinned identity signed goes through to `deliver`; the rest is dropped and
 * reported (`forged`). Pins come from the store, from `pin` (provisioned), or from the first
 * self-signed state (trust on first use, logged); what arrives before the pin is known is held.
 */
export class IdentityGate {
  readonly #o: IdentityGateOptions;
  readonly #panels = new Map<string, PanelTrust>();

  constructor(options: IdentityGateOptions) {
    this.#o = options;
  }

  #trust(panelId: string): PanelTrust {
    let t = this.#panels.get(panelId);
    if (!t) this.#panels.set(panelId, (t = { loaded: false, loading: false, held: [] }));
    return t;
  }

  /** One payload from a panel's agent channel. */
  receive(panelId: string, channel: AgentChannel, payload: Buffer): void {
    const t = this.#trust(panelId);
    if (!t.loaded) {
      this.#hold(panelId, t, channel, payload);
      void this.#load(panelId, t);
      return;
    }
    this.#judge(panelId, t, channel, payload);
  }

  identityOf(panelId: string): PanelIdentity | undefined {
    return this.#panels.get(panelId)?.identity;
  }

  /** Pins (provisioned) a panel's identity, kept in the store; a refused state is judged again. */
  pin(panelId: string, publicKey: Uint8Array | string): void {
    const t = this.#trust(panelId);
    this.#pin(panelId, t, panelIdentity(publicKey), "provisioned");
    this.#rejudge(panelId, t);
  }

  /** Forgets a panel's identity: with `tofu`, its next signed state (the refused one at once) pins again. */
  forget(panelId: string): void {
    const t = this.#trust(panelId);
    t.identity = undefined;
    t.loaded = true;
    void Promise.resolve(this.#o.store.saveIdentity?.(panelId, undefined)).catch(() => this.#o.warning(panelId, "identity_store_failed"));
    this.#rejudge(panelId, t);
  }

  /** A believed message that is still not the panel's (it names another panel or identity): drop and report. */
  refuse(panelId: string, channel: AgentChannel, reason: ForgedMessage["reason"], payload?: Buffer): void {
    const t = this.#trust(panelId);
    if (channel === "state" && payload && reason === "identity_mismatch") t.refusedState = payload;
    this.#forged(panelId, channel, reason, t.identity?.kid);
  }

  #judge(panelId: string, t: PanelTrust, channel: AgentChannel, payload: Buffer): void {
    const verdict = judge(channel, payload, t.identity, this.#o.trust);
    switch (verdict.kind) {
      case "accept":
        return this.#o.deliver(panelId, channel, verdict.body, payload);
      case "hold":
        return this.#hold(panelId, t, channel, payload);
      case "pin":
        this.#pin(panelId, t, verdict.identity, "first_use");
        this.#o.deliver(panelId, channel, verdict.body, payload);
        return this.#release(panelId, t);
      case "refuse":
        if (channel === "state") t.refusedState = payload;
        return this.#forged(panelId, channel, verdict.reason, verdict.kid);
    }
  }

  #forged(panelId: string, channel: AgentChannel, reason: ForgedMessage["reason"], kid?: string): void {
    const info: ForgedMessage = { panelId, channel, reason, ...(kid ? { kid } : {}) };
    this.#o.logger?.warn(info, `dropped a ${channel} message for panel ${panelId} that is not signed by its pinned identity (${reason})`);
    this.#o.forged(info);
  }

  #hold(panelId: string, t: PanelTrust, channel: AgentChannel, payload: Buffer): void {
    t.held.push({ channel, payload });
    if (t.held.length > MAX_HELD) {
      t.held.shift();
      this.#o.warning(panelId, "held_overflow");
    }
  }

  #release(panelId: string, t: PanelTrust): void {
    const held = t.held;
    t.held = [];
    for (const h of held) this.#judge(panelId, t, h.channel, h.payload);
  }

  async #load(panelId: string, t: PanelTrust): Promise<void> {
    if (t.loading) return;
    t.loading = true;
    let stored: string | undefined;
    try {
      stored = this.#o.store.loadIdentity ? await this.#o.store.loadIdentity(panelId) : undefined;
    } catch {
      stored = undefined;
      this.#o.warning(panelId, "identity_store_failed");
    }
    if (t.loaded) return; // pinned or forgotten explicitly meanwhile
    t.loaded = true;
    if (stored !== undefined) {
      try {
        this.#pin(panelId, t, panelIdentity(stored), "stored");
      } catch {
        this.#o.warning(panelId, "identity_store_invalid");
      }
    }
    this.#release(panelId, t);
  }

  #pin(panelId: string, t: PanelTrust, identity: PanelIdentity, how: IdentityPinned["how"]): void {
    t.identity = identity;
    t.loaded = true;
    if (how !== "stored") void Promise.resolve(this.#o.store.saveIdentity?.(panelId, identity.publicRaw.toString("hex"))).catch(() => this.#o.warning(panelId, "identity_store_failed"));
    if (how === "first_use") this.#o.logger?.info({ panelId, kid: identity.kid }, `panel ${panelId}: identity ${identity.kid} pinned on first use (trust on first use: check it out of band, e.g. against the installer's record)`);
    this.#o.identity({ panelId, kid: identity.kid, publicKey: identity.publicRaw, how });
  }

  #rejudge(panelId: string, t: PanelTrust): void {
    const refused = t.refusedState;
    t.refusedState = undefined;
    if (refused) this.#judge(panelId, t, "state", refused);
    this.#release(panelId, t);
  }
}
