/** The wire contract between panel-agent and cloud services. See protocol/README.md. */
export * from "./schema.js";
export * from "./codec.js";
export * from "./crypto.js";
export * from "./envelope.js";
export * from "./topics.js";
export * from "./signed.js";
export * from "./digest.js";
