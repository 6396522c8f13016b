// A merge sort that runs a bounded amount of work per call, so sorting a directory of a million
// children (a `sorted=true` listing) never holds the event loop for long. Pure; no timers.

/** Runs of this many items are sorted in one go by Array.prototype.sort, then merged pairwise. */
const RUN = 1024

export class SlicedSort<T> {
  private src: T[]
  private dst: T[]
  private width = RUN
  /** Phase 0: next run to sort; phase 1: start of the pair being merged. */
  private lo = 0
  private i = 0
  private j = 0
  private k = 0
  private merging = false
  private sortedRuns = false
  private finished: boolean

  /** Sorts `items` in place or into a new array (read `result` once `step` returned true). */
  constructor(items: T[], private readonly cmp: (a: T, b: T) => number) {
    this.src = items
    this.dst = []
    this.finished = items.length <= 1
  }

  get result(): T[] {
    return this.src
  }

  /** Does about `budget` comparisons' worth of work; true once the items are sorted. */
  step(budget: number): boolean {
    if (this.finished) return true
    const n = this.src.length
    const cmp = this.cmp
    let work = 0
    if (!this.sortedRuns) {
      while (this.lo < n && work < budget) {
        const hi = Math.min(this.lo + RUN, n)
        const run = this.src.slice(this.lo, hi).sort(cmp)
        for (let x = 0; x < run.length; x++) this.src[this.lo + x] = run[x]
        work += (hi - this.lo) * 10
        this.lo = hi
      }
      if (this.lo < n) return false
      this.sortedRuns = true
      this.lo = 0
      if (n <= RUN) {
        this.finished = true
        return true
      }
      this.dst = new Array<T>(n)
    }
    const src = this.src
    const dst = this.dst
    while (work < budget) {
      if (!this.merging) {
        if (this.lo >= n) {
          // One pass done: the merged runs are twice as wide.
          this.src = dst
          this.dst = src
          this.width *= 2
          this.lo = 0
          if (this.width >= n) {
            this.finished = true
            this.dst = []
            return true
          }
          return false
        }
        this.i = this.lo
        this.j = Math.min(this.lo + this.width, n)
        this.k = this.lo
        this.merging = true
      }
      const mid = Math.min(this.lo + this.width, n)
      const hi = Math.min(this.lo + 2 * this.width, n)
      let { i, j, k } = this
      const stop = Math.min(hi, k + (budget - work))
      while (k < stop) {
        if (i < mid && (j >= hi || cmp(src[i], src[j]) <= 0)) dst[k++] = src[i++]
        else dst[k++] = src[j++]
      }
      work += k - this.k
      this.i = i
      this.j = j
      this.k = k
      if (k === hi) {
        this.merging = false
        this.lo = hi
      }
    }
    return false
  }
}
