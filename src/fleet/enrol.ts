import type { CloudClient } from "../cloud/index.js";
import type { PanelTypeId } from "../domain/index.js";
import { FleetError } from "./errors.js";
import type { FleetStore, PanelRow } from "./store.js";

export interface EnrolRequest {
  id: string;
  /** When given, must match what the panel reports. */
  type?: PanelTypeId;
  codeLength?: number;
  partitions?: number;
  doorLocks?: string[];
}

function identityKeyOf(state: object): Uint8Array | undefined {
  const k = (state as { identityKey?: unknown }).identityKey;
  return k instanceof Uint8Array && k.length === 32 ? k : undefined;
}

/**
 * Enrols a panel from its retained state: type, code length, capacity, time zone as it reports
 * them, its sealing key pinned as its identity, and the fleet's first seq after its lastSeq.
 */
export async function enrolPanel(store: FleetStore, client: CloudClient, req: EnrolRequest, timeoutMs = 5000): Promise<PanelRow> {
  if (await store.panel(req.id)) throw new FleetError("panel_exists", { panelId: req.id });
  const state = await client.panelState(req.id, timeoutMs);
  if (!state) throw new FleetError("panel_unreachable", { panelId: req.id });
  if ((req.type && req.type !== state.panelType) || (req.codeLength && req.codeLength !== state.codeLength)) {
    throw new FleetError("panel_mismatch", { panelId: req.id, reportedType: state.panelType, reportedCodeLength: state.codeLength });
  }
  const panel = await store.enrolPanel({
    id: req.id,
    type: state.panelType,
    codeLength: state.codeLength,
    timeZone: state.timeZone,
    capacity: state.capacity,
    ...(req.partitions ? { partitions: req.partitions } : {}),
    sealKey: state.sealKey,
    lastSeq: state.lastSeq,
    digest: state.digest,
    ...(state.epoch ? { epoch: state.epoch } : {}),
    // The panel's Ed25519 identity key, pinned when its state carries one (the protocol adds `identityKey`).
    ...(identityKeyOf(state) ? { identityKey: identityKeyOf(state)! } : {}),
    ...(req.doorLocks ? { doorLocks: req.doorLocks } : {}),
  });
  // The retained status came before the panel had a row: record it now.
  const status = client.panelStatus(req.id);
  if (status) await store.recordPanelStatus(req.id, status.status === "online");
  return (await store.panel(req.id)) ?? panel;
}
