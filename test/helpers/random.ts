import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";

/** The tests' one seeded random source (pure-rand, fast-check's own): the same seed, the same run. */
export interface Random {
  // Properties, not methods: the suites pass `r.next` around as a function.
  /** A number in [0, 1). */
  next: () => number;
  /** An integer in [lo, hi], both included. */
  int: (lo: number, hi: number) => number;
  pick: <T>(xs: readonly T[]) => T;
  /** True with probability p. */
  chance: (p: number) => boolean;
}

export function seededRandom(seed: number): Random {
  const g = xoroshiro128plus(seed);
  const int = (lo: number, hi: number) => uniformInt(g, lo, hi);
  const next = () => uniformFloat64(g);
  return { next, int, pick: (xs) => xs[int(0, xs.length - 1)]!, chance: (p) => next() < p };
}
