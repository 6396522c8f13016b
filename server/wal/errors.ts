// Typed errors of the write-ahead log and the snapshotter. Callers branch on `code`.
// A WalCorruptError at boot means "refuse to start"; a WalFailedError at run time means "stop
// serving writes": nothing after the failure was acknowledged, and the process should restart.

/**
 * The WAL on disk is damaged somewhere other than a torn tail (or is inconsistent: a missing
 * segment, a broken CRC chain, a snapshot the log does not reach). Recovery refuses to start rather
 * than drop data. `file` and `offset` name the first bad byte range when one is known.
 */
export class WalCorruptError extends Error {
  readonly code = 'WAL_CORRUPT'
  constructor(
    message: string,
    /** Absolute path of the damaged file ('' when the problem is not in one file). */
    readonly file: string,
    /** Byte offset of the damaged record inside `file` (-1 when not applicable). */
    readonly offset: number,
  ) {
    super(offset >= 0 ? `wal corrupt: ${file} at offset ${offset}: ${message}` : `wal corrupt: ${file ? file + ': ' : ''}${message}`)
    this.name = 'WalCorruptError'
  }
}

/** What a failed storage operation names: the file, the operation and the errno (for the fatal log line). */
export interface StorageFailure {
  /** Path of the file (or directory) the operation was on; '' when unknown. */
  readonly file: string
  /** The operation: write, fdatasync, rename, ... */
  readonly op: string
  /** The system error code (ENOSPC, EIO, ...), or '' when the cause was not a system error. */
  readonly errno: string
}

/** The system error code of a Node error (`err.code`, e.g. ENOSPC), or ''. */
export function errnoOf(cause: unknown): string {
  const code = (cause as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : ''
}

/** The file, operation and errno of a WAL or snapshot failure, if `err` is one. */
export function storageFailureOf(err: unknown): StorageFailure | undefined {
  if (err instanceof WalFailedError || (err instanceof Error && err.name === 'SnapFailedError')) {
    const f = err as unknown as StorageFailure
    return { file: f.file, op: f.op, errno: f.errno }
  }
  return undefined
}

/**
 * A write or fsync of the WAL failed (disk full, I/O error). The WAL is failed from then on: every
 * later save() throws it and every sync() rejects with it. Data not yet durable was never
 * acknowledged. Retrying an fsync after an error is unsafe on Linux (the page cache may have dropped
 * the dirty pages), so there is no recovery short of reopening the directory after a restart.
 */
export class WalFailedError extends Error implements StorageFailure {
  readonly code = 'WAL_FAILED'
  readonly errno: string
  constructor(override readonly cause: unknown, readonly op: string, readonly file = '') {
    super(`wal failed during ${op}${file ? ` of ${file}` : ''}: ${cause instanceof Error ? cause.message : String(cause)}`)
    this.name = 'WalFailedError'
    this.errno = errnoOf(cause)
  }
}

/** The WAL was closed; no more writes. */
export class WalClosedError extends Error {
  readonly code = 'WAL_CLOSED'
  constructor() {
    super('wal is closed')
    this.name = 'WalClosedError'
  }
}

/** Wal.create() found an existing WAL (refusing to overwrite), or Wal.open() found none. */
export class WalExistsError extends Error {
  readonly code = 'WAL_EXISTS'
  constructor(readonly dir: string) {
    super(`wal already exists in ${dir}`)
    this.name = 'WalExistsError'
  }
}

export class WalNotFoundError extends Error {
  readonly code = 'WAL_NOT_FOUND'
  constructor(readonly dir: string) {
    super(`no wal in ${dir}`)
    this.name = 'WalNotFoundError'
  }
}

/** The snapshot the caller wants to start from has no marker in the WAL, or the WAL does not reach it. */
export class WalSnapshotMismatchError extends Error {
  readonly code = 'WAL_SNAPSHOT_MISMATCH'
  constructor(message: string) {
    super(message)
    this.name = 'WalSnapshotMismatchError'
  }
}
