import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadSigningKey, type SigningKey } from "../../protocol/index.js";
import { DeviceKeyError, loadKeyFile } from "./device-key.js";

/** The agent's Ed25519 identity: it signs every ack, event and state the agent publishes (protocol/README.md 4.1). */
export const IDENTITY_KEY_FILE = "identity.key";
/** Where the database records which identity it was published under (the key id: not secret). */
const IDENTITY_STATE = "identity_kid";

/** The part of the store this needs: its small key/value state. */
export interface IdentityRecord {
  state(key: string): string | undefined;
  setState(key: string, value: string): void;
}

/**
 * Loads the identity key (a 32-byte Ed25519 seed, mode 0600, beside the sealing key) or creates it
 * on first start. Never regenerated over a database that was published under one: a cloud pinned
 * that identity, and a new one would look exactly like a forger, so a missing or different key file
 * is a start-up error (restore the file). A database from before identity keys records none yet:
 * its first identity is made then.
 */
export function loadIdentityKey(stateDir: string, db: IdentityRecord): { key: SigningKey; created: boolean } {
  const path = join(stateDir, IDENTITY_KEY_FILE);
  const recorded = db.state(IDENTITY_STATE);
  if (recorded !== undefined && !existsSync(path)) {
    throw new DeviceKeyError(
      `The identity key ${path} is missing but the database was published under identity ${recorded}; restore the key file (a new identity would be refused by every cloud that pinned this panel).`,
    );
  }
  const { key: seed, created } = loadKeyFile(path, "identity key");
  const key = loadSigningKey(seed);
  seed.fill(0);
  if (recorded !== undefined && recorded !== key.kid) {
    throw new DeviceKeyError(`The identity key ${path} (${key.kid}) is not the one this database was published under (${recorded}); restore the original key file.`);
  }
  if (recorded === undefined) db.setState(IDENTITY_STATE, key.kid);
  return { key, created };
}
