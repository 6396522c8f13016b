// Requests waiting for the Raft loop: proposals and member changes wait until their entry is
// applied (keyed by request id), quorum reads until the applied index reaches their read point.
// One waiter type and one set of deadline/fail rules for all of them.

export interface Waiter<T> {
  resolve: (v: T) => void
  reject: (e: Error) => void
  /** Clock time (ms) after which the request fails as timed out. */
  deadline: number
}

/** Waiters keyed by request id (proposals and member changes share the id space). */
export class Waiters {
  private readonly byId = new Map<string, Waiter<unknown>>()

  /** A promise settled by settle(id, ...) or fail(id, ...), or rejected at expire() after deadline. */
  wait<T>(id: string, deadline: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.byId.set(id, { resolve: resolve as (v: unknown) => void, reject, deadline })
    })
  }

  has(id: string): boolean {
    return this.byId.has(id)
  }

  get size(): number {
    return this.byId.size
  }

  /** Resolves the waiter of `id` (if any, e.g. not on another member) with v. */
  settle(id: string, v: unknown): void {
    const w = this.byId.get(id)
    if (!w) return
    this.byId.delete(id)
    w.resolve(v)
  }

  /** Rejects the waiter of `id` (if any). */
  fail(id: string, err: Error): void {
    const w = this.byId.get(id)
    if (!w) return
    this.byId.delete(id)
    w.reject(err)
  }

  /** Rejects every waiter whose deadline passed; returns how many. */
  expire(now: number, err: () => Error): number {
    let n = 0
    for (const [id, w] of this.byId) {
      if (w.deadline > now) continue
      this.byId.delete(id)
      w.reject(err())
      n++
    }
    return n
  }

  /** Rejects every waiter; returns how many there were. */
  failAll(err: Error): number {
    const n = this.byId.size
    for (const w of this.byId.values()) w.reject(err)
    this.byId.clear()
    return n
  }
}

/** Keeps the waiters of `list` whose deadline has not passed, rejecting the others. */
export function expireList<T>(list: Waiter<T>[], now: number, err: () => Error): Waiter<T>[] {
  let expired = false
  for (const w of list) if (w.deadline <= now) expired = true
  if (!expired) return list
  return list.filter((w) => (w.deadline > now ? true : (w.reject(err()), false)))
}
