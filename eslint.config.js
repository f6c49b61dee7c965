// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const ioModules = ["mqtt", "aedes", "better-sqlite3", "node:fs", "fs", "node:fs/promises", "fs/promises", "node:net", "net", "pino", "node-cron", "node:child_process", "child_process"];

/**
 * The boundaries the README draws, enforced (test/unit/lint-boundaries.test.ts shows each one
 * refusing a forbidden import). Paths are matched on the import specifier as written.
 */
const boundary = (regex, message) => ({ regex, message, caseSensitive: true });

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", ".data/**", "coverage/**"] },
  js.configs.recommended,
  // With type information: no floating promises, no unsafe any, exhaustive switches.
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/switch-exhaustiveness-check": ["error", { considerDefaultExhaustiveForUnions: true }],
      // Off: an async function that does not await is used on purpose where a promise-returning
      // interface is implemented by synchronous code (a throw must reach the caller as a rejection).
      "@typescript-eslint/require-await": "off",
    },
  },
  {
    // Tests read JSON.parse results and vitest's asymmetric matchers (expect.any, ...), which are
    // `any` by design; the source stays strict.
    files: ["test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-return": "off",
    },
  },
  {
    files: ["**/*.mjs", "**/*.js"],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: { process: "readonly", console: "readonly" } },
  },
  {
    // The pure layers: rules are functions of (state, command, time); no IO and no shell may creep in.
    files: ["src/domain/**/*.ts", "src/access/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        paths: ioModules.map((name) => ({ name, message: "src/domain and src/access are pure: do IO in a shell (store, sync, keypad)." })),
        patterns: [
          boundary("^(\\.\\./)+(store|sync|keypad|cloud|fleet|bin|cli|console)(/|$)", "src/domain and src/access are pure: they import no shell (store, sync, keypad) and no cloud side."),
          boundary("^(\\.\\./)+(core|agent|housekeeping|open-panel|unit-of-work|config|log|mqtt-log|systemd)\\.js$", "src/domain and src/access are pure: the agent's shells call them, never the other way round."),
        ],
      }],
      "no-restricted-globals": ["error", { name: "Date", message: "Pure layers take time as an argument." }],
    },
  },
  {
    // The wire contract stands alone: a cloud team reads protocol/ without the agent. Only the
    // domain's vocabulary (commands, roles, error codes) comes in, through its index on purpose.
    files: ["protocol/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [boundary("^(\\.\\./)+src/(?!domain/index\\.js$)", "protocol/ imports nothing from src/ but the domain's vocabulary (src/domain/index.js).")],
      }],
    },
  },
  {
    // The keypad emulator speaks the keypad line protocol only: it is a separate program.
    files: ["emulator/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [boundary("^(\\.\\./)+src(/|$)", "emulator/ imports nothing from src/: it talks to the agent over the keypad socket.")] }],
    },
  },
  {
    // The cloud side (client library, panelctl, panel-fleet) talks to panels over the protocol only.
    files: ["src/cloud/**/*.ts", "src/fleet/**/*.ts", "src/cli/**/*.ts", "src/bin/panelctl.ts", "src/bin/panel-fleet.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [boundary("^(\\.\\./)+(store|access|sync|keypad)/", "The cloud side imports nothing from the agent's store, access, sync or keypad: it reaches panels through protocol/ only.")],
      }],
    },
  },
);
