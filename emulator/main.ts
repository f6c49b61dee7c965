#!/usr/bin/env node
/**
 * The terminal keypad emulator: a keypad that speaks the keypad line protocol over the agent's
 * Unix socket (src/keypad/protocol.md). Interactive (raw TTY) or scripted (--script FILE|-).
 *
 *   tsx emulator/main.ts --socket PATH [--keypad ID] [--partition N ...] [--script FILE|-]
 *
 * Exit codes: 0 done, 1 could not connect / connection lost, 2 usage or script errors.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { KeypadClient, printable, type ServerMessage } from "./client.js";
import { renderScreen, type ScreenState } from "./screen.js";
import { parseScript } from "./script.js";

const USAGE = "usage: tsx emulator/main.ts --socket PATH [--keypad ID] [--partition N ...] [--script FILE|-]";

interface Options {
  socket: string;
  keypad: string;
  partitions: number[];
  script: string | undefined;
}

function parseOptions(argv: string[]): Options | string[] {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        socket: { type: "string", short: "s" },
        keypad: { type: "string", short: "k", default: "emulator" },
        partition: { type: "string", short: "p", multiple: true },
        script: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (err) {
    return [err instanceof Error ? err.message : String(err)];
  }
  if (values.help) return [];
  const errors: string[] = [];
  if (!values.socket) errors.push("--socket PATH is required");
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(values.keypad)) errors.push("--keypad: letters, digits, _ . : - (at most 64)");
  const partitions = (values.partition ?? ["1"]).flatMap((p) => p.split(",")).map(Number);
  if (partitions.some((p) => !Number.isInteger(p) || p < 1 || p > 64)) errors.push("--partition: numbers 1-64 (repeat the flag or use 1,2)");
  if (errors.length > 0) return errors;
  return { socket: values.socket!, keypad: values.keypad, partitions: [...new Set(partitions)].sort((a, b) => a - b), script: values.script };
}

async function readScript(source: string): Promise<string> {
  if (source !== "-") return readFile(source, "utf8");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Scripted mode: each display update is printed as "line1 | line2"; protocol errors go to stderr. */
async function runScript(options: Options, source: string): Promise<number> {
  let text: string;
  try {
    text = await readScript(source);
  } catch (err) {
    process.stderr.write(`emulator: cannot read the script: ${(err as NodeJS.ErrnoException).code ?? "error"}\n`);
    return 2;
  }
  const { steps, errors } = parseScript(text);
  if (errors.length > 0) {
    for (const e of errors) process.stderr.write(`emulator: ${e}\n`);
    return 2;
  }
  const client = await connectOrFail(options.socket);
  if (!client) return 1;
  let lost = false;
  client.on("close", () => (lost = true));
  client.on("message", (m: ServerMessage) => {
    if (m.t === "display") process.stdout.write(`${printable(m.line1)} | ${printable(m.line2)}\n`);
    else if (m.t === "error") process.stderr.write(`emulator: keypad socket error ${printable(m.error)}: ${printable(m.message)}\n`);
  });
  client.send({ t: "hello", keypad: options.keypad, partitions: options.partitions });
  await client.sync();
  for (const s of steps) {
    if (lost) break;
    if (s.kind === "wait") await sleep(s.ms);
    else {
      for (const m of s.messages) client.send(m);
      await client.sync();
    }
  }
  if (lost) {
    process.stderr.write("emulator: connection lost\n");
    return 1;
  }
  await client.close();
  return 0;
}

async function connectOrFail(path: string): Promise<KeypadClient | null> {
  try {
    return await KeypadClient.connect(path);
  } catch (err) {
    process.stderr.write(`emulator: cannot connect to ${path}: ${(err as NodeJS.ErrnoException).code ?? "error"}\n`);
    return null;
  }
}

/** Interactive mode: a raw-TTY keypad. */
async function runInteractive(options: Options): Promise<number> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    process.stderr.write("emulator: stdin is not a terminal; use --script FILE (or --script - to read commands from stdin)\n");
    return 2;
  }
  const client = await connectOrFail(options.socket);
  if (!client) return 1;

  const screen: ScreenState = {
    keypad: options.keypad,
    socket: options.socket,
    partitions: options.partitions,
    selected: 0,
    line1: "",
    line2: "Connecting...",
    lastKey: null,
    prompt: null,
    partitionMode: false,
    note: `socket ${options.socket}`,
  };
  let promptText = "";
  let promptKind: "tag" | "door" | null = null;
  const draw = () => process.stdout.write(renderScreen(screen));

  return new Promise<number>((resolve) => {
    // Quitting closes the socket, and the socket's close must then not count as a lost
    // connection: the first finish() decides the exit code, later ones do nothing.
    let finished = false;
    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      stdin.setRawMode(false);
      stdin.pause();
      process.stdout.write("\x1b[?25h\r\n");
      void client.close().then(() => resolve(code));
    };

    client.on("message", (m: ServerMessage) => {
      if (m.t === "display") {
        screen.line1 = m.line1;
        screen.line2 = m.line2;
      } else if (m.t === "error") {
        screen.note = `error ${m.error}: ${m.message}`;
      } else if (m.t === "ready") {
        screen.note = `registered as ${m.keypad} on partitions ${m.partitions.join(",")}`;
      }
      draw();
    });
    client.on("close", () => {
      if (finished) return;
      screen.note = "connection lost";
      draw();
      finish(1);
    });

    const sendKey = (k: string, highlight = k) => {
      screen.lastKey = highlight;
      client.send({ t: "key", k });
    };
    const selectPartition = (n: number) => {
      screen.selected = n;
      client.send({ t: "partition", partition: n });
    };

    const onKey = (ch: string) => {
      if (ch === "\u0003") return finish(0); // Ctrl-C
      if (promptKind !== null) {
        if (ch === "\r" || ch === "\n") {
          if (promptText !== "") {
            if (promptKind === "tag") client.send({ t: "tag", tag: promptText });
            else client.send({ t: "door", door: promptText });
          }
          promptKind = null;
          promptText = "";
          screen.prompt = null;
        } else if (ch === "\u001b") {
          promptKind = null;
          promptText = "";
          screen.prompt = null;
        } else if (ch === "\u007f" || ch === "\b") {
          promptText = promptText.slice(0, -1);
        } else if (/^[A-Za-z0-9_.:-]$/.test(ch) && promptText.length < 64) {
          promptText += ch;
        }
        if (screen.prompt) screen.prompt.shown = promptKind === "tag" ? "*".repeat(promptText.length) : promptText;
        return draw();
      }
      if (screen.partitionMode) {
        screen.partitionMode = false;
        if (/^[0-8]$/.test(ch)) selectPartition(Number(ch));
        return draw();
      }
      switch (ch) {
        case "q":
        case "Q":
          return finish(0);
        case "s":
          return sendKey("stay");
        case "a":
          return sendKey("away");
        case "d":
          return sendKey("disarm");
        case "p":
          return sendKey("prog");
        case "\r":
        case "\n":
          return sendKey("#");
        case "t":
          promptKind = "tag";
          screen.prompt = { label: "Tag id", shown: "" };
          return draw();
        case "o":
          promptKind = "door";
          screen.prompt = { label: "Door lock id", shown: "" };
          return draw();
        case "P":
          screen.partitionMode = true;
          return draw();
        case "[":
        case "]": {
          const choices = [0, ...options.partitions];
          const i = choices.indexOf(screen.selected);
          const next = choices[(i + (ch === "]" ? 1 : choices.length - 1)) % choices.length] ?? 0;
          selectPartition(next);
          return draw();
        }
        default:
          if (/^[0-9*#]$/.test(ch)) return sendKey(ch);
      }
    };

    stdin.setRawMode(true);
    stdin.setEncoding("utf8");
    stdin.on("data", (data: string) => {
      // A paste or a fast typist can deliver several keys in one chunk; escape sequences
      // (arrow keys) are dropped whole.
      if (data.startsWith("\u001b") && data.length > 1) return;
      for (const ch of data) onKey(ch);
    });
    stdin.resume();
    process.stdout.write("\x1b[?25l");
    draw();
    client.send({ t: "hello", keypad: options.keypad, partitions: options.partitions });
  });
}

async function main(): Promise<number> {
  const parsed = parseOptions(process.argv.slice(2));
  if (Array.isArray(parsed)) {
    for (const e of parsed) process.stderr.write(`emulator: ${e}\n`);
    process.stderr.write(`${USAGE}\n`);
    return parsed.length === 0 ? 0 : 2;
  }
  return parsed.script !== undefined ? runScript(parsed, parsed.script) : runInteractive(parsed);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`emulator: ${err instanceof Error ? err.name : "error"}\n`);
    process.exitCode = 1;
  },
);
