// Segment file names and directory helpers for the WAL: `<seq 16 hex>-<index 16 hex>.wal`, where
// seq counts segments from 0 and index is the index of the first entry expected in the segment
// (last written index + 1 at the time it was created), exactly as etcd names them.
// Must not: read or write records (record.ts, reader.ts and wal.ts do).

import fs from 'node:fs'
import path from 'node:path'
import { WalCorruptError } from './errors.js'

export interface SegmentName {
  seq: number
  index: number
  name: string
}

function hex16(n: number): string {
  return n.toString(16).padStart(16, '0')
}

export function segmentName(seq: number, index: number): string {
  return `${hex16(seq)}-${hex16(index)}.wal`
}

const NAME_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/

export function parseSegmentName(name: string): SegmentName | undefined {
  const m = NAME_RE.exec(name)
  if (!m) return undefined
  return { seq: parseInt(m[1], 16), index: parseInt(m[2], 16), name }
}

/** True when dir holds at least one segment file. */
export function hasSegments(dir: string): boolean {
  try {
    return fs.readdirSync(dir).some((n) => parseSegmentName(n) !== undefined)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw e
  }
}

/**
 * Segment files of dir ordered by seq. Throws WalCorruptError when seq numbers have a gap (a
 * segment in the middle was lost) or two segments are out of index order. Leftover `.tmp` files
 * from a crash while creating a segment are removed (they were never renamed, so never used).
 */
export function listSegments(dir: string): SegmentName[] {
  const names = fs.readdirSync(dir)
  for (const n of names) {
    if (n.endsWith('.wal.tmp')) fs.rmSync(path.join(dir, n), { force: true })
  }
  const segs = names.map(parseSegmentName).filter((s): s is SegmentName => s !== undefined)
  segs.sort((a, b) => a.seq - b.seq)
  for (let i = 1; i < segs.length; i++) {
    if (segs[i].seq !== segs[i - 1].seq + 1) {
      throw new WalCorruptError(`segment sequence jumps from ${segs[i - 1].name} to ${segs[i].name} (a segment is missing)`, dir, -1)
    }
  }
  return segs
}

/** fsync a directory so a create, rename or unlink in it is durable. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r')
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/** mkdir -p that also fsyncs each parent it had to create an entry in. */
export function mkdirDurable(dir: string): void {
  const abs = path.resolve(dir)
  if (fs.existsSync(abs)) return
  mkdirDurable(path.dirname(abs))
  fs.mkdirSync(abs)
  fsyncDir(path.dirname(abs))
}
