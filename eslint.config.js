// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const ioModules = ["mqtt", "aedes", "better-sqlite3", "node:fs", "fs", "node:fs/promises", "fs/promises", "node:net", "net", "pino", "node-cron", "node:child_process", "child_process"];

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", ".data/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
  {
    // The pure layers: rules are functions of (state, command, time); no IO may creep in.
    files: ["src/domain/**/*.ts", "src/access/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { paths: ioModules.map((name) => ({ name, message: "src/domain and src/access are pure: do IO in a shell (store, sync, keypad)." })) }],
      "no-restricted-globals": ["error", { name: "Date", message: "Pure layers take time as an argument." }],
    },
  },
);
