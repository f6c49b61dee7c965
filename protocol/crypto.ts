import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  sign as edSign,
  verify as edVerify,
  type KeyObject,
} from "node:crypto";
import type { Sealed } from "./schema.js";

/**
 * Ed25519 signing of command bodies and X25519 sealing of credentials (protocol/README.md,
 * "Signatures" and "Sealing"). Only node:crypto APIs present in Node 20, 22 and 24.
 * Keys travel as raw 32-byte strings in messages; PEM (PKCS#8 / SPKI) or raw for storage.
 */

const ED25519_PKCS8 = Buffer.from("302e020100300506032b657004220420", "hex");
const X25519_PKCS8 = Buffer.from("302e020100300506032b656e04220420", "hex");

export const SEAL_INFO_PREFIX = "panel-agent/seal/v1";

function raw32(bytes: Uint8Array, what: string): Buffer {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32) throw new TypeError(`${what}: expected 32 raw bytes`);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Raw 32-byte public key of an Ed25519 or X25519 KeyObject (public or private). Through JWK, not
 * DER: OpenSSL 3's DER encoder and decoder cost ~100-200 us per key, JWK's raw bytes ~5-15 us,
 * and a seal (cloud) or an unseal (agent) makes or reads one key per sealed command.
 */
export function rawPublicKey(key: KeyObject): Buffer {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  const jwk = pub.export({ format: "jwk" });
  if (jwk.kty === "OKP" && typeof jwk.x === "string") return Buffer.from(jwk.x, "base64url");
  const der = pub.export({ format: "der", type: "spki" });
  return der.subarray(der.length - 32);
}

/** A public KeyObject from 32 raw bytes of an OKP curve (same key as the SPKI DER import, ~10x cheaper). */
function okpPublic(crv: "Ed25519" | "X25519", raw: Buffer): KeyObject {
  return createPublicKey({ key: { kty: "OKP", crv, x: raw.toString("base64url") }, format: "jwk" });
}

/** Raw 32-byte private key (seed) of an Ed25519 or X25519 private KeyObject. For storage only. */
export function rawPrivateKey(key: KeyObject): Buffer {
  const der = key.export({ format: "der", type: "pkcs8" });
  return der.subarray(der.length - 32);
}

/** Key id: hex of the first 8 bytes of SHA-256 over the raw 32-byte public key. */
export function keyId(publicRaw: Uint8Array): string {
  return createHash("sha256").update(raw32(publicRaw, "keyId")).digest().subarray(0, 8).toString("hex");
}

// ---------------------------------------------------------------------------------------------
// Ed25519

/** A cloud signing key: private key, raw public key and key id. */
export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicRaw: Buffer;
  readonly kid: string;
}

function signingKeyFrom(privateKey: KeyObject): SigningKey {
  if (privateKey.asymmetricKeyType !== "ed25519" || privateKey.type !== "private") throw new TypeError("expected an Ed25519 private key");
  const publicRaw = rawPublicKey(privateKey);
  return { privateKey, publicRaw, kid: keyId(publicRaw) };
}

export function generateSigningKey(): SigningKey {
  return signingKeyFrom(generateKeyPairSync("ed25519").privateKey);
}

/** From a 32-byte seed, or a PKCS#8 PEM string. */
export function loadSigningKey(key: Uint8Array | string): SigningKey {
  if (typeof key === "string") return signingKeyFrom(createPrivateKey(key));
  return signingKeyFrom(createPrivateKey({ key: Buffer.concat([ED25519_PKCS8, raw32(key, "Ed25519 seed")]), format: "der", type: "pkcs8" }));
}

/** An Ed25519 public key from 32 raw bytes or an SPKI PEM string. */
export function loadVerifyKey(key: Uint8Array | string): KeyObject {
  const k = typeof key === "string" ? createPublicKey(key) : okpPublic("Ed25519", raw32(key, "Ed25519 public key"));
  if (k.asymmetricKeyType !== "ed25519") throw new TypeError("expected an Ed25519 public key");
  return k;
}

export function signBytes(data: Uint8Array, key: SigningKey): Buffer {
  return edSign(null, data, key.privateKey);
}

/** Never throws: a malformed signature is simply false. */
export function verifyBytes(data: Uint8Array, signature: Uint8Array, publicKey: KeyObject): boolean {
  try {
    return edVerify(null, data, publicKey, signature);
  } catch {
    return false;
  }
}

/**
 * The cloud keys an agent trusts, by key id. Rotation: add the new key, move the cloud to it, then
 * drop the old one; while both are listed, commands signed by either verify.
 */
export class TrustedKeys {
  readonly #byKid = new Map<string, KeyObject>();

  constructor(keys: Iterable<Uint8Array | string | KeyObject> = []) {
    for (const k of keys) this.add(k);
  }

  /** Adds a key (raw 32 bytes, SPKI PEM or KeyObject); returns its key id. */
  add(key: Uint8Array | string | KeyObject): string {
    const obj = typeof key === "string" || key instanceof Uint8Array ? loadVerifyKey(key) : key;
    if (obj.asymmetricKeyType !== "ed25519" || obj.type !== "public") throw new TypeError("expected an Ed25519 public key");
    const kid = keyId(rawPublicKey(obj));
    this.#byKid.set(kid, obj);
    return kid;
  }

  get(kid: string): KeyObject | undefined {
    return this.#byKid.get(kid);
  }

  kids(): string[] {
    return [...this.#byKid.keys()];
  }

  get size(): number {
    return this.#byKid.size;
  }
}

// ---------------------------------------------------------------------------------------------
// X25519 sealing

/** The agent's sealing key: X25519 private key and its raw public key (published in the retained state). */
export interface SealingKey {
  readonly privateKey: KeyObject;
  readonly publicRaw: Buffer;
}

function sealingKeyFrom(privateKey: KeyObject): SealingKey {
  if (privateKey.asymmetricKeyType !== "x25519" || privateKey.type !== "private") throw new TypeError("expected an X25519 private key");
  return { privateKey, publicRaw: rawPublicKey(privateKey) };
}

export function generateSealingKey(): SealingKey {
  return sealingKeyFrom(generateKeyPairSync("x25519").privateKey);
}

/** From 32 raw private bytes, a PKCS#8 PEM string, or a KeyObject. */
export function loadSealingKey(key: Uint8Array | string | KeyObject): SealingKey {
  if (typeof key === "string") return sealingKeyFrom(createPrivateKey(key));
  if (key instanceof Uint8Array) {
    return sealingKeyFrom(createPrivateKey({ key: Buffer.concat([X25519_PKCS8, raw32(key, "X25519 private key")]), format: "der", type: "pkcs8" }));
  }
  return sealingKeyFrom(key);
}

function x25519Public(raw: Uint8Array): KeyObject {
  return okpPublic("X25519", raw32(raw, "X25519 public key"));
}

function sealKey(shared: Buffer, epk: Uint8Array, recipient: Uint8Array, panelId: string): Buffer {
  const salt = Buffer.concat([epk, recipient]);
  const info = Buffer.from(SEAL_INFO_PREFIX + panelId, "utf8");
  return Buffer.from(hkdfSync("sha256", shared, salt, info, 32));
}

/**
 * Test and vector generation only: fixed randomness for ephemeral keys and nonces. Production
 * callers never pass it (the default draws from the system CSPRNG).
 */
export interface DeterministicRandom {
  /** Returns `size` bytes; called once for the ephemeral private key (32) then the nonce (12) of each seal. */
  unsafeRandom: (size: number) => Buffer;
}

/**
 * Seals `plaintext` to the agent's X25519 public key: ephemeral X25519 key pair, ECDH,
 * HKDF-SHA256(salt = epk || agent public key, info = "panel-agent/seal/v1" + panelId) -> 32 bytes,
 * AES-256-GCM with a random 12-byte nonce and AAD = the command id.
 */
export function seal(plaintext: Uint8Array, recipientPublic: Uint8Array, panelId: string, aad: string, testing?: DeterministicRandom): Sealed {
  const recipient = raw32(recipientPublic, "agent public key");
  const eph = testing
    ? loadSealingKey(testing.unsafeRandom(32))
    : sealingKeyFrom(generateKeyPairSync("x25519").privateKey);
  const nonce = testing ? testing.unsafeRandom(12) : randomBytes(12);
  const shared = diffieHellman({ privateKey: eph.privateKey, publicKey: x25519Public(recipient) });
  const key = sealKey(shared, eph.publicRaw, recipient, panelId);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { epk: eph.publicRaw, n: nonce, ct };
}

/** Opens a sealed field with the agent's key. Never throws: null when it cannot be opened. */
export function unseal(sealed: Sealed, agent: SealingKey, panelId: string, aad: string): Buffer | null {
  try {
    if (sealed.ct.length < 16) return null;
    const shared = diffieHellman({ privateKey: agent.privateKey, publicKey: x25519Public(sealed.epk) });
    const key = sealKey(shared, sealed.epk, agent.publicRaw, panelId);
    const ct = Buffer.from(sealed.ct.buffer, sealed.ct.byteOffset, sealed.ct.byteLength);
    const decipher = createDecipheriv("aes-256-gcm", key, sealed.n, { authTagLength: 16 });
    decipher.setAAD(Buffer.from(aad, "utf8"));
    decipher.setAuthTag(ct.subarray(ct.length - 16));
    return Buffer.concat([decipher.update(ct.subarray(0, ct.length - 16)), decipher.final()]);
  } catch {
    return null;
  }
}
