import { createHash, randomBytes } from "node:crypto";
import { closeSync, constants, existsSync, fstatSync, openSync, readFileSync, writeSync, fsyncSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { AgentFailure } from "../failures.js";

export const DEVICE_KEY_FILE = "device.key";
/** The agent's X25519 private key: cloud commands seal codes to its public half. */
export const SEAL_KEY_FILE = "seal.key";
const KEY_BYTES = 32;

/** A key file the agent needs is missing, damaged, readable by others or not the database's own. */
export class DeviceKeyError extends AgentFailure {
  constructor(message: string, code: "device_key_missing" | "device_key_invalid" | "device_key_mismatch" = "device_key_invalid") {
    super(code, message);
    this.name = "DeviceKeyError";
  }
}

/** A non-secret fingerprint of the key, kept in the database to detect a swapped key file. */
export function keyFingerprint(key: Buffer): string {
  return createHash("sha256").update("panel-agent/device-key-fingerprint").update(key).digest("hex").slice(0, 32);
}

/**
 * Loads the device key (32 bytes, mode 0600) or creates it on first start. When the database
 * already holds digests (`mustExist`), a missing or damaged key is a start-up error: a new key
 * would silently turn every stored code into garbage.
 */
export function loadDeviceKey(stateDir: string, mustExist: boolean): { key: Buffer; created: boolean } {
  const path = join(stateDir, DEVICE_KEY_FILE);
  if (!existsSync(path) && mustExist) {
    throw new DeviceKeyError(`The device key ${path} is missing but the database holds code digests; restore the key file (a new key would invalidate every code).`, "device_key_missing");
  }
  return loadKeyFile(path, "device key");
}

/**
 * Reads a 32-byte secret key file (mode 0600), or creates it with fresh random bytes when absent.
 * A wrong size, a non-file or a file others may read is refused.
 */
export function loadKeyFile(path: string, what: string): { key: Buffer; created: boolean } {
  if (!existsSync(path)) {
    const key = randomBytes(KEY_BYTES);
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      writeSync(fd, key);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(path, 0o600);
    return { key, created: true };
  }
  const fd = openSync(path, "r");
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new DeviceKeyError(`The ${what} ${path} is not a regular file.`);
    if ((st.mode & 0o077) !== 0) throw new DeviceKeyError(`The ${what} ${path} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); it must be 0600.`);
  } finally {
    closeSync(fd);
  }
  const key = readFileSync(path);
  if (key.length !== KEY_BYTES) throw new DeviceKeyError(`The ${what} ${path} is damaged: ${key.length} bytes instead of ${KEY_BYTES}.`);
  return { key, created: false };
}
