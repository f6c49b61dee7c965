import type { Socket } from "node:net";
import { Secret } from "../domain/secret.js";
import type { KeypadBackend } from "./backend.js";
import { encode, ERROR_TEXT, parseLine, type ClientMessage, type ProtocolErrorCode, type ServerMessage } from "./protocol.js";
import {
  createSession,
  nextDeadline,
  render,
  step,
  type BackendRequest,
  type SessionInput,
  type SessionState,
  type StepContext,
} from "./session.js";

/** The pino-compatible subset the keypad shell logs through. Never handed a credential. */
export interface KeypadLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: KeypadLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface ConnectionSettings {
  backend: KeypadBackend;
  now: () => number;
  logger: KeypadLogger;
  codeLength: number | null;
  entryTimeoutMs: number;
  menuTimeoutMs: number;
  maxLineBytes: number;
  /** Messages waiting behind a pending backend call before new ones are refused. */
  maxQueue: number;
  /** A backend call that has not answered by then counts as failed. */
  backendTimeoutMs: number;
}

const MAX_OUTPUT_BUFFER = 1 << 20;

/**
 * One keypad connection: splits lines (capped), parses them, and runs the pure session machine,
 * one input at a time (a connection's backend requests are serialised by a promise chain).
 */
export class KeypadConnection {
  readonly #socket: Socket;
  readonly #s: ConnectionSettings;
  readonly #id: number;
  #session: SessionState | null = null;
  #partial: Buffer[] = [];
  #partialBytes = 0;
  #discarding = false;
  #chain: Promise<void> = Promise.resolve();
  #queued = 0;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(socket: Socket, settings: ConnectionSettings, id: number) {
    this.#socket = socket;
    this.#s = settings;
    this.#id = id;
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", (err) => this.#s.logger.debug({ conn: id, err: err.name }, "keypad connection error"));
    socket.on("close", () => this.#onClose());
  }

  get keypadId(): string | null {
    return this.#session?.keypadId ?? null;
  }

  /** Resolves when every queued input has been processed. */
  idle(): Promise<void> {
    return this.#chain;
  }

  close(): void {
    this.#onClose();
    this.#socket.destroy();
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#s.logger.debug({ conn: this.#id, keypad: this.keypadId }, "keypad disconnected");
  }

  #onData(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl === -1) {
        this.#keepPartial(chunk.subarray(start));
        return;
      }
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.#discarding) {
        this.#discarding = false;
        continue;
      }
      const bytes = this.#partialBytes + piece.length;
      const line = this.#partial.length > 0 ? Buffer.concat([...this.#partial, piece]) : piece;
      this.#partial = [];
      this.#partialBytes = 0;
      if (bytes > this.#s.maxLineBytes) {
        this.#error("line_too_long");
        continue;
      }
      const text = line.toString("utf8").replace(/\r$/, "");
      if (text.trim() === "") continue;
      this.#onLine(text);
    }
  }

  #keepPartial(rest: Buffer): void {
    if (this.#discarding || rest.length === 0) return;
    this.#partialBytes += rest.length;
    if (this.#partialBytes > this.#s.maxLineBytes) {
      this.#partial = [];
      this.#partialBytes = 0;
      this.#discarding = true;
      this.#error("line_too_long");
      return;
    }
    this.#partial.push(Buffer.from(rest));
  }

  #onLine(line: string): void {
    const parsed = parseLine(line);
    if (!parsed.ok) {
      this.#s.logger.debug({ conn: this.#id, keypad: this.keypadId, error: parsed.error }, "keypad line refused");
      this.#send({ t: "error", error: parsed.error, message: parsed.message });
      return;
    }
    const m = parsed.message;
    if (m.t === "hello") {
      if (this.#session !== null) return this.#error("already_registered");
      this.#session = createSession(
        {
          keypadId: m.keypad,
          partitions: m.partitions,
          codeLength: this.#s.codeLength,
          entryTimeoutMs: this.#s.entryTimeoutMs,
          menuTimeoutMs: this.#s.menuTimeoutMs,
        },
        this.#s.now(),
      );
      this.#s.logger.info({ conn: this.#id, keypad: m.keypad, partitions: this.#session.assigned }, "keypad registered");
      this.#send({ t: "ready", keypad: m.keypad, partitions: [...this.#session.assigned] });
      this.#send({ t: "display", ...render(this.#session, this.#ctx()) });
      return;
    }
    if (this.#session === null) return this.#error("not_registered");
    if (this.#queued >= this.#s.maxQueue) return this.#error("busy");
    this.#enqueue(() => this.#handle(m));
  }

  #enqueue(work: () => Promise<void> | void): void {
    this.#queued++;
    this.#chain = this.#chain
      .then(async () => {
        if (!this.#closed) await work();
      })
      .catch((err: unknown) => {
        // A bug in the shell or the machine: say so without details, keep serving.
        this.#s.logger.error({ conn: this.#id, keypad: this.keypadId, err: err instanceof Error ? err.name : "unknown" }, "keypad input failed");
      })
      .finally(() => {
        this.#queued--;
      });
  }

  async #handle(m: Exclude<ClientMessage, { t: "hello" }>): Promise<void> {
    switch (m.t) {
      case "key":
        return this.#run({ t: "key", key: m.k });
      case "entry":
        return this.#run(
          m.door === undefined
            ? { t: "entry", action: m.action, code: new Secret(m.code) }
            : { t: "entry", action: m.action, code: new Secret(m.code), doorLockId: m.door },
        );
      case "tag":
        return this.#run(m.door === undefined ? { t: "tag", tag: new Secret(m.tag) } : { t: "tag", tag: new Secret(m.tag), doorLockId: m.door });
      case "door":
        return this.#run({ t: "door", doorLockId: m.door });
      case "partition":
        return this.#run({ t: "partition", partition: m.partition });
      case "refresh":
        if (this.#session) this.#send({ t: "display", ...render(this.#session, this.#ctx()) });
        return;
      case "ping":
        this.#send(m.id === undefined ? { t: "pong" } : { t: "pong", id: m.id });
        return;
    }
  }

  /** Runs one input through the machine, performing its effects until it settles. */
  async #run(input: SessionInput): Promise<void> {
    let next: SessionInput | null = input;
    while (next !== null && this.#session !== null && !this.#closed) {
      const { state, effects } = step(this.#session, next, this.#ctx());
      this.#session = state;
      next = null;
      for (const effect of effects) {
        if (effect.kind === "display") this.#send({ t: "display", ...effect.display });
        else next = await this.#call(effect.request);
      }
    }
    this.#schedule();
  }

  async #call(request: BackendRequest): Promise<SessionInput> {
    const b = this.#s.backend;
    const keypad = request.who.keypadId;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("backend timeout")), this.#s.backendTimeoutMs);
    });
    try {
      switch (request.kind) {
        case "access": {
          const answer = await Promise.race([b.access(request.who, request.credential, request.action, request.doorLockId), timeout]);
          if (typeof answer !== "object" || answer === null || typeof answer.granted !== "boolean") throw new TypeError("bad access answer");
          this.#s.logger.info(
            { keypad, action: request.action, credential: request.credential.kind, door: request.doorLockId, granted: answer.granted, slot: answer.slot, reason: answer.reason, lockedForMs: answer.lockedForMs },
            "keypad access",
          );
          return { t: "access_answer", answer };
        }
        case "program": {
          const answer = await Promise.race([b.program(request.who, request.programmerCode, request.op), timeout]);
          if (typeof answer !== "object" || answer === null || typeof answer.ok !== "boolean") throw new TypeError("bad program answer");
          this.#s.logger.info({ keypad, op: request.op.kind, slot: request.op.slot, ok: answer.ok, error: answer.error }, "keypad programming");
          return { t: "program_answer", answer };
        }
        case "dealer": {
          const answer = await Promise.race([b.dealer(request.who, request.masterCode, request.op), timeout]);
          if (typeof answer !== "object" || answer === null || typeof answer.ok !== "boolean") throw new TypeError("bad dealer answer");
          this.#s.logger.info({ keypad, op: request.op, ok: answer.ok, error: answer.error }, "keypad dealer access");
          return { t: "dealer_answer", answer };
        }
      }
    } catch (err) {
      // Only the error's name: a backend's message could quote what it was given.
      this.#s.logger.warn({ keypad, request: request.kind, err: err instanceof Error ? err.name : typeof err }, "keypad backend call failed");
      return { t: "backend_failed" };
    } finally {
      clearTimeout(timer);
    }
  }

  #ctx(): StepContext {
    return {
      at: this.#s.now(),
      status: (partitions) => {
        try {
          return this.#s.backend.status([...partitions]);
        } catch (err) {
          this.#s.logger.warn({ err: err instanceof Error ? err.name : typeof err }, "keypad status failed");
          return [];
        }
      },
    };
  }

  #schedule(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#session === null || this.#closed) return;
    const deadline = nextDeadline(this.#session);
    if (deadline === null) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#enqueue(() => this.#run({ t: "tick" }));
    }, Math.max(0, deadline - this.#s.now()));
    this.#timer.unref();
  }

  #error(error: ProtocolErrorCode): void {
    this.#s.logger.debug({ conn: this.#id, keypad: this.keypadId, error }, "keypad line refused");
    this.#send({ t: "error", error, message: ERROR_TEXT[error] });
  }

  #send(message: ServerMessage): void {
    if (this.#closed || this.#socket.destroyed) return;
    if (this.#socket.writableLength > MAX_OUTPUT_BUFFER) {
      this.#s.logger.warn({ conn: this.#id, keypad: this.keypadId }, "keypad client not reading; disconnecting");
      this.close();
      return;
    }
    this.#socket.write(encode(message));
  }
}
