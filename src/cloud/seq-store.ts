import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Where the cloud keeps the last sequence number it assigned per panel. The client saves before it
 * publishes an envelope, so a restarted cloud never reuses a number (protocol/README.md section 5).
 * A real service keeps it in its database, in the transaction that records the command.
 */
export interface SeqStore {
  load(panelId: string): number | undefined | Promise<number | undefined>;
  save(panelId: string, lastSeq: number): void | Promise<void>;
}

/** The default: per process, forgotten on exit (the agent's retained `lastSeq` recovers it). */
export class MemorySeqStore implements SeqStore {
  readonly #seqs = new Map<string, number>();

  load(panelId: string): number | undefined {
    return this.#seqs.get(panelId);
  }

  save(panelId: string, lastSeq: number): void {
    this.#seqs.set(panelId, lastSeq);
  }
}

/**
 * A JSON file `{ "<panelId>": lastSeq }` (the CLI's store). Written whole to a temp file and
 * renamed over the old one on every save, so a crash leaves either the old or the new file.
 */
export class JsonFileSeqStore implements SeqStore {
  readonly path: string;
  #seqs: Record<string, number> | undefined;

  constructor(path: string) {
    this.path = path;
  }

  #read(): Record<string, number> {
    if (this.#seqs) return this.#seqs;
    let seqs: Record<string, number> = {};
    try {
      const parsed: unknown = JSON.parse(readFileSync(this.path, "utf8"));
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
        seqs = Object.fromEntries(Object.entries(parsed).filter((e): e is [string, number] => Number.isSafeInteger(e[1]) && (e[1] as number) >= 0));
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    this.#seqs = seqs;
    return seqs;
  }

  load(panelId: string): number | undefined {
    const seqs = this.#read();
    return Object.hasOwn(seqs, panelId) ? seqs[panelId] : undefined;
  }

  save(panelId: string, lastSeq: number): void {
    const seqs = this.#read();
    seqs[panelId] = lastSeq;
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(seqs, null, 2) + "\n", { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}
