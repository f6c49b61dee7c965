import type { PanelTypeId } from "../domain/index.js";
import { num } from "./row.js";

/** A panel as the fleet keeps it: what it was enrolled with and what it last reported. */
export interface PanelRow {
  id: string;
  type: PanelTypeId;
  codeLength: number;
  timeZone: string;
  partitions: number;
  capacity: number;
  sealKey: Buffer;
  nextSeq: number;
  online: boolean | null;
  lastSeq: number | null;
  epoch: string | null;
  digest: string | null;
  stateAt: Date | null;
  lastAckAt: Date | null;
  identityKey: Buffer | null;
  doorLocks: string[];
  dealerUntil: Date | null;
  dealerHours: number | null;
  reconciledDigest: string | null;
}

const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** A `panels` row (SELECT *) as a PanelRow. */
export function panelFromRow(r: Record<string, unknown>): PanelRow {
  return {
    id: String(r.id),
    type: r.type as PanelTypeId,
    codeLength: num(r.code_length),
    timeZone: String(r.time_zone),
    partitions: num(r.partitions),
    capacity: num(r.capacity),
    sealKey: Buffer.from(r.seal_key as Uint8Array),
    nextSeq: num(r.next_seq),
    online: (r.online as boolean | null) ?? null,
    lastSeq: numOrNull(r.last_seq),
    epoch: (r.epoch as string | null) ?? null,
    digest: (r.digest as string | null) ?? null,
    stateAt: (r.state_at as Date | null) ?? null,
    lastAckAt: (r.last_ack_at as Date | null) ?? null,
    identityKey: r.identity_key ? Buffer.from(r.identity_key as Uint8Array) : null,
    doorLocks: (r.door_locks as string[] | null) ?? [],
    dealerUntil: (r.dealer_until as Date | null) ?? null,
    dealerHours: numOrNull(r.dealer_hours),
    reconciledDigest: (r.reconciled_digest as string | null) ?? null,
  };
}
