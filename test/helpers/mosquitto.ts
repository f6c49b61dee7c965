import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const MOSQUITTO_BIN = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"].find((p) => existsSync(p));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Whether something accepts a TCP connection on the loopback port. */
export function acceptsConnection(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, "127.0.0.1");
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

async function waitForPort(port: number, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await acceptsConnection(port)) return;
    if (Date.now() > until) throw new Error(`mosquitto did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface MosquittoOptions {
  /** Extra lines for mosquitto.conf (listener, TLS, ACL...). */
  extra?: string[];
  /** Keep the broker's queue on disk across restarts (persistence true, autosave on changes). */
  persistence?: boolean;
  maxQueuedMessages?: number;
  /** Replace the default plain listener (for TLS tests). */
  listenerLines?: (port: number) => string[];
}

/**
 * A real mosquitto on a free loopback port, with Nagle off (`set_tcp_nodelay true`), for
 * integration tests. `restart()` stops and starts it on the same port and persistence file.
 */
export class Mosquitto {
  readonly dir: string;
  port = 0;
  #proc: ChildProcess | undefined;
  readonly #options: MosquittoOptions;

  constructor(options: MosquittoOptions = {}) {
    if (!MOSQUITTO_BIN) throw new Error("mosquitto is not installed (apt-get install mosquitto); .ci/run installs it");
    this.dir = mkdtempSync(join(tmpdir(), "mosq-"));
    this.#options = options;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    if (this.port === 0) this.port = await freePort();
    const o = this.#options;
    const lines = [
      ...(o.listenerLines ? o.listenerLines(this.port) : [`listener ${this.port} 127.0.0.1`, "allow_anonymous true"]),
      "set_tcp_nodelay true",
      // Run as root (CI), mosquitto would drop to user "mosquitto", which cannot read 0700 temp dirs.
      ...(process.getuid?.() === 0 ? ["user root"] : []),
      `max_queued_messages ${o.maxQueuedMessages ?? 1000}`,
      "persistent_client_expiration 1h",
      ...(o.persistence ? ["persistence true", `persistence_location ${this.dir}/`, "autosave_on_changes true", "autosave_interval 1"] : ["persistence false"]),
      "log_type error",
      "log_dest stderr",
      ...(o.extra ?? []),
    ];
    writeFileSync(join(this.dir, "mosquitto.conf"), lines.join("\n") + "\n");
    this.#proc = spawn(MOSQUITTO_BIN!, ["-c", join(this.dir, "mosquitto.conf")], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    this.#proc.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<never>((_, reject) => this.#proc!.once("exit", (code) => reject(new Error(`mosquitto exited (${code}): ${stderr}`))));
    await Promise.race([waitForPort(this.port), exited]);
    return this;
  }

  async stop(): Promise<void> {
    const p = this.#proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once("exit", () => resolve());
      p.kill("SIGTERM");
    });
    this.#proc = undefined;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
