import { randomBytes } from "node:crypto";
import { PanelTable, partitionsInUse, rolePartitionsFixed, type CredentialHasher, type PanelConfig, type Slot } from "./domain/index.js";
import { DeviceKeyError, keyFingerprint, loadDeviceKey } from "./store/device-key.js";
import { Store, StoreError } from "./store/store.js";

const EPOCH_STATE = "epoch";
const FINGERPRINT_STATE = "key_fingerprint";
const CONFIG_STATE = "config";

export interface OpenedPanel {
  store: Store;
  table: PanelTable;
  hash: CredentialHasher;
  /** 16 hex digits made when this database was created; a new one means the table was lost. */
  epoch: string;
}

/**
 * Loaded slots share what most of them hold alike (no door locks, no tags, "always", the same few
 * partition sets) instead of 10k copies each: ~1 MB of a 10k-user table on a board with little RAM.
 * The shared values are frozen; the rules never change a slot in place (they copy it).
 */
function slotCompactor(): (slot: Slot) => Slot {
  const none = Object.freeze([]) as unknown as never[];
  const always = Object.freeze({ kind: "always" }) as Slot["schedule"];
  const partitionSets = new Map<string, number[]>();
  return (slot) => {
    if (slot.doorLocks.length === 0) slot.doorLocks = none;
    if (slot.tags.length === 0) slot.tags = none;
    if (slot.schedule.kind === "always") slot.schedule = always;
    const key = slot.partitions.join(",");
    const shared = partitionSets.get(key);
    if (shared) slot.partitions = shared;
    else if (partitionSets.size < 256) partitionSets.set(key, Object.freeze(slot.partitions) as number[]);
    return slot;
  };
}

/**
 * Opens the panel's durable state: the database, the device key it was written with (a swapped
 * key would turn every stored code digest into garbage), its epoch, and the user table as the
 * configuration says it is now (a Master holds every partition; a different panel is refused).
 */
export function openPanel(dir: string, config: PanelConfig, makeHasher: (key: Buffer) => CredentialHasher): OpenedPanel {
  const store = Store.open(dir);
  try {
    const { table, hash, epoch } = store.transaction(() => {
      const fingerprint = store.state.get(FINGERPRINT_STATE);
      const { key } = loadDeviceKey(dir, store.existed && fingerprint !== undefined);
      if (fingerprint !== undefined && fingerprint !== keyFingerprint(key)) {
        throw new DeviceKeyError(`The device key in ${dir} does not match the one this database was written with; restore the original key file.`, "device_key_mismatch");
      }
      if (fingerprint === undefined) store.state.set(FINGERPRINT_STATE, keyFingerprint(key));
      // The database's identity: made once with the table, published in the retained state, so a
      // cloud can tell a reset or replaced panel (a new epoch) from one that missed commands.
      let epoch = store.state.get(EPOCH_STATE);
      if (epoch === undefined) store.state.set(EPOCH_STATE, (epoch = randomBytes(8).toString("hex")));

      const compact = slotCompactor();
      const all = partitionsInUse(config);
      const slots: Slot[] = [];
      const fixed = new Map<number, Slot>();
      for (const raw of store.slots.all()) {
        const slot = compact(raw);
        // The configured partitions may have grown or shrunk since the slots were written.
        const f = rolePartitionsFixed(slot, all);
        if (f) fixed.set(f.number, f);
        slots.push(f ?? slot);
      }
      store.slots.write(fixed);
      const stored = store.state.get(CONFIG_STATE);
      if (stored !== undefined && slots.length > 0) {
        const prev = JSON.parse(stored) as PanelConfig;
        if (prev.type !== config.type || prev.codeLength !== config.codeLength || prev.panelId !== config.panelId) {
          throw new StoreError(
            "store_config_mismatch",
            `The configured panel (id ${config.panelId}, type ${config.type}, ${config.codeLength}-digit codes) does not match the stored user table (id ${prev.panelId}, type ${prev.type}, ${prev.codeLength}-digit codes).`,
          );
        }
      }
      store.state.set(CONFIG_STATE, JSON.stringify(config));
      return { table: new PanelTable(config, slots, store.slots.meta()), hash: makeHasher(key), epoch };
    });
    store.shrinkMemory();
    return { store, table, hash, epoch };
  } catch (err) {
    store.close();
    throw err;
  }
}
