// Always-on invariant checks for the consensus core. A broken invariant is a bug: it throws
// InvariantError and the process should crash rather than continue with a corrupt log.
// No I/O here.

/** Thrown when an internal invariant of the Raft core is violated (a bug, never an expected condition). */
export class InvariantError extends Error {
  readonly code = 'RAFT_INVARIANT'
  constructor(message: string) {
    super(message)
    this.name = 'InvariantError'
  }
}

/** Throws InvariantError with `message` when `cond` is false. */
export function assert(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new InvariantError(typeof message === 'string' ? message : message())
}
