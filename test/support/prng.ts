// Seeded pseudo-random numbers for deterministic tests (splitmix32 seeding + mulberry32 stream).
// fork(label) derives an independent stream per component, so adding a node or a fault kind does
// not reshuffle the others' choices. mulberry32(seed) is the bare stream, for a test that only
// needs floats from a seed it prints.

function hashString(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** The mulberry32 generator from a 32-bit state: uniform integers in [0, 2^32). */
function mulberry32u(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    let t = (state = (state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
}

/** The bare mulberry32 stream seeded with `seed` as is: uniform floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  const next = mulberry32u(seed)
  return () => next() / 4294967296
}

export class Prng {
  readonly seed: number
  /** Uniform in [0, 2^32). */
  readonly nextU32: () => number

  constructor(seed: number) {
    this.seed = seed >>> 0
    // splitmix32 so that nearby seeds give unrelated streams.
    let z = (this.seed + 0x9e3779b9) >>> 0
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    this.nextU32 = mulberry32u((z ^ (z >>> 16)) >>> 0)
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.nextU32() / 4294967296
  }

  /** Integer in [0, n). */
  intn(n: number): number {
    return Math.floor(this.float() * n)
  }

  /** Integer in [lo, hi] inclusive. */
  range(lo: number, hi: number): number {
    return lo + this.intn(hi - lo + 1)
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return p > 0 && this.float() < p
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.intn(xs.length)]!
  }

  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.intn(i + 1)
      const t = xs[i]!
      xs[i] = xs[j]!
      xs[j] = t
    }
    return xs
  }

  /** An independent stream named `label`, derived from this stream's seed (not its position). */
  fork(label: string): Prng {
    return new Prng(hashString(label, hashString(String(this.seed))))
  }
}
