// Seeded pseudo-random numbers for the fault runner (mulberry32). Every random choice the runner
// makes (faults, victims, durations, client ops) comes from here, so a printed seed names a run.
// Must not read Math.random or the clock.

/** A seeded generator; fork(label) gives an independent stream so components don't interfere. */
export class Prng {
  private s: number
  constructor(readonly seed: number) {
    this.s = seed >>> 0
  }

  /** Uniform float in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0
    let t = this.s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** Integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }

  /** One element of a non-empty array. */
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('pick from empty array')
    return xs[Math.floor(this.next() * xs.length)]!
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p
  }

  /** A shuffled copy. */
  shuffle<T>(xs: readonly T[]): T[] {
    const a = [...xs]
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1))
      ;[a[i], a[j]] = [a[j]!, a[i]!]
    }
    return a
  }

  /** An independent generator derived from this seed and a label (stable across code changes elsewhere). */
  fork(label: string): Prng {
    let h = this.seed ^ 0x9e3779b9
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193)
    return new Prng(h >>> 0)
  }
}
