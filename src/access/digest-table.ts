/**
 * A compact open-addressing hash table from credential digest to index entry, in one Int32Array.
 *
 * Why not a Map<string, Entry>: with 100k users a Map lookup walks the bucket array, the entry
 * chain, the stored key string and then the entry object: four or five cache misses, each
 * ~100-300 ns on the communicator's class of CPU, which dwarfs everything else in a check. Here a
 * lookup reads one 32-byte bucket (two per cache line) holding the digest tag and the data every
 * keypad check needs, so a typical check touches one cold cache line.
 *
 * Bucket (8 int32): [t0, t1, t2, entry + 1 (0 = empty), partition mask, flags, aux, slot number];
 * aux is the caller's (the index keeps a weekly schedule's offset there).
 * The tag is the first 90 bits of the base64url digest (15 characters, 6 bits each, 5 per word).
 * A truncated HMAC stays unguessable (NIST SP 800-107 section 5.3 allows truncation down to 32
 * bits with a limit on attempts; here the keypad lockout is that limit): the chance that a wrong
 * credential matches one of 100k stored tags is 100k / 2^90, about 1e-22, per attempt. Two stored digests sharing a tag
 * (never expected) are still handled exactly: the table counts them and lookups then confirm the
 * full digest through `confirm`.
 * Tags are compared with XOR/OR over all three words, without an early exit.
 */

const STRIDE = 8;
const TAG_CHARS = 15;
/** Load factor before doubling: 0.8 keeps 100k users in 131072 buckets (4 MB), which measured faster than 8 MB at 0.5. */
const MAX_LOAD = 0.8;

/** base64url character code -> 6-bit value; -1 for anything else. */
const B64 = new Int8Array(128).fill(-1);
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".split("").forEach((c, i) => {
  B64[c.charCodeAt(0)] = i;
});

/** Scratch for the tag of the digest being looked up; single-threaded, reused by every lookup. */
const tag = new Int32Array(3);

/** Reads the 90-bit tag of a base64url digest into `tag`; false when it is not a digest. */
export function readTag(digest: string): boolean {
  if (digest.length < TAG_CHARS) return false;
  let bad = 0;
  for (let w = 0; w < 3; w++) {
    let v = 0;
    for (let c = 0; c < 5; c++) {
      const code = digest.charCodeAt(w * 5 + c);
      const d = code < 128 ? B64[code]! : -1;
      bad |= d;
      v = (v << 6) | (d & 63);
    }
    tag[w] = v;
  }
  return bad >= 0;
}

export class DigestTable {
  #words: Int32Array;
  #mask: number;
  #size = 0;
  /** Stored pairs of different digests with one tag. */
  #sharedTags = 0;

  constructor(capacity = 16) {
    let cap = 16;
    while (cap < capacity / MAX_LOAD) cap *= 2;
    this.#words = new Int32Array(cap * STRIDE);
    this.#mask = cap - 1;
  }

  get size(): number {
    return this.#size;
  }

  /** Word offset of the bucket holding the tag last read by readTag, or -1. */
  find(digest: string, confirm: (entry: number, digest: string) => boolean): number {
    const w = this.#words;
    const mask = this.#mask;
    const t0 = tag[0]!;
    const t1 = tag[1]!;
    const t2 = tag[2]!;
    let b = t2 & mask;
    for (;;) {
      const o = b * STRIDE;
      if (w[o + 3] === 0) return -1;
      if (((w[o]! ^ t0) | (w[o + 1]! ^ t1) | (w[o + 2]! ^ t2)) === 0) {
        if (this.#sharedTags === 0 || confirm(w[o + 3]! - 1, digest)) return o;
      }
      b = (b + 1) & mask;
    }
  }

  /** Entry index stored at a bucket offset returned by find. */
  entry(offset: number): number {
    return this.#words[offset + 3]! - 1;
  }

  partitionMask(offset: number): number {
    return this.#words[offset + 4]!;
  }

  flags(offset: number): number {
    return this.#words[offset + 5]!;
  }

  aux(offset: number): number {
    return this.#words[offset + 6]!;
  }

  slot(offset: number): number {
    return this.#words[offset + 7]!;
  }

  /** Rewrites the aux word of this digest's bucket for `entry` (after the caller moved its data). */
  setAux(digest: string, entry: number, aux: number): void {
    if (!readTag(digest)) return;
    const w = this.#words;
    let b = tag[2]! & this.#mask;
    for (;;) {
      const o = b * STRIDE;
      if (w[o + 3] === 0) return;
      if (w[o + 3] === entry + 1 && w[o] === tag[0] && w[o + 1] === tag[1] && w[o + 2] === tag[2]) {
        w[o + 6] = aux;
        return;
      }
      b = (b + 1) & this.#mask;
    }
  }

  /** Adds a digest for an entry. Returns false if the digest is not base64url (not stored). */
  insert(digest: string, entry: number, partitionMask: number, flags: number, aux: number, slot: number): boolean {
    if (!readTag(digest)) return false;
    if ((this.#size + 1) / (this.#mask + 1) > MAX_LOAD) this.#grow();
    const w = this.#words;
    const mask = this.#mask;
    let b = tag[2]! & mask;
    for (;;) {
      const o = b * STRIDE;
      if (w[o + 3] === 0) break;
      if (w[o] === tag[0] && w[o + 1] === tag[1] && w[o + 2] === tag[2]) this.#sharedTags++;
      b = (b + 1) & mask;
    }
    const o = b * STRIDE;
    w[o] = tag[0]!;
    w[o + 1] = tag[1]!;
    w[o + 2] = tag[2]!;
    w[o + 3] = entry + 1;
    w[o + 4] = partitionMask;
    w[o + 5] = flags;
    w[o + 6] = aux;
    w[o + 7] = slot;
    this.#size++;
    return true;
  }

  /** Removes the bucket of this digest that belongs to `entry` (if any). */
  remove(digest: string, entry: number): void {
    if (!readTag(digest)) return;
    const w = this.#words;
    const mask = this.#mask;
    let b = tag[2]! & mask;
    let sameTag = 0;
    let found = -1;
    for (;;) {
      const o = b * STRIDE;
      if (w[o + 3] === 0) break;
      if (w[o] === tag[0] && w[o + 1] === tag[1] && w[o + 2] === tag[2]) {
        if (w[o + 3] === entry + 1 && found < 0) found = b;
        else sameTag++;
      }
      b = (b + 1) & mask;
    }
    if (found < 0) return;
    if (sameTag > 0) this.#sharedTags--;
    this.#size--;
    // Backward-shift deletion: no tombstones, so probe chains stay short.
    let hole = found;
    let j = found;
    for (;;) {
      j = (j + 1) & mask;
      const oj = j * STRIDE;
      if (w[oj + 3] === 0) break;
      const home = w[oj + 2]! & mask;
      // Move j into the hole when its home is not cyclically within (hole, j].
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!between) {
        w.copyWithin(hole * STRIDE, oj, oj + STRIDE);
        hole = j;
      }
    }
    w.fill(0, hole * STRIDE, hole * STRIDE + STRIDE);
  }

  #grow(): void {
    const old = this.#words;
    const cap = (this.#mask + 1) * 2;
    this.#words = new Int32Array(cap * STRIDE);
    this.#mask = cap - 1;
    const w = this.#words;
    for (let o = 0; o < old.length; o += STRIDE) {
      if (old[o + 3] === 0) continue;
      let b = old[o + 2]! & this.#mask;
      while (w[b * STRIDE + 3] !== 0) b = (b + 1) & this.#mask;
      w.set(old.subarray(o, o + STRIDE), b * STRIDE);
    }
  }
}
