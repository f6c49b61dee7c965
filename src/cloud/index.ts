/** The cloud side of the wire protocol: a client library for services and the panelctl CLI. */
export * from "./client.js";
export * from "./seq-store.js";
export * from "./codes.js";
export * from "./failures.js";
export * from "./authenticity.js";
export * from "./identity-gate.js";
export { FAILOVER_URL_PATTERN } from "../broker-servers.js";
