// Typed errors of the snapshotter. Callers branch on `code`.
import { errnoOf, type StorageFailure } from '../wal/errors.js'

/** A snapshot file failed its checks (crc, framing, name vs content). */
export class SnapCorruptError extends Error {
  readonly code = 'SNAP_CORRUPT'
  constructor(readonly file: string, reason: string) {
    super(`snapshot corrupt: ${file}: ${reason}`)
    this.name = 'SnapCorruptError'
  }
}

/**
 * Writing a snapshot failed (disk full, I/O error). Nothing refers to the file yet (its WAL marker
 * is written only after it is durable), but the disk is failing: the member must stop.
 */
export class SnapFailedError extends Error implements StorageFailure {
  readonly code = 'SNAP_FAILED'
  readonly errno: string
  constructor(override readonly cause: unknown, readonly op: string, readonly file: string) {
    super(`snapshot failed during ${op} of ${file}: ${cause instanceof Error ? cause.message : String(cause)}`)
    this.name = 'SnapFailedError'
    this.errno = errnoOf(cause)
  }
}
