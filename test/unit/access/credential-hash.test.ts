import { createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createCredentialHasher } from "../../../src/access/index.js";
import { Secret } from "../../../src/domain/index.js";
import { TEST_KEY, testHash } from "../../helpers/hash.js";

const reference = (key: Buffer, text: string) => createHmac("sha256", key).update(text).digest("base64url");

describe("credential hasher", () => {
  it("equals base64url HMAC-SHA256 for PINs, tags and any text, short or long", () => {
    const hasher = createCredentialHasher(TEST_KEY);
    fc.assert(
      fc.property(fc.oneof(fc.stringMatching(/^[0-9]{4,8}$/), fc.string({ unit: "binary", maxLength: 120 }), fc.string({ minLength: 80, maxLength: 400 })), (text) => {
        expect(hasher(text)).toBe(reference(TEST_KEY, text));
        expect(hasher(new Secret(text))).toBe(reference(TEST_KEY, text));
      }),
      { numRuns: 300 },
    );
  });

  it("matches the fixed-key test hasher the domain tests use", () => {
    expect(createCredentialHasher(TEST_KEY)(new Secret("123456"))).toBe(testHash(new Secret("123456")));
  });

  it("handles keys of any length, including keys longer than the SHA-256 block", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 150 }), fc.stringMatching(/^[0-9]{4,6}$/), (bytes, code) => {
        const key = Buffer.from(bytes);
        expect(createCredentialHasher(key)(code)).toBe(reference(key, code));
      }),
      { numRuns: 200 },
    );
  });

  it("gives the same digest again after hashing other credentials (the buffer is wiped, not left dirty)", () => {
    const hasher = createCredentialHasher(TEST_KEY);
    const first = hasher("12");
    hasher("9999999999");
    expect(hasher("12")).toBe(first);
  });

  it("refuses an empty key", () => {
    expect(() => createCredentialHasher(Buffer.alloc(0))).toThrow(RangeError);
  });
});
