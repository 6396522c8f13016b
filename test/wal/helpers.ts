// Shared helpers for the WAL and snapshot tests: temp dirs, deterministic entries, frame walking.
import fs from 'node:fs'
import path from 'node:path'
import { EntryType, type Entry } from '../../server/raft/types.js'
import { HEADER_SIZE, readFrame, type RecordType } from '../../server/wal/record.js'
import { tempDir } from '../support/tmp.js'

export { tempDir, removeDir as cleanup } from '../support/tmp.js'

/** The data an entry at index carries in these tests: recognisable, ~size bytes. */
export function dataFor(index: number, size = 300): string {
  const head = `v${index}:`
  return head + 'x'.repeat(Math.max(0, size - head.length))
}

export function entry(index: number, term = 1, size = 300): Entry {
  return { index, term, type: EntryType.Normal, data: dataFor(index, size) }
}

export function entries(from: number, to: number, term = 1, size = 300): Entry[] {
  const out: Entry[] = []
  for (let i = from; i <= to; i++) out.push(entry(i, term, size))
  return out
}

export interface FrameAt {
  offset: number
  end: number
  /** End of the data (start of the zero padding). */
  dataEnd: number
  type: RecordType
}

/** The valid frames of a segment file, in order (stops at the first non-frame). */
export function framesOf(file: string): FrameAt[] {
  const buf = fs.readFileSync(file)
  const out: FrameAt[] = []
  let off = 0
  for (;;) {
    const fr = readFrame(buf, off)
    if (fr.kind !== 'ok') return out
    out.push({ offset: off, end: fr.next, dataEnd: off + HEADER_SIZE + fr.data.length, type: fr.type })
    off = fr.next
  }
}

/** Copies every file of src into a new temp dir (a pristine WAL to damage). */
export function copyDir(src: string, label: string): string {
  const dst = tempDir(label)
  for (const n of fs.readdirSync(src)) fs.copyFileSync(path.join(src, n), path.join(dst, n))
  return dst
}
