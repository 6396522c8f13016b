// Snapshot files: one CRC-checked file per snapshot, `<term 16 hex>-<index 16 hex>.snap` in the
// snap directory (etcd's naming), written atomically, loaded newest-valid-first, pruned to N.
//
// File format (little-endian):
//   0  8 bytes  magic "RKVSNAP1"
//   8  u32      crc: zlib.crc32 of every byte from offset 12 to the end
//   12 u32      metaLen
//   16 metaLen  JSON of SnapshotMetadata {index, term, conf}
//   ..          data (utf8) to the end of the file
// A short or damaged file fails the crc, so there is no separate length for the data.
//
// Durability order (as etcd): save the snapshot file first, then the WAL marker for it, then sync
// the WAL. A crash in between leaves an orphan file that loadNewest() ignores when given the WAL's
// markers; a marker never points at a file that was not durable.
// Must not: know about the WAL's files, or delete anything but old/temporary snapshot files.

import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { crc32 } from 'node:zlib'
import type { Snapshot, SnapshotMetadata } from '../raft/types.js'
import { fsyncDir, mkdirDurable } from '../wal/segment.js'
import { realIo, type WalIo } from '../wal/io.js'
import { SnapCorruptError, SnapFailedError } from './errors.js'

export { SnapCorruptError, SnapFailedError } from './errors.js'

const MAGIC = Buffer.from('RKVSNAP1', 'latin1')
const NAME_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/

export const DEFAULT_KEEP_SNAPSHOTS = 5

export interface SnapshotterOptions {
  /** How many snapshot files to keep (newest first); 0 keeps all. Default 5 (etcd --max-snapshots). */
  keep?: number
  /** Warnings (corrupt snapshot skipped). Default: console.warn. */
  warn?: (msg: string) => void
  /** Writes and syncs of save() go through this (tests inject ENOSPC / EIO). Default: the real file system. */
  io?: WalIo
}

/** A snapshot file found on disk. */
export interface SnapFile {
  index: number
  term: number
  path: string
}

function hex16(n: number): string {
  return n.toString(16).padStart(16, '0')
}

/** `<term 16 hex>-<index 16 hex>.snap` */
export function snapFileName(term: number, index: number): string {
  return `${hex16(term)}-${hex16(index)}.snap`
}

/** Encodes a snapshot into the file format above (in one go; save() writes it in pieces). */
export function encodeSnapshotFile(snap: Snapshot): Buffer {
  const head = fileHead(snap)
  const dataLen = Buffer.byteLength(snap.data, 'utf8')
  const buf = Buffer.allocUnsafe(head.length + dataLen)
  head.copy(buf, 0)
  buf.write(snap.data, head.length, dataLen, 'utf8')
  buf.writeUInt32LE(crc32(buf.subarray(12)), 8)
  return buf
}

/** Magic, crc 0 (to be filled in), metaLen, metadata JSON. */
function fileHead(snap: Snapshot): Buffer {
  const meta = JSON.stringify(snap.metadata)
  const metaLen = Buffer.byteLength(meta, 'utf8')
  const head = Buffer.alloc(16 + metaLen)
  MAGIC.copy(head, 0)
  head.writeUInt32LE(metaLen, 12)
  head.write(meta, 16, metaLen, 'utf8')
  return head
}

/** Characters of data encoded per file write (about 1 MiB of ASCII): one bounded synchronous step. */
const WRITE_CHARS = 1 << 20

export interface SaveOptions {
  /**
   * snap.data in pieces (concatenated they must equal it), e.g. as an encoder produced them: the
   * file is written piece by piece, so a data string built by concatenation is never flattened
   * into one copy. Default: snap.data cut into pieces.
   */
  dataChunks?: readonly string[]
}


/**
 * Writes the file format to fh: the data in steps of at most ~2 * WRITE_CHARS characters (each one
 * utf8 encoding into a reused buffer, a crc32 update and an awaited write), then the head with the
 * crc. The bytes equal encodeSnapshotFile(snap).
 */
async function writeSnapshotFile(io: WalIo, fd: number, snap: Snapshot, chunks: readonly string[]): Promise<void> {
  const head = fileHead(snap)
  let crc = crc32(head.subarray(12))
  let pos = head.length
  let scratch = Buffer.allocUnsafe(0)
  let acc = ''
  const flush = async (): Promise<void> => {
    const s = acc
    acc = ''
    if (s.length === 0) return
    if (scratch.length < 3 * s.length) scratch = Buffer.allocUnsafe(3 * Math.max(s.length, WRITE_CHARS))
    const n = scratch.write(s, 0, 'utf8')
    crc = crc32(scratch.subarray(0, n), crc)
    await io.write(fd, scratch.subarray(0, n), pos)
    pos += n
  }
  for (const piece of chunks) {
    for (let off = 0; off < piece.length; off += WRITE_CHARS) {
      acc += off === 0 && piece.length <= WRITE_CHARS ? piece : piece.slice(off, off + WRITE_CHARS)
      if (acc.length < WRITE_CHARS) continue
      // Never cut a surrogate pair in two (each half alone would encode as U+FFFD).
      const last = acc.charCodeAt(acc.length - 1)
      if (last >= 0xd800 && last <= 0xdbff) {
        const keep = acc.slice(-1)
        acc = acc.slice(0, -1)
        await flush()
        acc = keep
      } else await flush()
    }
  }
  await flush()
  head.writeUInt32LE(crc >>> 0, 8)
  await io.write(fd, head, 0)
}

/** Decodes and checks a snapshot file's bytes; throws SnapCorruptError naming file. */
export function decodeSnapshotFile(buf: Buffer, file: string): Snapshot {
  if (buf.length < 16 || !buf.subarray(0, 8).equals(MAGIC)) throw new SnapCorruptError(file, 'bad magic or too short')
  if (crc32(buf.subarray(12)) !== buf.readUInt32LE(8)) throw new SnapCorruptError(file, 'crc mismatch')
  const metaLen = buf.readUInt32LE(12)
  if (16 + metaLen > buf.length) throw new SnapCorruptError(file, 'metadata runs past the end')
  let metadata: SnapshotMetadata
  try {
    metadata = JSON.parse(buf.toString('utf8', 16, 16 + metaLen)) as SnapshotMetadata
  } catch (e) {
    throw new SnapCorruptError(file, `bad metadata: ${(e as Error).message}`)
  }
  if (typeof metadata?.index !== 'number' || typeof metadata.term !== 'number' || !Array.isArray(metadata.conf?.voters)) {
    throw new SnapCorruptError(file, 'metadata lacks index/term/conf')
  }
  return { metadata, data: buf.toString('utf8', 16 + metaLen) }
}

/** Snapshots whose data lives in their file only (pageOut), and that file. */
const pagedOut = new WeakMap<Snapshot, string>()

/**
 * Pages a saved snapshot's data out to its file: `snap.data` becomes a getter that reads (and
 * checks) the file each time the data is needed again (a leader sending it to a follower), so a
 * member does not keep a second copy of its whole state in memory beside the state itself.
 * `once`: the text as it is now, handed to the first read instead of reading the file (for a
 * restore about to happen). Its pieces go too. Assigning `snap.data` makes it an ordinary field again.
 */
export function pageOut(snap: Snapshot, file: string, once?: string): void {
  let first = once
  delete snap.pieces
  Object.defineProperty(snap, 'data', {
    enumerable: true,
    configurable: true,
    get: (): string => {
      if (first === undefined) return readSnapshotData(file, snap.metadata)
      const s = first
      first = undefined
      return s
    },
    set: (v: string): void => {
      pagedOut.delete(snap)
      Object.defineProperty(snap, 'data', { value: v, writable: true, enumerable: true, configurable: true })
    },
  })
  pagedOut.set(snap, file)
}

/** The file a paged-out snapshot's data is in (undefined: the data is in memory). */
export function pagedOutFile(snap: Snapshot): string | undefined {
  return pagedOut.get(snap)
}

/** Reads and checks a snapshot file's data, which must be the snapshot described by `expect`. */
function readSnapshotData(file: string, expect: SnapshotMetadata): string {
  const snap = decodeSnapshotFile(fs.readFileSync(file), file)
  checkSame(file, snap.metadata, expect)
  return snap.data
}

function checkSame(file: string, got: SnapshotMetadata, expect: SnapshotMetadata): void {
  if (got.index !== expect.index || got.term !== expect.term) {
    throw new SnapCorruptError(file, `holds index ${got.index} term ${got.term}, expected index ${expect.index} term ${expect.term}`)
  }
}

/**
 * A snapshot file's data as a stream of chunks of at most `chunkBytes`, read as it is consumed;
 * the crc is checked before the last chunk is handed out, so a consumer that sees the stream end
 * has every byte intact (a damaged file ends it with SnapCorruptError instead).
 */
export async function* snapshotDataChunks(file: string, expect: SnapshotMetadata, chunkBytes = WRITE_CHARS): AsyncGenerator<Buffer> {
  const fh = await fsp.open(file, 'r')
  try {
    const head = Buffer.alloc(16)
    const { bytesRead } = await fh.read(head, 0, 16, 0)
    if (bytesRead < 16 || !head.subarray(0, 8).equals(MAGIC)) throw new SnapCorruptError(file, 'bad magic or too short')
    const want = head.readUInt32LE(8)
    const metaLen = head.readUInt32LE(12)
    const meta = Buffer.alloc(metaLen)
    if ((await fh.read(meta, 0, metaLen, 16)).bytesRead < metaLen) throw new SnapCorruptError(file, 'metadata runs past the end')
    let crc = crc32(meta, crc32(head.subarray(12)))
    let got: SnapshotMetadata
    try {
      got = JSON.parse(meta.toString('utf8')) as SnapshotMetadata
    } catch (e) {
      throw new SnapCorruptError(file, `bad metadata: ${(e as Error).message}`)
    }
    checkSame(file, got, expect)
    let pos = 16 + metaLen
    let held: Buffer | undefined
    for (;;) {
      const buf = Buffer.allocUnsafe(chunkBytes)
      const n = (await fh.read(buf, 0, chunkBytes, pos)).bytesRead
      if (n === 0) break
      const chunk = buf.subarray(0, n)
      crc = crc32(chunk, crc)
      pos += n
      if (held !== undefined) yield held
      held = chunk
    }
    if (crc >>> 0 !== want) throw new SnapCorruptError(file, 'crc mismatch')
    if (held !== undefined) yield held
  } finally {
    await fh.close()
  }
}

export class Snapshotter {
  private readonly keep: number
  private readonly warn: (msg: string) => void
  private readonly io: WalIo

  /** Creates dir if needed (durably) and removes temporary files a crash left behind. */
  constructor(readonly dir: string, opts: SnapshotterOptions = {}) {
    this.keep = opts.keep ?? DEFAULT_KEEP_SNAPSHOTS
    this.warn = opts.warn ?? ((m) => console.warn(m))
    this.io = opts.io ?? realIo
    mkdirDurable(dir)
    for (const n of fs.readdirSync(dir)) if (n.endsWith('.snap.tmp')) fs.rmSync(path.join(dir, n), { force: true })
  }

  /** Snapshot files by name, newest (highest index, then term) first. Does not read them. */
  list(): SnapFile[] {
    const out: SnapFile[] = []
    for (const n of fs.readdirSync(this.dir)) {
      const m = NAME_RE.exec(n)
      if (m) out.push({ term: parseInt(m[1], 16), index: parseInt(m[2], 16), path: path.join(this.dir, n) })
    }
    return out.sort((a, b) => b.index - a.index || b.term - a.term)
  }

  /**
   * Writes snap durably: to `<name>.tmp`, fdatasync, rename, fsync the directory; then prunes old
   * files down to `keep`. Resolves with the file's path once it is durable. The data is encoded and
   * written in bounded pieces (awaiting each write), so a big snapshot never blocks the event loop
   * for long. Rejects with SnapFailedError (file, operation, errno) when the file system fails; the
   * temporary file is removed then.
   */
  async save(snap: Snapshot, opts: SaveOptions = {}): Promise<string> {
    const file = path.join(this.dir, snapFileName(snap.metadata.term, snap.metadata.index))
    const tmp = file + '.tmp'
    let op = 'create'
    let at = tmp
    try {
      const fh = await fsp.open(tmp, 'w')
      try {
        op = 'write'
        await writeSnapshotFile(this.io, fh.fd, snap, opts.dataChunks ?? [snap.data])
        op = 'fdatasync'
        await this.io.fdatasync(fh.fd)
      } finally {
        await fh.close()
      }
      op = 'rename'
      await fsp.rename(tmp, file)
      op = 'fsync dir'
      at = this.dir
      fsyncDir(this.dir)
      op = 'prune'
      this.prune()
    } catch (e) {
      if (op === 'write' || op === 'fdatasync') {
        try {
          fs.rmSync(tmp, { force: true })
        } catch {
          // the disk is failing; the error below is what matters
        }
      }
      throw new SnapFailedError(e, op, at)
    }
    return file
  }

  /** Reads and checks one snapshot file (throws SnapCorruptError). */
  load(file: string): Snapshot {
    const snap = decodeSnapshotFile(fs.readFileSync(file), file)
    const m = NAME_RE.exec(path.basename(file))
    if (m && (parseInt(m[1], 16) !== snap.metadata.term || parseInt(m[2], 16) !== snap.metadata.index)) {
      throw new SnapCorruptError(file, `name says term ${parseInt(m[1], 16)} index ${parseInt(m[2], 16)}, content says term ${snap.metadata.term} index ${snap.metadata.index}`)
    }
    return snap
  }

  /**
   * The newest snapshot that passes its checks, or undefined if there is none. With walMarkers
   * (Wal.snapshotMarkers()), only snapshots the WAL has a marker for are considered, so recovery
   * never starts from a snapshot the log cannot continue. A corrupt file is renamed to
   * `<name>.broken` with a warning and the next older one is tried.
   */
  loadNewest(opts: { walMarkers?: readonly { index: number; term: number }[] } = {}): Snapshot | undefined {
    return this.loadNewestFile(opts)?.snapshot
  }

  /** loadNewest(), and the file the snapshot was read from. */
  loadNewestFile(opts: { walMarkers?: readonly { index: number; term: number }[] } = {}): { snapshot: Snapshot; file: string } | undefined {
    const markers = opts.walMarkers && new Set(opts.walMarkers.map((m) => `${m.index}/${m.term}`))
    for (const f of this.list()) {
      if (markers && !markers.has(`${f.index}/${f.term}`)) continue
      try {
        return { snapshot: this.load(f.path), file: f.path }
      } catch (e) {
        if (!(e instanceof SnapCorruptError)) throw e
        this.warn(`snap: skipping ${e.message}; renamed to ${path.basename(f.path)}.broken`)
        fs.renameSync(f.path, f.path + '.broken')
      }
    }
    return undefined
  }

  /** Deletes all but the newest `keep` snapshot files (keep 0: none). Returns the deleted paths. */
  prune(): string[] {
    if (this.keep <= 0) return []
    const old = this.list().slice(this.keep)
    for (const f of old) fs.rmSync(f.path, { force: true })
    if (old.length) fsyncDir(this.dir)
    return old.map((f) => f.path)
  }
}
