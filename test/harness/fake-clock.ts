// A fake clock and event queue for deterministic simulation: timers fire in (time, seq) order
// when the test advances time; nothing ever waits on real time.

interface Timer {
  at: number
  seq: number
  fn: () => void
  cancelled: boolean
}

export class FakeClock {
  private t = 0
  private seq = 0
  private heap: Timer[] = []

  now(): number {
    return this.t
  }

  /** Runs fn at now()+delayMs (same-time timers run in scheduling order). Returns a cancel function. */
  setTimeout(fn: () => void, delayMs: number): () => void {
    const timer: Timer = { at: this.t + Math.max(0, delayMs), seq: this.seq++, fn, cancelled: false }
    this.push(timer)
    return () => { timer.cancelled = true }
  }

  /** Runs fn every intervalMs, the first time after firstDelayMs (default intervalMs). */
  every(intervalMs: number, fn: () => void, firstDelayMs = intervalMs): () => void {
    let cancelled = false
    const run = () => {
      if (cancelled) return
      fn()
      if (!cancelled) this.setTimeout(run, intervalMs)
    }
    this.setTimeout(run, firstDelayMs)
    return () => { cancelled = true }
  }

  /** Runs the next due timer (advancing time to it); false if none is due by `until`. */
  step(until = Infinity): boolean {
    for (;;) {
      const top = this.heap[0]
      if (!top || top.at > until) return false
      this.pop()
      if (top.cancelled) continue
      this.t = top.at
      top.fn()
      return true
    }
  }

  /** Advances time by ms, running every timer due meanwhile. */
  advance(ms: number): void {
    const until = this.t + ms
    while (this.step(until)) { /* run */ }
    this.t = until
  }

  get pending(): number {
    return this.heap.length
  }

  private less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq)
  }

  private push(x: Timer): void {
    const h = this.heap
    h.push(x)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(h[i]!, h[p]!)) break
      ;[h[i], h[p]] = [h[p]!, h[i]!]
      i = p
    }
  }

  private pop(): Timer | undefined {
    const h = this.heap
    const top = h[0]
    const last = h.pop()!
    if (h.length > 0) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r
        if (m === i) break
        ;[h[i], h[m]] = [h[m]!, h[i]!]
        i = m
      }
    }
    return top
  }
}
