import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Where the cloud keeps the last sequence number it assigned per panel. The client saves before it
 * publishes an envelope, so a restarted cloud never reuses a number (protocol/README.md section 5).
 * A real service keeps it in its database, in the transaction that records the command.
 */
export interface SeqStore {
  load(panelId: string): number | undefined | Promise<number | undefined>;
  /**
   * `epoch`: the epoch of the panel's database (its retained state's `epoch`) this counter counts
   * in, when known. A store may ignore it; one that keeps it should answer it in `loadEpoch`.
   */
  save(panelId: string, lastSeq: number, epoch?: string): void | Promise<void>;
  /**
   * The epoch saved with the counter (optional). With it, a client learns at its first contact
   * that a panel was reset (its state shows another epoch) instead of at a `sequence_gap`.
   */
  loadEpoch?(panelId: string): string | undefined | Promise<string | undefined>;
  /**
   * The panel's pinned identity (lowercase hex of its raw Ed25519 public key), optional. A store
   * that keeps it makes trust on first use hold across restarts: a later key is refused.
   */
  loadIdentity?(panelId: string): string | undefined | Promise<string | undefined>;
  /** Pins (hex) or forgets (undefined) the panel's identity. */
  saveIdentity?(panelId: string, publicKeyHex: string | undefined): void | Promise<void>;
}

/** The default: per process, forgotten on exit (the agent's retained `lastSeq` recovers it). */
export class MemorySeqStore implements SeqStore {
  readonly #seqs = new Map<string, number>();
  readonly #epochs = new Map<string, string>();
  readonly #identities = new Map<string, string>();

  load(panelId: string): number | undefined {
    return this.#seqs.get(panelId);
  }

  save(panelId: string, lastSeq: number, epoch?: string): void {
    this.#seqs.set(panelId, lastSeq);
    if (epoch !== undefined) this.#epochs.set(panelId, epoch);
  }

  loadEpoch(panelId: string): string | undefined {
    return this.#epochs.get(panelId);
  }

  loadIdentity(panelId: string): string | undefined {
    return this.#identities.get(panelId);
  }

  saveIdentity(panelId: string, publicKeyHex: string | undefined): void {
    if (publicKeyHex === undefined) this.#identities.delete(panelId);
    else this.#identities.set(panelId, publicKeyHex);
  }
}

interface FileEntry {
  /** Absent when only an identity was pinned (nothing sent yet). */
  seq?: number;
  epoch?: string;
  identity?: string;
}

const EPOCH_RE = /^[0-9a-f]{16}$/;
const IDENTITY_RE = /^[0-9a-f]{64}$/;

function entryOf(value: unknown): FileEntry | undefined {
  if (Number.isSafeInteger(value) && (value as number) >= 0) return { seq: value as number };
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const { seq, epoch, identity } = value as { seq?: unknown; epoch?: unknown; identity?: unknown };
  const entry: FileEntry = {};
  if (Number.isSafeInteger(seq) && (seq as number) >= 0) entry.seq = seq as number;
  else if (seq !== undefined) return undefined;
  if (typeof epoch === "string" && EPOCH_RE.test(epoch)) entry.epoch = epoch;
  if (typeof identity === "string" && IDENTITY_RE.test(identity)) entry.identity = identity;
  return entry.seq !== undefined || entry.identity !== undefined ? entry : undefined;
}

/**
 * A JSON file `{ "<panelId>": { "seq": lastSeq, "epoch": "<16 hex>", "identity": "<64 hex>" } }`
 * (the CLI's store: counter, database epoch and pinned identity per panel; an
 * entry written before epochs were kept, `"<panelId>": lastSeq`, is read too). Written whole to a
 * temp file and renamed over the old one on every save, so a crash leaves either the old or the
 * new file.
 */
export class JsonFileSeqStore implements SeqStore {
  readonly path: string;
  #seqs: Record<string, FileEntry> | undefined;

  constructor(path: string) {
    this.path = path;
  }

  #read(): Record<string, FileEntry> {
    if (this.#seqs) return this.#seqs;
    const seqs: Record<string, FileEntry> = {};
    try {
      const parsed: unknown = JSON.parse(readFileSync(this.path, "utf8"));
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
        for (const [panelId, value] of Object.entries(parsed)) {
          const entry = entryOf(value);
          if (entry) seqs[panelId] = entry;
        }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    this.#seqs = seqs;
    return seqs;
  }

  load(panelId: string): number | undefined {
    return this.#entry(panelId)?.seq;
  }

  #entry(panelId: string): FileEntry | undefined {
    const seqs = this.#read();
    return Object.hasOwn(seqs, panelId) ? seqs[panelId] : undefined;
  }

  loadIdentity(panelId: string): string | undefined {
    return this.#entry(panelId)?.identity;
  }

  saveIdentity(panelId: string, publicKeyHex: string | undefined): void {
    if (publicKeyHex !== undefined && !IDENTITY_RE.test(publicKeyHex)) throw new TypeError("an identity is 64 lowercase hex digits");
    const { identity: _old, ...rest } = this.#entry(panelId) ?? {};
    this.#write(panelId, publicKeyHex === undefined ? rest : { ...rest, identity: publicKeyHex });
  }

  loadEpoch(panelId: string): string | undefined {
    return this.#entry(panelId)?.epoch;
  }

  save(panelId: string, lastSeq: number, epoch?: string): void {
    const known = this.#entry(panelId);
    const e = epoch ?? known?.epoch;
    this.#write(panelId, { seq: lastSeq, ...(e !== undefined ? { epoch: e } : {}), ...(known?.identity !== undefined ? { identity: known.identity } : {}) });
  }

  #write(panelId: string, entry: FileEntry): void {
    const seqs = this.#read();
    if (entry.seq === undefined && entry.identity === undefined) delete seqs[panelId];
    else seqs[panelId] = entry;
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    // Durable before it counts: the temp file's bytes reach the disk before the rename, and the
    // rename (the directory entry) before save returns, so a crash or power loss after a publish
    // can never bring back an older counter (a reused seq).
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeFileSync(fd, JSON.stringify(seqs, null, 2) + "\n");
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    const dir = openSync(dirname(this.path), "r");
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }
}
