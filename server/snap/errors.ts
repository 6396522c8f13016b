// Typed errors of the snapshotter. Callers branch on `code`.

/** A snapshot file failed its checks (crc, framing, name vs content). */
export class SnapCorruptError extends Error {
  readonly code = 'SNAP_CORRUPT'
  constructor(readonly file: string, reason: string) {
    super(`snapshot corrupt: ${file}: ${reason}`)
    this.name = 'SnapCorruptError'
  }
}
