/** Floors and statistics the bench modules share. */
import Database from "better-sqlite3";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { decodeCbor, encodeCommand, generateSealingKey, generateSigningKey, loadVerifyKey, signBytes, unseal, verifyBytes, type Sealed, type WireCommandInput } from "../../protocol/index.js";
import { Secret } from "../../src/domain/index.js";

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
  await once(child.stdout, "data");
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

/**
 * The cryptography a command's round trip cannot do without, each on the project's own code path
 * (protocol/crypto.ts), in µs per call:
 *   sign()    one Ed25519 signature of the body of a single set_label command envelope, as the cloud
 *             client sends one (encodeCommand's bytes: the same key type and body size);
 *   verify()  one Ed25519 verification of that signature with a prebuilt public KeyObject (the
 *             agent's TrustedKeys holds them so);
 *   unseal()  one open of a set_code's sealed code: X25519 + HKDF-SHA256 + AES-256-GCM (unseal).
 * `bodyBytes` is the signed body's size, for the record.
 */
export function cryptoFloors(): { sign: () => number; verify: () => number; unseal: () => number; bodyBytes: number } {
  const signingKey = generateSigningKey();
  const sealing = generateSealingKey();
  const keys = { signingKey, agentPublicKey: sealing.publicRaw };
  const actor = { kind: "cloud", id: "cloud-client" } as const;
  const envelope = (command: WireCommandInput) => {
    const decoded = decodeCbor(encodeCommand("bench", { seq: 1001, expiresAt: Date.now() + 300_000, command }, keys));
    if (!decoded.ok) throw new Error("bench envelope did not decode");
    return decoded.value as { body: Uint8Array; sig: Uint8Array };
  };
  const label = envelope({ id: randomUUID(), actor, kind: "set_label", slot: 2, label: "L123" });
  const setCode = envelope({ id: randomUUID(), actor, kind: "set_code", slot: 2, code: new Secret("2580") });
  const codeCmd = (decodeCbor(setCode.body) as { ok: true; value: { cmd: { id: string; sealed: Sealed } } }).value.cmd;
  const publicKey = loadVerifyKey(signingKey.publicRaw);
  if (!verifyBytes(label.body, label.sig, publicKey)) throw new Error("bench signature did not verify");
  if (unseal(codeCmd.sealed, sealing, "bench", codeCmd.id) === null) throw new Error("bench sealed code did not open");
  const timed = (fn: () => unknown) => () => {
    const t0 = performance.now();
    fn();
    return (performance.now() - t0) * 1000;
  };
  return {
    sign: timed(() => signBytes(label.body, signingKey)),
    verify: timed(() => verifyBytes(label.body, label.sig, publicKey)),
    unseal: timed(() => unseal(codeCmd.sealed, sealing, "bench", codeCmd.id)),
    bodyBytes: label.body.length,
  };
}

/**
 * Bytes a process has caused to be written to storage so far (/proc/<pid>/io `write_bytes`: counted
 * per page as the page cache is dirtied, so an fsync'd 100-byte append costs a 4 KiB page; the
 * ext4 journal's own writes, made by a kernel thread, are not in it). `field` says which counter was
 * read: `wchar` (bytes handed to write(2), pipes and logs included) only where write_bytes stays 0.
 */
export function diskWrites(pid: number): { bytes: () => number; field: "write_bytes" | "wchar" } {
  const read = () => Object.fromEntries(readFileSync(`/proc/${pid}/io`, "utf8").trim().split("\n").map((l) => [l.split(":")[0]!, Number(l.split(":")[1])])) as Record<string, number>;
  const field = (read().write_bytes ?? 0) > 0 ? "write_bytes" : "wchar";
  return { bytes: () => read()[field] ?? 0, field };
}
