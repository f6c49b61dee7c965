import { createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateSealingKey, generateSigningKey, loadVerifyKey, rawPublicKey, seal, unseal } from "../../../protocol/index.js";

/** The raw public key as the SPKI DER encoding holds it (its last 32 bytes), the reference. */
function derRaw(key: KeyObject): Buffer {
  const der = (key.type === "private" ? createPublicKey(key) : key).export({ format: "der", type: "spki" });
  return der.subarray(der.length - 32);
}

describe("raw OKP keys (JWK import and export, not DER)", () => {
  it("gives the raw public key the DER encoding holds, for Ed25519 and X25519, public and private KeyObjects", () => {
    for (let i = 0; i < 20; i++) {
      for (const type of ["ed25519", "x25519"] as const) {
        const { publicKey, privateKey } = generateKeyPairSync(type as "ed25519");
        expect(rawPublicKey(publicKey)).toEqual(derRaw(publicKey));
        expect(rawPublicKey(privateKey)).toEqual(derRaw(privateKey));
      }
    }
  });

  it("imports a raw Ed25519 public key as the same key the SPKI DER import makes", () => {
    const k = generateSigningKey();
    const spki = createPublicKey({ key: Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), k.publicRaw]), format: "der", type: "spki" });
    expect(loadVerifyKey(k.publicRaw).equals(spki)).toBe(true);
    expect(() => loadVerifyKey(k.publicRaw.subarray(0, 31))).toThrow(/32 raw bytes/);
  });

  it("seals and unseals with keys made through JWK, and the shared secret is the DER-imported key's", () => {
    const agent = generateSealingKey();
    const sealed = seal(Buffer.from("2580"), agent.publicRaw, "panel-1", "cmd-1");
    expect(unseal(sealed, agent, "panel-1", "cmd-1")?.toString()).toBe("2580");
    expect(unseal(sealed, agent, "panel-1", "cmd-2")).toBeNull();
    const epk = createPublicKey({ key: Buffer.concat([Buffer.from("302a300506032b656e032100", "hex"), Buffer.from(sealed.epk)]), format: "der", type: "spki" });
    const viaJwk = createPublicKey({ key: { kty: "OKP", crv: "X25519", x: Buffer.from(sealed.epk).toString("base64url") }, format: "jwk" });
    expect(diffieHellman({ privateKey: agent.privateKey, publicKey: viaJwk })).toEqual(diffieHellman({ privateKey: agent.privateKey, publicKey: epk }));
  });
});
