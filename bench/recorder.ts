// Per-run measurement: operation count, errors and latency samples (every completed operation,
// in a growable Float64Array, so percentiles are exact). No I/O here.

/** Summary of one measured window. Latencies in milliseconds. */
export interface RunStats {
  ops: number
  errors: number
  /** A few distinct error messages, for the report. */
  errorSamples: string[]
  seconds: number
  opsPerSec: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
  p999Ms: number
  maxMs: number
  meanMs: number
  /** Workload-specific counters (retries, conflicts, ...). */
  extra: Record<string, number>
}

/** Collects samples while `measuring` is true; ops completed outside the window are ignored. */
export class Recorder {
  measuring = false
  ops = 0
  errors = 0
  readonly errorSamples: string[] = []
  readonly extra: Record<string, number> = {}
  private samples = new Float64Array(1 << 16)
  private startMs = 0
  private stopMs = 0

  /** Start the window (drops nothing: counters start at zero). */
  start(nowMs: number): void {
    this.measuring = true
    this.startMs = nowMs
  }

  stop(nowMs: number): void {
    if (!this.measuring) return
    this.measuring = false
    this.stopMs = nowMs
  }

  /** One successful operation that took `ms`. */
  ok(ms: number): void {
    if (!this.measuring) return
    if (this.ops === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2)
      grown.set(this.samples)
      this.samples = grown
    }
    this.samples[this.ops++] = ms
  }

  /** One failed operation; `what` describes it (status, error code or transport error). */
  error(what: string): void {
    if (!this.measuring) return
    this.errors++
    if (this.errorSamples.length < 5 && !this.errorSamples.includes(what)) this.errorSamples.push(what)
  }

  /** Bump a workload-specific counter (counted only inside the window). */
  count(name: string, by = 1): void {
    if (!this.measuring) return
    this.extra[name] = (this.extra[name] ?? 0) + by
  }

  summary(): RunStats {
    const n = this.ops
    const sorted = this.samples.slice(0, n).sort()
    const pick = (q: number): number => (n === 0 ? 0 : sorted[Math.min(n - 1, Math.ceil(q * n) - 1)])
    let sum = 0
    for (let i = 0; i < n; i++) sum += sorted[i]
    const seconds = Math.max(1e-9, (this.stopMs - this.startMs) / 1000)
    return {
      ops: n,
      errors: this.errors,
      errorSamples: this.errorSamples,
      seconds,
      opsPerSec: n / seconds,
      p50Ms: pick(0.5),
      p90Ms: pick(0.9),
      p99Ms: pick(0.99),
      p999Ms: pick(0.999),
      maxMs: n === 0 ? 0 : sorted[n - 1],
      meanMs: n === 0 ? 0 : sum / n,
      extra: this.extra,
    }
  }

  /** All samples of the window (for merging rounds). */
  values(): Float64Array {
    return this.samples.slice(0, this.ops)
  }
}

/** Percentile of an ascending-sorted array (nearest-rank). */
export function percentile(sorted: Float64Array, q: number): number {
  const n = sorted.length
  return n === 0 ? 0 : sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]
}
