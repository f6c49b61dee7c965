import { inspect } from "node:util";

const REDACTED = "[redacted]";

/**
 * A credential in plaintext (PIN digits or a proximity tag id). It exists only between unsealing
 * and hashing; every way of printing it (String, JSON, util.inspect, pino) shows "[redacted]".
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The plaintext, for hashing and format checks only. Never log the result. */
  reveal(): string {
    return this.#value;
  }

  get length(): number {
    return this.#value.length;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}

/** Turns a credential into the digest the table and index are keyed by (HMAC-SHA256 with the device key). */
export type CredentialHasher = (credential: Secret | string) => string;
