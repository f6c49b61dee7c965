import { EventEmitter } from "node:events";
import { createConnection, type Socket } from "node:net";

/** What the keypad socket sends (src/keypad/protocol.md). Parsed loosely: the emulator only shows it. */
export type ServerMessage =
  | { t: "ready"; keypad: string; partitions: number[] }
  | { t: "display"; line1: string; line2: string }
  | { t: "error"; error: string; message: string }
  | { t: "pong"; id?: string | number };

export type ClientMessage =
  | { t: "hello"; keypad: string; partitions: number[] }
  | { t: "key"; k: string }
  | { t: "entry"; action: string; code: string; door?: string }
  | { t: "tag"; tag: string; door?: string }
  | { t: "door"; door: string }
  | { t: "partition"; partition: number }
  | { t: "refresh" }
  | { t: "ping"; id?: string | number };

const MAX_INCOMING_LINE = 64 * 1024;

/** Terminal-safe text: no escape sequences from the socket reach the screen. */
export function printable(text: unknown): string {
  // eslint-disable-next-line no-control-regex
  return String(text).replace(/[\u0000-\u001f\u007f-\u009f]/g, "");
}

/**
 * The emulator's side of the line protocol. Emits "message" (ServerMessage) and "close".
 * `sync()` sends a ping and resolves at its pong: everything sent before has been handled.
 */
export class KeypadClient extends EventEmitter<{ message: [ServerMessage]; close: [] }> {
  #socket: Socket;
  #buffer = "";
  #pings = new Map<string, () => void>();
  #nextPing = 1;
  closed = false;

  private constructor(socket: Socket) {
    super();
    this.#socket = socket;
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => this.#onData(chunk));
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closed = true;
      for (const resolve of this.#pings.values()) resolve();
      this.#pings.clear();
      this.emit("close");
    });
  }

  static connect(path: string): Promise<KeypadClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(path);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new KeypadClient(socket));
      });
      socket.once("error", reject);
    });
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    let nl: number;
    while ((nl = this.#buffer.indexOf("\n")) !== -1) {
      const line = this.#buffer.slice(0, nl);
      this.#buffer = this.#buffer.slice(nl + 1);
      let message: ServerMessage;
      try {
        message = JSON.parse(line) as ServerMessage;
      } catch {
        continue;
      }
      if (message.t === "pong" && typeof message.id === "string" && this.#pings.has(message.id)) {
        const resolve = this.#pings.get(message.id)!;
        this.#pings.delete(message.id);
        resolve();
        continue;
      }
      this.emit("message", message);
    }
    if (this.#buffer.length > MAX_INCOMING_LINE) this.#buffer = "";
  }

  send(message: ClientMessage): void {
    if (!this.closed) this.#socket.write(`${JSON.stringify(message)}\n`);
  }

  sync(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const id = `e${this.#nextPing++}`;
    return new Promise((resolve) => {
      this.#pings.set(id, resolve);
      this.send({ t: "ping", id });
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.#socket.once("close", () => resolve());
      this.#socket.end();
    });
  }
}
