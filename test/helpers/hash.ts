import { createHmac } from "node:crypto";
import { Secret, type CredentialHasher } from "../../src/domain/index.js";

/** A fixed test key; the real key lives in the state directory. */
export const TEST_KEY = Buffer.alloc(32, 7);

export const testHash: CredentialHasher = (credential) =>
  createHmac("sha256", TEST_KEY).update(credential instanceof Secret ? credential.reveal() : credential).digest("base64url");
