import { createHmac, hash } from "node:crypto";
import { Secret, type CredentialHasher } from "../domain/secret.js";

/** SHA-256 block size in bytes: the HMAC key pads are this long. */
const BLOCK = 64;
/** Longest credential (in UTF-8 bytes) hashed through the preallocated buffer; longer ones take createHmac. */
const FAST_CAPACITY = 256;

/**
 * The one credential hasher of the agent: base64url(HMAC-SHA256(key, UTF-8 credential)), exactly
 * what `createHmac("sha256", key).update(credential).digest("base64url")` gives.
 *
 * Why not createHmac per call: creating the Hmac object (and its native context) costs about as
 * much as the hashing itself. Measured on this board class (Node 20, 6-digit PIN):
 *   createHmac(key)/(KeyObject) per call ........................ ~2.0-2.9 µs
 *   RFC 2104 by hand with crypto.hash() returning a Buffer ....... ~3.0 µs (Buffer output is slow)
 *   RFC 2104 by hand with crypto.hash() returning binary text .... ~0.9 µs  <- this one
 * HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)). The pads are computed once; the credential is
 * written after the inner pad in a preallocated buffer, hashed, and wiped at once, so the plaintext
 * does not linger in memory. Not re-entrant across threads, which JS is not.
 */
export function createCredentialHasher(key: Buffer): CredentialHasher {
  if (key.length === 0) throw new RangeError("credential hasher: empty device key");
  // RFC 2104: a key longer than the block is hashed first.
  const k = key.length > BLOCK ? Buffer.from(hash("sha256", key, "hex"), "hex") : key;
  const inner = Buffer.alloc(BLOCK + FAST_CAPACITY);
  const outer = Buffer.alloc(BLOCK + 32);
  for (let i = 0; i < BLOCK; i++) {
    const b = i < k.length ? k[i]! : 0;
    inner[i] = b ^ 0x36;
    outer[i] = b ^ 0x5c;
  }
  // One view per message length, made once: subarray() per call would allocate.
  const views: Buffer[] = [];
  for (let n = 0; n <= FAST_CAPACITY; n++) views.push(inner.subarray(0, BLOCK + n));
  const slowKey = Buffer.from(key);

  return (credential: Secret | string): string => {
    const text = credential instanceof Secret ? credential.reveal() : credential;
    // A UTF-8 character takes at most 3 bytes per UTF-16 unit, so this bound guarantees no truncation.
    if (text.length * 3 > FAST_CAPACITY) return createHmac("sha256", slowKey).update(text).digest("base64url");
    const n = inner.write(text, BLOCK, "utf8");
    const innerDigest = hash("sha256", views[n]!, "binary"); // "binary" = latin1: one char per byte
    inner.fill(0, BLOCK, BLOCK + n);
    outer.write(innerDigest, BLOCK, "latin1");
    return hash("sha256", outer, "base64url");
  };
}
