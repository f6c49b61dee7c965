import { execFile, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./mosquitto.js";

const run = promisify(execFile);

/** Debian's PostgreSQL 15 server binaries (`apt-get install postgresql`; .ci/run installs it); PG_BIN overrides. */
export const PG_BIN = process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin";
export const POSTGRES_INSTALLED = existsSync(join(PG_BIN, "initdb")) && existsSync(join(PG_BIN, "pg_ctl"));

/** PostgreSQL refuses to run as root: as root, every server command runs as the `postgres` OS user. */
function asServerUser(bin: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", join(PG_BIN, bin), ...args]] : [join(PG_BIN, bin), args];
}

function serverUserIds(): { uid: number; gid: number } {
  const uid = Number(spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).stdout.trim());
  const gid = Number(spawnSync("id", ["-g", "postgres"], { encoding: "utf8" }).stdout.trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error("no postgres OS user (apt-get install postgresql)");
  return { uid, gid };
}

/**
 * A real PostgreSQL 15 server for one test file: `initdb` in a temporary directory, `pg_ctl start`
 * on a free loopback port (unix socket inside the directory, `fsync=on`), trust authentication
 * for the `postgres` role. `stop()` stops it and removes the directory.
 */
export class PostgresServer {
  readonly dir: string;
  readonly port: number;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
  }

  get dataDir(): string {
    return join(this.dir, "data");
  }

  /** A connection string for the `postgres` database, as `pg` and DATABASE_URL take it. */
  get url(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/postgres`;
  }

  static async start(): Promise<PostgresServer> {
    if (!POSTGRES_INSTALLED) throw new Error(`PostgreSQL 15 is not installed under ${PG_BIN} (apt-get install postgresql)`);
    const dir = mkdtempSync(join(tmpdir(), "fleet-pg-"));
    if (process.getuid?.() === 0) {
      const { uid, gid } = serverUserIds();
      chownSync(dir, uid, gid);
    }
    const port = await freePort();
    const server = new PostgresServer(dir, port);
    try {
      await run(...asServerUser("initdb", ["-D", server.dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-instructions"]));
      const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=50`;
      await run(...asServerUser("pg_ctl", ["start", "-D", server.dataDir, "-w", "-t", "30", "-l", join(dir, "server.log"), "-o", options]));
    } catch (err) {
      const log = existsSync(join(dir, "server.log")) ? readFileSync(join(dir, "server.log"), "utf8") : "";
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${log}`);
    }
    return server;
  }

  /** `pg_dump` of the whole database as plain SQL text. */
  async dump(): Promise<string> {
    const [cmd, args] = asServerUser("pg_dump", ["-h", this.dir, "-p", String(this.port), "-U", "postgres", "postgres"]);
    const { stdout } = await run(cmd, args, { maxBuffer: 256 * 1024 * 1024 });
    return stdout;
  }

  async stop(): Promise<void> {
    try {
      await run(...asServerUser("pg_ctl", ["stop", "-D", this.dataDir, "-m", "fast", "-w", "-t", "30"]));
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
