import { spawn } from "node:child_process";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { KeypadBackend } from "../../src/keypad/backend.js";
import { KeypadServer, type KeypadLogger, type KeypadServerOptions } from "../../src/keypad/server.js";
import { MemoryKeypadBackend } from "../helpers/keypad-backend.js";
import { KeypadTestClient, lastDisplay, type Message } from "../helpers/keypad-client.js";

const CODES = ["1234", "2222", "4444", "9999", "5678", "3030", "5555", "04A1B2C3"];

let dir: string;
let path: string;
let server: KeypadServer | null;
let backend: MemoryKeypadBackend;
let clients: KeypadTestClient[];
let logs: { level: string; obj: object; msg?: string }[];

const logger: KeypadLogger = {
  debug: (obj, msg) => logs.push({ level: "debug", obj, msg }),
  info: (obj, msg) => logs.push({ level: "info", obj, msg }),
  warn: (obj, msg) => logs.push({ level: "warn", obj, msg }),
  error: (obj, msg) => logs.push({ level: "error", obj, msg }),
};

async function startServer(options: Partial<KeypadServerOptions> = {}): Promise<KeypadServer> {
  server = new KeypadServer({ path, backend, logger, ...options });
  await server.start();
  return server;
}

async function connect(keypad = "kp1", partitions = [1]): Promise<KeypadTestClient> {
  const c = await KeypadTestClient.connect(path);
  clients.push(c);
  await c.hello(keypad, partitions);
  return c;
}

const display = (line1: string, line2: string): Message => ({ t: "display", line1, line2 });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "keypad-sock-"));
  path = join(dir, "keypad.sock");
  backend = new MemoryKeypadBackend();
  clients = [];
  logs = [];
  server = null;
});

afterEach(async () => {
  for (const c of clients) c.close();
  try {
    await server?.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // No code may reach a log line (paths aside, which hold random temp names).
  const logged = JSON.stringify(logs.map((l) => ({ ...l, obj: { ...l.obj, path: undefined } })));
  for (const code of CODES) expect(logged).not.toContain(code);
});

describe("keypad socket", () => {
  it("creates the socket with mode 0660 and removes it on stop", async () => {
    await startServer();
    const st = await stat(path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o660);
    await server!.stop();
    server = null;
    await expect(stat(path)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("registers a keypad and shows its partitions", async () => {
    await startServer();
    backend.arm.set(2, "armed_away");
    const c = await KeypadTestClient.connect(path);
    clients.push(c);
    expect(await c.hello("kp1", [2, 1])).toEqual([
      { t: "ready", keypad: "kp1", partitions: [1, 2] },
      display("P1 Disarmed  P2 Armed away", "Enter code"),
    ]);
  });

  it("turns key presses into display updates and backend calls", async () => {
    await startServer();
    const c = await connect();
    expect(await c.keys("1234#")).toEqual([
      display("P1 Disarmed", "Code: *"),
      display("P1 Disarmed", "Code: **"),
      display("P1 Disarmed", "Code: ***"),
      display("P1 Disarmed", "Code: ****"),
      display("P1 Armed away", "Access granted — Master"),
    ]);
    expect(lastDisplay(await c.keys("4444#"))).toEqual(display("P1 Disarmed", "Access granted — User 4"));
    expect(backend.calls.map((x) => [x.method, x.action, x.ok])).toEqual([
      ["access", "arm_away", true],
      ["access", "disarm", true],
    ]);
  });

  it("answers every denial the same way and shows a lockout", async () => {
    await startServer();
    const c = await connect();
    c.send({ t: "key", k: "stay" });
    expect(lastDisplay(await c.keys("2222#"))).toEqual(display("P1 Armed stay", "Access granted — Supervisor"));
    expect(lastDisplay(await c.keys("5678#"))).toEqual(display("P1 Armed stay", "Access denied"));
    expect(lastDisplay(await c.keys("3030#"))?.line2).toBe("Access denied");
    expect(lastDisplay(await c.keys("5555#"))?.line2).toBe("Keypad locked 90 s");
    expect(lastDisplay(await c.keys("1"))?.line2).toMatch(/^Keypad locked \d+ s$/);
  });

  it("shows a duress code as an ordinary disarm", async () => {
    await startServer();
    backend.arm.set(1, "armed_away");
    const c = await connect();
    c.send({ t: "entry", action: "auto", code: "9999" });
    expect(lastDisplay(await c.sync())).toEqual(display("P1 Disarmed", "Access granted — User 9"));
    expect(backend.duressEvents).toEqual([9]);
  });

  it("accepts whole entries, tags, door locks and partition switches", async () => {
    await startServer({ codeLength: 4 });
    const c = await connect("kp2", [1, 2]);
    c.send({ t: "partition", partition: 1 });
    c.send({ t: "entry", action: "arm_stay", code: "4444" });
    expect(lastDisplay(await c.sync())).toEqual(display("P1 Armed stay", "Access granted — User 4"));
    c.send({ t: "tag", tag: "04A1B2C3" });
    expect(lastDisplay(await c.sync())).toEqual(display("P1 Disarmed", "Access granted — User 4"));
    c.send({ t: "door", door: "front" });
    expect(lastDisplay(await c.sync())?.line2).toBe("Open front: enter code");
    expect(lastDisplay(await c.keys("4444#"))?.line2).toBe("Access granted — User 4");
    c.send({ t: "tag", tag: "04A1B2C3", door: "back" });
    expect(lastDisplay(await c.sync())?.line2).toBe("Access denied");
    c.send({ t: "partition", partition: 0 });
    expect(lastDisplay(await c.sync())?.line1).toBe("P1 Disarmed  P2 Disarmed");
    c.send({ t: "partition", partition: 3 });
    expect(lastDisplay(await c.sync())?.line2).toBe("Partition 3 not assigned");
  });

  it("programs a user with *5 and the dealer menu with *6", async () => {
    await startServer({ codeLength: 4 });
    const c = await connect();
    await c.keys("*51234#05#1");
    expect(lastDisplay(await c.keys("5678"))).toEqual(display("User 5 code set", "1 Code  2 Partitions  3 Delete  # Back"));
    expect(backend.users.get(5)?.code).toBe("5678");
    expect(lastDisplay(await c.keys("#2"))?.line2).toBe("Partitions: none  # save");
    expect(lastDisplay(await c.keys("12#"))?.line1).toBe("User 5 partitions saved");
    expect(backend.users.get(5)?.partitions).toEqual([1, 2]);
    expect(lastDisplay(await c.keys("3"))?.line1).toBe("User 5 deleted");
    expect(lastDisplay(await c.keys("#"))?.line2).toBe("Enter code");
    expect(lastDisplay(await c.keys("*61234#1"))?.line2).toBe("Dealer access granted 2 h");
    expect(lastDisplay(await c.keys("*64444#2"))?.line2).toBe("Access denied");
  });

  it("refuses a keypad that has not said hello, and a second hello", async () => {
    await startServer();
    const c = await KeypadTestClient.connect(path);
    clients.push(c);
    c.send({ t: "key", k: "1" });
    expect(await c.next()).toMatchObject({ t: "error", error: "not_registered" });
    await c.hello();
    c.send({ t: "hello", keypad: "kp9", partitions: [1] });
    expect(await c.next()).toMatchObject({ t: "error", error: "already_registered" });
    expect(backend.calls).toEqual([]);
  });

  it("answers malformed lines with an error, never quoting them, and keeps serving", async () => {
    await startServer();
    const c = await connect();
    const bad = [
      "not json at all 1234",
      "[1234]",
      '"1234"',
      '{"t":"nope"}',
      '{"t":"entry","action":"disarm","code":"12ab4444"}',
      '{"t":"entry","action":"disarm","code":"4444","pin4444":1}',
      '{"t":"key","k":"F1"}',
      '{"t":"hello","keypad":"x","partitions":[]}',
      '{"t":"entry","action":"disarm","code":"4444"',
    ];
    for (const line of bad) c.raw(`${line}\n`);
    const answers = await c.sync();
    expect(answers.map((m) => m.error)).toEqual([
      "bad_json",
      "bad_json",
      "bad_json",
      "bad_message",
      "bad_message",
      "bad_message",
      "bad_message",
      "bad_message",
      "bad_json",
    ]);
    for (const m of answers) {
      expect(typeof m.message).toBe("string");
      expect(JSON.stringify(m)).not.toMatch(/1234|4444|12ab|pin/);
    }
    expect(lastDisplay(await c.keys("1234#"))?.line2).toBe("Access granted — Master");
    expect(backend.calls).toHaveLength(1);
  });

  it("caps a line at 4 KiB, also when it arrives in pieces", async () => {
    await startServer();
    const c = await connect();
    c.raw(`{"t":"key","k":"1","x":"${"a".repeat(5000)}"}\n`);
    expect(await c.next()).toMatchObject({ t: "error", error: "line_too_long" });
    for (let i = 0; i < 10; i++) c.raw("b".repeat(1000));
    c.raw('4444"}\n{"t":"key","k":"2"}\n');
    expect(await c.sync()).toEqual([{ t: "error", error: "line_too_long", message: expect.any(String) }, display("P1 Disarmed", "Code: *")]);
    // CRLF lines and blank lines are fine
    c.raw('{"t":"key","k":"3"}\r\n\n');
    expect(await c.sync()).toEqual([display("P1 Disarmed", "Code: **")]);
  });

  it("serialises a connection's requests: a burst is answered in order", async () => {
    await startServer();
    const c = await connect();
    const keys = [..."1234#4444#"].map((k) => JSON.stringify({ t: "key", k })).join("\n");
    c.raw(`${keys}\n`);
    const shown = (await c.sync()).filter((m) => String(m.line2).startsWith("Access"));
    expect(shown).toEqual([display("P1 Armed away", "Access granted — Master"), display("P1 Disarmed", "Access granted — User 4")]);
  });

  it("serves several keypads at once, each with its own session", async () => {
    await startServer();
    const a = await connect("kpA", [1]);
    const b = await connect("kpB", [2]);
    a.send({ t: "key", k: "4" });
    b.send({ t: "key", k: "1" });
    await Promise.all([a.sync(), b.sync()]);
    expect(lastDisplay(await a.keys("444#"))?.line2).toBe("Access granted — User 4");
    expect(lastDisplay(await b.keys("234#"))?.line1).toBe("P2 Armed away");
    expect(server!.connections).toBe(2);
  });

  it("clears a half-typed entry after the entry timeout", async () => {
    await startServer({ entryTimeoutMs: 150 });
    const c = await connect();
    await c.keys("12");
    expect(await c.next(2_000)).toEqual(display("P1 Disarmed", "Enter code"));
  });

  it("shows Service unavailable when the backend fails or hangs, and keeps serving", async () => {
    const hanging: KeypadBackend = {
      access: () => new Promise(() => {}),
      program: () => Promise.reject(new Error("boom with 1234")),
      dealer: () => Promise.resolve(undefined as never),
      status: () => {
        throw new Error("no status");
      },
    };
    await startServer({ backend: hanging, backendTimeoutMs: 100 });
    const c = await connect();
    expect(lastDisplay(await c.keys("1234#"))).toEqual(display("P1 Unknown", "Service unavailable"));
    expect(lastDisplay(await c.keys("*51234#4#"))?.line2).toBe("Service unavailable"); // the user-number check fails
    expect(lastDisplay(await c.keys("*61234#1"))?.line2).toBe("Service unavailable");
    expect(logs.filter((l) => l.level === "warn").length).toBeGreaterThanOrEqual(3);
  });

  it("refuses new messages beyond the queue limit with busy", async () => {
    let release: () => void = () => {};
    const slow: KeypadBackend = {
      ...backend,
      access: () => new Promise((resolve) => (release = () => resolve({ granted: true, label: "Slow" }))),
      program: backend.program.bind(backend),
      dealer: backend.dealer.bind(backend),
      status: backend.status.bind(backend),
    };
    await startServer({ backend: slow, maxQueue: 3 });
    const c = await connect();
    c.send({ t: "entry", action: "disarm", code: "1234" });
    for (let i = 0; i < 5; i++) c.send({ t: "key", k: "1" });
    const busy = await c.until((m) => m.t === "error");
    expect(busy.error).toBe("busy");
    release();
    await c.until((m) => m.line2 === "Access granted — Slow");
  });

  it("replaces a stale socket file left by a killed process", async () => {
    const child = spawn(process.execPath, ["-e", "require('net').createServer().listen(process.argv[1], () => console.log('up'))", path], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    expect((await stat(path)).isSocket()).toBe(true);
    await startServer();
    expect((await stat(path)).mode & 0o777).toBe(0o660);
    const c = await connect();
    expect(lastDisplay(await c.keys("4444#"))?.line2).toBe("Access granted — User 4");
  });

  it("refuses to start over a live socket or a regular file", async () => {
    await startServer();
    const second = new KeypadServer({ path, backend });
    await expect(second.start()).rejects.toMatchObject({ code: "EADDRINUSE" });
    // the first one still serves
    const c = await connect();
    expect(lastDisplay(await c.keys("4444#"))?.line2).toBe("Access granted — User 4");

    const file = join(dir, "not-a-socket");
    await writeFile(file, "keep me");
    await expect(new KeypadServer({ path: file, backend }).start()).rejects.toThrow(/not a socket/);
    expect((await stat(file)).isFile()).toBe(true);
  });

  it("closes its clients on stop", async () => {
    await startServer();
    const c = await connect();
    await server!.stop();
    server = null;
    await expect(c.next(1_000)).rejects.toThrow(/closed/);
  });
});
