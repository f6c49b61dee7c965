import { createConnection, type Socket } from "node:net";

export type Message = { t: string; [key: string]: unknown };

/** A minimal line-protocol client for tests: send objects or raw text, await messages in order. */
export class KeypadTestClient {
  readonly received: Message[] = [];
  #buffer = "";
  #cursor = 0;
  #waiters: (() => void)[] = [];
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.#buffer += chunk;
      let nl: number;
      while ((nl = this.#buffer.indexOf("\n")) !== -1) {
        this.received.push(JSON.parse(this.#buffer.slice(0, nl)) as Message);
        this.#buffer = this.#buffer.slice(nl + 1);
      }
      this.#wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.#wake();
    });
    socket.on("error", () => {});
  }

  static connect(path: string): Promise<KeypadTestClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(path);
      socket.once("connect", () => resolve(new KeypadTestClient(socket)));
      socket.once("error", reject);
    });
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  send(message: object): void {
    this.socket.write(`${JSON.stringify(message)}\n`);
  }

  raw(text: string): void {
    this.socket.write(text);
  }

  /** The next message not yet consumed (waits for it). */
  async next(timeoutMs = 3_000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    while (this.#cursor >= this.received.length) {
      if (this.closed) throw new Error("connection closed");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${timeoutMs} ms; got ${JSON.stringify(this.received.slice(-3))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received[this.#cursor++]!;
  }

  /** Consumes messages until one matches; returns it. */
  async until(predicate: (m: Message) => boolean, timeoutMs = 3_000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = await this.next(Math.max(1, deadline - Date.now()));
      if (predicate(m)) return m;
    }
  }

  /** Sends a ping and returns every message that arrived before its pong. */
  async sync(): Promise<Message[]> {
    const id = Math.random().toString(36).slice(2);
    this.send({ t: "ping", id });
    const out: Message[] = [];
    for (;;) {
      const m = await this.next();
      if (m.t === "pong" && m.id === id) return out;
      out.push(m);
    }
  }

  async hello(keypad = "kp1", partitions = [1]): Promise<Message[]> {
    this.send({ t: "hello", keypad, partitions });
    return this.sync();
  }

  async keys(chars: string): Promise<Message[]> {
    for (const k of chars) this.send({ t: "key", k });
    return this.sync();
  }

  close(): void {
    this.socket.destroy();
  }
}

export const lastDisplay = (messages: Message[]): Message | undefined => messages.filter((m) => m.t === "display").at(-1);
