import { encodeCbor, encodeEvent, type EventData, type EventType } from "../../protocol/index.js";
import type { AgentEvent } from "../core.js";
import type { OutboxInsert } from "../store/store.js";
import { wireEvent } from "./events.js";

/** Outbox rows this agent writes hold the final, signed bytes for their topic. */
export const OUTBOX_ACK = "ack.final";
export const OUTBOX_EVENT = "evt.final";
/**
 * Rows an older agent wrote (before messages were signed in the transaction): `ack` holds the bare
 * ack, `evt` the CBOR of { type, at, data }. The link still publishes them after an upgrade.
 */
export const LEGACY_OUTBOX_ACK = "ack";
export const LEGACY_OUTBOX_EVENT = "evt";

/** Signs a message body as the panel (or, for a benchmark's baseline only, leaves it bare). */
export type Finish = (body: Uint8Array) => Uint8Array;

/**
 * Makes the outbox rows of acks and events in their final form, once, in the transaction that
 * commits them (an event's number is part of its signed bytes). The signer is set when the identity
 * key is loaded, before anything is published.
 */
export class OutboxRows {
  readonly #panelId: string;
  #finish: Finish | undefined;
  readonly #onUnencodable: (type: string, err: Error) => void;
  readonly #epoch: () => string | undefined;

  /** `epoch`: the database's epoch (7.2) each event names, once the database is open. */
  constructor(panelId: string, onUnencodable: (type: string, err: Error) => void, epoch: () => string | undefined = () => undefined) {
    this.#panelId = panelId;
    this.#onUnencodable = onUnencodable;
    this.#epoch = epoch;
  }

  setFinish(finish: Finish): void {
    this.#finish = finish;
  }

  #final(body: Uint8Array): Uint8Array {
    if (!this.#finish) throw new Error("outbox rows: no signer set yet (the identity key is loaded before the link starts)");
    return this.#finish(body);
  }

  ack(bare: Uint8Array): OutboxInsert {
    return { kind: OUTBOX_ACK, body: this.#final(bare) };
  }

  event<T extends EventType>(type: T, at: number, data: EventData<T>): OutboxInsert {
    return {
      kind: OUTBOX_EVENT,
      encode: (n) => {
        try {
          return this.#final(encodeEvent(this.#panelId, n, at, type, data, this.#epoch()));
        } catch (err) {
          // An event no encoder accepts must not fail the commit it belongs to (the command would be
          // redelivered forever): it is dropped, without a number, and said in the log.
          this.#onUnencodable(type, err as Error);
          return null;
        }
      },
    };
  }

  /** An agent event (rules, access checks, duress, lockout) in its wire form. */
  agentEvent(e: AgentEvent): OutboxInsert {
    const w = wireEvent(e);
    return this.event(w.type, w.at, w.data);
  }
}

/** A bare event row as an older agent stored it (tests of the upgrade path). */
export function legacyEventRow(e: AgentEvent): OutboxInsert {
  return { kind: LEGACY_OUTBOX_EVENT, body: encodeCbor(wireEvent(e)), numbered: true };
}
