// The operation history of a fault run: every client op is recorded when invoked and again when it
// completes as ok, fail (a definite "did not happen", e.g. 412 compare failed) or unknown (timeout,
// dropped connection, 5xx: it may or may not have taken effect). No I/O here.

/** Register operations on one key. Values are unique per write, so a value names the write. */
export type RegisterOp =
  | { f: 'read' }
  | { f: 'write'; value: string }
  /** Compare-and-set: succeeds iff the current value equals `expect`. prevIndex CAS is mapped to this. */
  | { f: 'cas'; expect: string; value: string; byIndex?: number }

export type Outcome = 'ok' | 'fail' | 'unknown'

/** One completed (or never-completed) register op. Times are ms on a monotonic clock. */
export interface RegisterEntry {
  id: number
  client: number
  key: string
  member: string
  op: RegisterOp
  invokeMs: number
  /** Infinity while pending and for unknown outcomes: it may take effect at any later time. */
  returnMs: number
  outcome: Outcome
  /** For ok reads: the value read (null = key absent). */
  readValue?: string | null
  /** For ok writes/cas, and ok reads of a present key: the node's modifiedIndex. */
  modifiedIndex?: number
  /** A failed op that was rejected without observing the register (e.g. connection refused). */
  rejected?: boolean
  /** Short reason for fail/unknown (status code, error code, 'timeout', ...). */
  detail?: string
}

/** One append (POST in-order key) op. */
export interface AppendEntry {
  id: number
  client: number
  member: string
  value: string
  invokeMs: number
  returnMs: number
  outcome: Outcome
  /** Key the server created, for ok appends. */
  createdKey?: string
  detail?: string
}

/** Collects ops as they are invoked and completed. */
export class History {
  readonly registers: RegisterEntry[] = []
  readonly appends: AppendEntry[] = []
  private nextId = 0
  private readonly t0 = performance.now()

  /** Milliseconds since the history started (monotonic). */
  now(): number {
    return performance.now() - this.t0
  }

  invokeRegister(client: number, key: string, member: string, op: RegisterOp): RegisterEntry {
    const e: RegisterEntry = { id: this.nextId++, client, key, member, op, invokeMs: this.now(), returnMs: Infinity, outcome: 'unknown' }
    this.registers.push(e)
    return e
  }

  invokeAppend(client: number, member: string, value: string): AppendEntry {
    const e: AppendEntry = { id: this.nextId++, client, member, value, invokeMs: this.now(), returnMs: Infinity, outcome: 'unknown' }
    this.appends.push(e)
    return e
  }

  /** Marks an op complete. Unknown outcomes keep returnMs = Infinity on purpose. */
  complete(e: RegisterEntry | AppendEntry, outcome: Outcome, detail?: string): void {
    e.outcome = outcome
    if (outcome !== 'unknown') e.returnMs = this.now()
    if (detail !== undefined) e.detail = detail
  }

  /** Counts by outcome over all ops. */
  counts(): { ok: number; fail: number; unknown: number; total: number } {
    const c = { ok: 0, fail: 0, unknown: 0, total: 0 }
    for (const e of [...this.registers, ...this.appends]) {
      c[e.outcome]++
      c.total++
    }
    return c
  }
}
