import {
  agentPayload, decodeCbor, panelIdentity, stateSchema, verifyAgentPayload, verifyBytes,
  type PanelIdentity, type Unauthentic,
} from "../../protocol/index.js";

/**
 * Whether a message on a panel's ack, evt or state topic comes from the panel (protocol/README.md
 * 4.1): signed by the panel's identity key, which the cloud pins at enrolment (provisioned) or
 * on first use (the first signed state seen, self-consistent: its `identityKey` signed it).
 */

/** How a client learns a panel's identity: given to it (`pinIdentity`, or the SeqStore), or from the first signed state it sees. */
export type TrustMode = "tofu" | "provisioned";

export type AgentChannel = "ack" | "evt" | "state";

/** A message that was dropped because it could not be shown to come from the panel. */
export interface ForgedMessage {
  panelId: string;
  channel: AgentChannel;
  reason:
    | Unauthentic
    /** No identity is pinned for the panel (provisioned mode), so nothing from it can be believed. */
    | "no_identity"
    /** A state signed by the pinned identity names another `identityKey`. */
    | "identity_mismatch"
    /** Signed by the identity, but the message inside names another panel than its topic. */
    | "wrong_panel";
  /** The key id the message was signed with, when it had one. */
  kid?: string;
}

/** A panel's identity was pinned. */
export interface IdentityPinned {
  panelId: string;
  kid: string;
  publicKey: Buffer;
  /** first_use: from the first signed state seen (TOFU); provisioned: given by pinIdentity; stored: loaded from the SeqStore. */
  how: "first_use" | "provisioned" | "stored";
}

export type Verdict =
  /** Signed by the pinned identity: believe `body`. */
  | { kind: "accept"; body: Uint8Array }
  /** A first-use state: signed by the key it names; pin `identity`, then believe `body`. */
  | { kind: "pin"; body: Uint8Array; identity: PanelIdentity }
  /** No identity yet (TOFU): keep it until a state pins one. */
  | { kind: "hold" }
  | { kind: "refuse"; reason: ForgedMessage["reason"]; kid?: string };

/**
 * Judges one payload of a panel's agent channel against the pinned identity (if any). Never
 * throws. On first use only a state can pin an identity, and only one that names the very key
 * that signed it.
 */
export function judge(channel: AgentChannel, payload: Uint8Array, pinned: PanelIdentity | undefined, mode: TrustMode): Verdict {
  if (pinned) {
    const v = verifyAgentPayload(payload, pinned);
    return v.ok ? { kind: "accept", body: v.body } : { kind: "refuse", reason: v.reason, ...(v.kid ? { kid: v.kid } : {}) };
  }
  const outer = agentPayload(payload);
  if (!outer.ok) return { kind: "refuse", reason: "malformed" };
  if (!outer.value.signed) return { kind: "refuse", reason: "unsigned" };
  const { kid, body, sig } = outer.value;
  if (mode === "provisioned") return { kind: "refuse", reason: "no_identity", kid };
  if (channel !== "state") return { kind: "hold" };
  const decoded = decodeCbor(body);
  const state = decoded.ok ? stateSchema.safeParse(decoded.value) : undefined;
  if (!state?.success || !state.data.identityKey) return { kind: "refuse", reason: "malformed", kid };
  const identity = panelIdentity(state.data.identityKey);
  if (identity.kid !== kid) return { kind: "refuse", reason: "unknown_key", kid };
  if (!verifyBytes(body, sig, identity.key)) return { kind: "refuse", reason: "bad_signature", kid };
  return { kind: "pin", body, identity };
}
