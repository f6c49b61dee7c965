/**
 * Access-check latency against its floor, the keyed hash of the credential, in the same run.
 *
 *   keyed_hash_ns       p50 of one HMAC of a 6-digit PIN with the hasher the index uses
 *   check_p50_ns_<n>    p50 of one check over a table of n users (panel type "site")
 *   check_p99_ns_100k   p99 of one check over 100k users
 *   checks_per_s_100k   checks per second in a tight loop over 100k users
 *
 * Tables: a third weekly, a third temporary (mostly current, some expired or not yet valid), a
 * third always; a few Duress and One-time users; random partitions. Requests: ~70% codes of the
 * table (some refused by schedule/partition/role), ~30% unknown codes. The lockout policy never
 * locks, so misses keep being evaluated. Each sample is one check timed with hrtime.bigint; the
 * floor is timed the same way, so timer overhead is on both sides of the ratio. Sizes are
 * measured in interleaved rounds so a noisy neighbour on the shared cores hits all alike.
 */
import { AccessIndex, createCredentialHasher, type AccessRequest } from "../../src/access/index.js";
import { PanelTable, Secret, type Role, type Schedule, type Slot } from "../../src/domain/index.js";
import { prng } from "../unit/access/fixtures.js";

const KEY = Buffer.alloc(32, 11);
const hash = createCredentialHasher(KEY);
/** Wednesday 2026-11-25 10:00 UTC. */
const BASE = 1_795_600_800_000;
const HOUR = 3_600_000;
const SIZES = [1_000, 10_000, 100_000] as const;
const POOL = 1 << 16;
const ROUNDS = 4;
const SAMPLES_PER_ROUND = 60_000;


/** Distinct 6-digit codes: a random permutation of 000000..999999, split into users and unknowns. */
function codes(random: () => number): string[] {
  const all = new Int32Array(1_000_000);
  for (let i = 0; i < all.length; i++) all[i] = i;
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = all[i]!;
    all[i] = all[j]!;
    all[j] = t;
  }
  return Array.from(all.subarray(0, 200_000), (n) => String(n).padStart(6, "0"));
}

function schedule(i: number, random: () => number): Schedule {
  if (i % 3 === 0) return { kind: "always" };
  if (i % 3 === 1) {
    const windows = Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({
      days: [0, 1, 2, 3, 4, 5, 6].filter(() => random() < 0.6),
      start: Math.floor(random() * 1440),
      end: 1 + Math.floor(random() * 1440),
    })).filter((w) => w.days.length > 0);
    return windows.length > 0 ? { kind: "weekly", windows } : { kind: "always" };
  }
  const r = random();
  const from = r < 0.1 ? BASE + 24 * HOUR : BASE - 30 * 24 * HOUR;
  const to = r >= 0.1 && r < 0.2 ? BASE - HOUR : BASE + 365 * 24 * HOUR;
  return { kind: "temporary", from, to };
}

function role(i: number): Role {
  if (i === 0) return "Master";
  if (i % 97 === 0) return "Duress";
  if (i % 89 === 0) return "One-time User";
  return i % 7 === 0 ? "Supervisor" : "User";
}

function buildIndex(size: number, userCodes: string[], random: () => number): AccessIndex {
  const slots: Slot[] = [];
  for (let i = 0; i < size; i++) {
    const partitions = [1, 2, 3, 4].filter((p) => (p === 1 ? random() < 0.9 : random() < 0.5));
    slots.push({
      number: i + 1,
      label: `User ${i + 1}`,
      role: role(i),
      codeDigest: hash(userCodes[i]!),
      partitions,
      schedule: schedule(i, random),
      doorLocks: [],
      tags: [],
      account: null,
      version: 1,
      updatedAt: 0,
    });
  }
  const table = new PanelTable({ panelId: "bench", type: "site", codeLength: 6, timeZone: "Europe/Berlin", doorLocks: [] }, slots);
  return new AccessIndex(table, { hash, lockoutPolicy: { maxAttempts: Number.POSITIVE_INFINITY, panelMaxAttempts: Number.POSITIVE_INFINITY } });
}

function requests(size: number, userCodes: string[], unknownCodes: string[], random: () => number): AccessRequest[] {
  const point = { kind: "keypad" as const, id: "bench-kp", partitions: [1] };
  const out: AccessRequest[] = [];
  for (let i = 0; i < POOL; i++) {
    const known = random() < 0.7;
    const code = known ? userCodes[Math.floor(random() * size)]! : unknownCodes[Math.floor(random() * unknownCodes.length)]!;
    out.push({ credential: { kind: "pin", value: new Secret(code) }, point, action: random() < 0.25 ? "arm" : "disarm", at: BASE });
  }
  return out;
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

let sink = 0;

function timeHashes(secrets: Secret[], samples: Float64Array, offset: number, count: number): void {
  for (let i = 0; i < count; i++) {
    const s = secrets[i & (POOL - 1)]!;
    const t0 = process.hrtime.bigint();
    const d = hash(s);
    const t1 = process.hrtime.bigint();
    samples[offset + i] = Number(t1 - t0);
    sink ^= d.length;
  }
}

function timeChecks(index: AccessIndex, reqs: AccessRequest[], clock: { at: number }, samples: Float64Array | null, offset: number, count: number): void {
  for (let i = 0; i < count; i++) {
    const req = reqs[i & (POOL - 1)]!;
    req.at = clock.at += 7;
    const t0 = process.hrtime.bigint();
    const r = index.check(req);
    const t1 = process.hrtime.bigint();
    if (samples !== null) samples[offset + i] = Number(t1 - t0);
    sink ^= r.granted ? 1 : 0;
  }
}

export async function run(): Promise<Record<string, number>> {
  const random = prng(20261125);
  const all = codes(random);
  const userCodes = all.slice(0, 100_000);
  const unknownCodes = all.slice(100_000);

  const indexes = SIZES.map((size) => buildIndex(size, userCodes, random));
  const reqs = SIZES.map((size) => requests(size, userCodes, unknownCodes, random));
  const secrets = Array.from({ length: POOL }, () => new Secret(userCodes[Math.floor(random() * userCodes.length)]!));
  const clocks = SIZES.map(() => ({ at: BASE }));

  // Warm up: let the JIT settle on every path (hits, misses, refusals) before timing.
  const warm = new Float64Array(SAMPLES_PER_ROUND);
  timeHashes(secrets, warm, 0, SAMPLES_PER_ROUND);
  SIZES.forEach((_, k) => timeChecks(indexes[k]!, reqs[k]!, clocks[k]!, null, 0, SAMPLES_PER_ROUND));

  const hashSamples = new Float64Array(ROUNDS * SAMPLES_PER_ROUND);
  const checkSamples = SIZES.map(() => new Float64Array(ROUNDS * SAMPLES_PER_ROUND));
  for (let round = 0; round < ROUNDS; round++) {
    const offset = round * SAMPLES_PER_ROUND;
    timeHashes(secrets, hashSamples, offset, SAMPLES_PER_ROUND);
    SIZES.forEach((_, k) => timeChecks(indexes[k]!, reqs[k]!, clocks[k]!, checkSamples[k]!, offset, SAMPLES_PER_ROUND));
  }
  hashSamples.sort();
  for (const s of checkSamples) s.sort();

  // Throughput: a tight loop, no per-check timer.
  const big = indexes[2]!;
  const bigReqs = reqs[2]!;
  const n = 400_000;
  let at = clocks[2]!.at;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const req = bigReqs[i & (POOL - 1)]!;
    req.at = at += 7;
    sink ^= big.check(req).granted ? 1 : 0;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;

  if (sink === 0x7fffffff) console.log("");
  return {
    keyed_hash_ns: percentile(hashSamples, 0.5),
    check_p50_ns_1k: percentile(checkSamples[0]!, 0.5),
    check_p50_ns_10k: percentile(checkSamples[1]!, 0.5),
    check_p50_ns_100k: percentile(checkSamples[2]!, 0.5),
    check_p99_ns_100k: percentile(checkSamples[2]!, 0.99),
    checks_per_s_100k: Math.round(n / seconds),
  };
}
