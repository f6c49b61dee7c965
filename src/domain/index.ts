export * from "./errors.js";
export * from "./panel-types.js";
export * from "./model.js";
export * from "./secret.js";
export * from "./commands.js";
export * from "./table.js";
export * from "./apply.js";
export * from "./paging.js";
