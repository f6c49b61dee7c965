import { lstatSync } from "node:fs";
import { chmod, lstat, unlink } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import type { KeypadBackend } from "./backend.js";
import { KeypadConnection, silentLogger, type ConnectionSettings, type KeypadLogger } from "./connection.js";
import { MAX_LINE_BYTES } from "./protocol.js";

export type { KeypadLogger } from "./connection.js";

export interface KeypadServerOptions {
  /** Path of the Unix domain socket. */
  path: string;
  backend: KeypadBackend;
  /** Epoch ms; injected for tests. Default Date.now. */
  now?: () => number;
  /** pino-compatible; default silent. Never receives a credential. */
  logger?: KeypadLogger;
  /** The panel's code length: entries submit themselves when reached. Default null (`#` only, up to 8 digits). */
  codeLength?: number | null;
  /** Default 30 s. */
  entryTimeoutMs?: number;
  /** Default 120 s. */
  menuTimeoutMs?: number;
  /** Default 4096 bytes. */
  maxLineBytes?: number;
  /** Messages a connection may have waiting (default 64); more are refused with `busy`. */
  maxQueue?: number;
  /** Default 10 s; a backend call that takes longer shows "Service unavailable". */
  backendTimeoutMs?: number;
  /** Connections beyond this are closed at once (default 64). */
  maxConnections?: number;
  /** Socket file mode (default 0o660). */
  mode?: number;
}

/**
 * The keypad socket: a thin shell around the pure session machine (session.ts). The constructor
 * only wires; `start()` binds the Unix socket (replacing a stale socket file, mode 0660) and
 * `stop()` closes every connection and removes the file. One session per connection.
 */
export class KeypadServer {
  readonly path: string;
  readonly #settings: ConnectionSettings;
  readonly #mode: number;
  readonly #maxConnections: number;
  readonly #connections = new Set<KeypadConnection>();
  #server: Server | null = null;
  #inode: number | null = null;
  #nextId = 1;

  constructor(options: KeypadServerOptions) {
    this.path = options.path;
    this.#mode = options.mode ?? 0o660;
    this.#maxConnections = options.maxConnections ?? 64;
    this.#settings = {
      backend: options.backend,
      now: options.now ?? Date.now,
      logger: options.logger ?? silentLogger,
      codeLength: options.codeLength ?? null,
      entryTimeoutMs: options.entryTimeoutMs ?? 30_000,
      menuTimeoutMs: options.menuTimeoutMs ?? 120_000,
      maxLineBytes: options.maxLineBytes ?? MAX_LINE_BYTES,
      maxQueue: options.maxQueue ?? 64,
      backendTimeoutMs: options.backendTimeoutMs ?? 10_000,
    };
  }

  get connections(): number {
    return this.#connections.size;
  }

  async start(): Promise<void> {
    if (this.#server) throw new Error("keypad server already started");
    await removeStaleSocket(this.path);
    const server = createServer((socket) => this.#accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.once("listening", () => {
        server.off("error", reject);
        resolve();
      });
      // The bind happens synchronously inside listen(): mask "other" for that instant so nobody
      // outside the group can connect before the chmod below.
      withUmask(() => server.listen(this.path));
    });
    await chmod(this.path, this.#mode);
    this.#inode = (await lstat(this.path)).ino;
    server.on("error", (err) => this.#settings.logger.error({ err: err.name }, "keypad socket error"));
    this.#server = server;
    this.#settings.logger.info({ path: this.path }, "keypad socket listening");
  }

  /** Why keypads cannot reach the agent, or undefined: the server listens on its own socket file at `path`. */
  healthProblem(): string | undefined {
    if (!this.#server?.listening) return "keypad socket not listening";
    try {
      const st = lstatSync(this.path);
      if (!st.isSocket() || st.ino !== this.#inode) return `keypad socket ${this.path} was replaced`;
    } catch {
      return `keypad socket ${this.path} is gone`;
    }
    return undefined;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = null;
    for (const c of this.#connections) c.close();
    this.#connections.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // Node may already have removed it; remove only our own socket file, never a successor's.
    try {
      const st = await lstat(this.path);
      if (st.isSocket() && st.ino === this.#inode) await unlink(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    this.#settings.logger.info({ path: this.path }, "keypad socket closed");
  }

  #accept(socket: Socket): void {
    if (this.#connections.size >= this.#maxConnections) {
      this.#settings.logger.warn({ max: this.#maxConnections }, "keypad connection refused: too many");
      socket.destroy();
      return;
    }
    const connection = new KeypadConnection(socket, this.#settings, this.#nextId++);
    this.#connections.add(connection);
    socket.on("close", () => this.#connections.delete(connection));
  }
}

function withUmask(fn: () => void): void {
  let previous: number | null = null;
  try {
    previous = process.umask(0o077);
    process.umask(previous | 0o007);
  } catch {
    previous = null; // worker threads cannot change the umask; the chmod still follows
  }
  try {
    fn();
  } finally {
    if (previous !== null) process.umask(previous);
  }
}

/**
 * A socket file left by a crashed run is removed; a live one (something answers) or a file that
 * is not a socket is an error: never delete what is not ours.
 */
async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if (!st.isSocket()) throw new Error(`keypad socket path exists and is not a socket: ${path}`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path);
    const done = (value: boolean) => {
      probe.destroy();
      resolve(value);
    };
    probe.once("connect", () => done(true));
    probe.once("error", () => done(false));
    probe.setTimeout(1_000, () => done(false));
  });
  if (live) throw Object.assign(new Error(`another keypad server is listening on ${path}`), { code: "EADDRINUSE" });
  await unlink(path);
}
