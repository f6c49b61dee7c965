import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { KeypadServer, type KeypadServerOptions } from "../../src/keypad/server.js";
import { MemoryKeypadBackend } from "./keypad-backend.js";

export const REPO = resolve(import.meta.dirname, "../..");
/** The project's tsx (what `npx tsx` resolves to, without npx's start-up cost). */
export const TSX = join(REPO, "node_modules", ".bin", "tsx");
export const EMULATOR = join(REPO, "emulator", "main.ts");

export interface KeypadFixture {
  dir: string;
  path: string;
  backend: MemoryKeypadBackend;
  server: KeypadServer;
  stop(): Promise<void>;
}

/** A keypad socket in a fresh temp dir, backed by the in-memory test backend. */
export async function startKeypadFixture(options: Partial<KeypadServerOptions> = {}): Promise<KeypadFixture> {
  const dir = await mkdtemp(join(tmpdir(), "keypad-emu-"));
  const path = join(dir, "keypad.sock");
  const backend = new MemoryKeypadBackend();
  const server = new KeypadServer({ path, backend, ...options });
  await server.start();
  return {
    dir,
    path,
    backend,
    server,
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
