import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from "node:crypto";
import { chmodSync, openSync, closeSync, readFileSync, statSync, writeSync } from "node:fs";
import { Secret } from "../domain/index.js";
import { FleetError } from "./errors.js";

const VERSION = 1;
const NONCE = 12;
const TAG = 16;
const KEY_ID = 4;

/**
 * Access codes at rest: AES-256-GCM under a 32-byte key kept in a file outside the database
 * (mode 0600, made on first start). A ciphertext is `version(1) | key id(4) | nonce(12) | ct | tag(16)`
 * and is bound to what it belongs to by its AAD (`person:<id>`, `command:<id>`), so a ciphertext
 * copied to another row does not open. The database never holds a code in clear.
 */
export class CodeVault {
  readonly #key: Buffer;
  readonly #macKey: Buffer;
  readonly keyId: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new FleetError("vault_key_invalid");
    this.#key = Buffer.from(key);
    this.#macKey = createHmac("sha256", this.#key).update("panel-fleet/code-mac/v1").digest();
    this.keyId = createHash("sha256").update(this.#key).digest().subarray(0, KEY_ID);
  }

  /** Reads the key file, or creates it (32 random bytes, mode 0600) when it does not exist. Refuses a file others can read. */
  static fromFile(path: string): CodeVault {
    let fd: number | undefined;
    try {
      fd = openSync(path, "wx", 0o600);
      writeSync(fd, randomBytes(32));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    chmodSync(path, statSync(path).mode & 0o600);
    if ((statSync(path).mode & 0o077) !== 0) throw new FleetError("vault_key_invalid", { reason: "mode" });
    return new CodeVault(readFileSync(path));
  }

  encrypt(code: Secret | string, aad: string): Buffer {
    const nonce = randomBytes(NONCE);
    const cipher = createCipheriv("aes-256-gcm", this.#key, nonce);
    cipher.setAAD(Buffer.from(aad, "utf8"));
    const plain = typeof code === "string" ? code : code.reveal();
    const ct = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    return Buffer.concat([Buffer.of(VERSION), this.keyId, nonce, ct, cipher.getAuthTag()]);
  }

  decrypt(blob: Uint8Array, aad: string): Secret {
    const b = Buffer.from(blob);
    if (b.length < 1 + KEY_ID + NONCE + TAG || b[0] !== VERSION || !b.subarray(1, 1 + KEY_ID).equals(this.keyId)) throw new FleetError("code_unreadable");
    const nonce = b.subarray(1 + KEY_ID, 1 + KEY_ID + NONCE);
    const decipher = createDecipheriv("aes-256-gcm", this.#key, nonce);
    decipher.setAAD(Buffer.from(aad, "utf8"));
    decipher.setAuthTag(b.subarray(b.length - TAG));
    try {
      return new Secret(Buffer.concat([decipher.update(b.subarray(1 + KEY_ID + NONCE, b.length - TAG)), decipher.final()]).toString("utf8"));
    } catch {
      throw new FleetError("code_unreadable");
    }
  }

  /**
   * A keyed digest of a proximity tag's id, whatever its kind (the agent refuses a tag another user
   * of the panel has, by its id): the fleet refuses the clash before writing, as it does for codes.
   */
  tagMac(id: string): string {
    return createHmac("sha256", this.#macKey).update("tag\u0000").update(id).digest("hex");
  }

  /** A keyed digest of a code: equal codes give equal digests (uniqueness per panel), the code cannot be read back without the key. */
  mac(code: Secret | string): string {
    return createHmac("sha256", this.#macKey).update(typeof code === "string" ? code : code.reveal()).digest("hex");
  }
}
