/** Floors and statistics the bench modules share. */
import Database from "better-sqlite3";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createConnection } from "node:net";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}
export const sortNum = (a: readonly number[]) => [...a].sort((x, y) => x - y);
export const round = (n: number) => Math.round(n * 10) / 10;
export const median = (xs: readonly number[]) => percentile(sortNum(xs), 50);

/** A bare WAL synchronous=FULL commit of one small row: `sample()` is one commit in µs. */
export function bareCommits(dir: string): { sample: () => number; close: () => void } {
  const db = new Database(join(dir, "floor.db"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
  const insert = db.prepare("INSERT INTO t (v) VALUES (?)");
  const commit = db.transaction((v: string) => insert.run(v));
  let i = 0;
  return {
    sample: () => {
      const t0 = performance.now();
      commit(`row ${i++} ${"x".repeat(40)}`);
      return (performance.now() - t0) * 1000;
    },
    close: () => db.close(),
  };
}

const ECHO_SERVER = `
const net = require("node:net");
const server = net.createServer((s) => s.on("data", (d) => s.write(d)));
server.listen(process.argv[1], () => process.stdout.write("listening\\n"));
`;

/**
 * A bare newline ping-pong over a Unix domain socket to another process that echoes what it
 * reads: the floor under a keypad line's round trip. `sample()` is one round trip in µs.
 */
export async function unixSocketPingPong(path: string): Promise<{ sample: () => Promise<number>; close: () => void }> {
  const child = spawn(process.execPath, ["-e", ECHO_SERVER, path], { stdio: ["ignore", "pipe", "inherit"] });
  await once(child.stdout!, "data");
  const socket = createConnection(path);
  await once(socket, "connect");
  let waiter: (() => void) | undefined;
  let buffer = "";
  socket.setEncoding("utf8");
  socket.on("data", (d: string) => {
    buffer += d;
    if (buffer.endsWith("\n")) {
      buffer = "";
      waiter?.();
    }
  });
  const line = `${JSON.stringify({ t: "entry", action: "auto", code: "12345678" })}\n`;
  return {
    sample: async () => {
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        waiter = resolve;
        socket.write(line);
      });
      return (performance.now() - t0) * 1000;
    },
    close: () => {
      socket.destroy();
      child.kill();
    },
  };
}
