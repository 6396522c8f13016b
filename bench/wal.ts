// WAL benchmark (`npm run bench:wal`): appends/s and per-batch latency (p50/p99) for batch sizes
// 1, 16 and 128 of ~300-byte entries in both sync modes, group-commit rows (many concurrent
// single-entry writers, each awaiting its own saveAndSync), beside the raw fdatasync rate of the same disk (blocking fs.fdatasyncSync
// and fs/promises FileHandle.datasync). Bounded to ~20 s.
// Env: BENCH_DIR picks the disk (default: the OS tmp dir), BENCH_MS the time per row (default
// 1500). Each row runs in ROUNDS slices interleaved with the other rows, so a burst of load from
// other processes on the machine skews every row alike instead of one.
// Must not: leave files behind or run without a time bound.

import fs from 'node:fs'
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { EntryType, type Entry } from '../server/raft/types.js'
import { Wal } from '../server/wal/wal.js'

const ROW_MS = Number(process.env.BENCH_MS ?? 1400)
const ROUNDS = 5
const base = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'raftkv-bench-wal-'))

interface Tally {
  ops: number
  fsyncs: number
  lat: number[]
  ms: number
}

interface Case {
  name: string
  open(): Promise<void>
  /** Runs for about ms and adds to the tally. */
  slice(ms: number, t: Tally): Promise<void>
  close(): Promise<void>
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
}

function makeEntry(index: number): Entry {
  const head = `{"action":"set","key":"/bench/k${index % 1000}","value":"`
  return { index, term: 1, type: EntryType.Normal, data: head + 'v'.repeat(300 - head.length - 2) + '"}' }
}

/** Raw: 512-byte write + fdatasync at increasing offsets of a preallocated (sparse) file. */
function rawCase(kind: 'sync' | 'promise'): Case {
  const file = path.join(base, `raw-${kind}`)
  const buf = Buffer.alloc(512, 7)
  let fd = -1
  let fh: fsp.FileHandle | undefined
  let off = 0
  return {
    name: `raw write+fdatasync (${kind === 'sync' ? 'fdatasyncSync' : 'fs/promises'})`,
    async open() {
      if (kind === 'sync') {
        fd = fs.openSync(file, 'w+')
        fs.ftruncateSync(fd, 64 << 20)
      } else {
        fh = await fsp.open(file, 'w+')
        await fh.truncate(64 << 20)
      }
    },
    async slice(ms, t) {
      const end = performance.now() + ms
      while (performance.now() < end) {
        const s = performance.now()
        if (fh) {
          await fh.write(buf, 0, buf.length, off)
          await fh.datasync()
        } else {
          fs.writeSync(fd, buf, 0, buf.length, off)
          fs.fdatasyncSync(fd)
        }
        t.lat.push(performance.now() - s)
        t.ops++
        t.fsyncs++
        off += buf.length
      }
    },
    async close() {
      if (fh) await fh.close()
      else fs.closeSync(fd)
      fs.rmSync(file)
    },
  }
}

/** Sequential batches: save(batch) + sync(); latency per batch. */
function walCase(mode: 'async' | 'blocking', batch: number): Case {
  const dir = path.join(base, `wal-${mode}-${batch}`)
  let w: Wal
  let syncs = 0
  let next = 1
  return {
    name: `wal ${mode.padEnd(8)} batch ${String(batch).padStart(3)}`,
    async open() {
      w = Wal.create(dir, { memberId: 'bench', clusterId: 'bench' }, { syncMode: mode, onSync: () => syncs++ })
    },
    async slice(ms, t) {
      const s0 = syncs
      const end = performance.now() + ms
      while (performance.now() < end) {
        const ents: Entry[] = []
        for (let i = 0; i < batch; i++) ents.push(makeEntry(next++))
        const s = performance.now()
        w.save({ term: 1, vote: 'bench', commit: next - 1 }, ents)
        await w.sync()
        t.lat.push(performance.now() - s)
        t.ops += batch
      }
      t.fsyncs += syncs - s0
    },
    async close() {
      await w.close()
      fs.rmSync(dir, { recursive: true })
    },
  }
}

/** Group commit: `writers` concurrent loops, each saveAndSync of one entry; latency per entry. */
function concurrentCase(mode: 'async' | 'blocking', writers: number): Case {
  const dir = path.join(base, `wal-concurrent-${mode}-${writers}`)
  let w: Wal
  let syncs = 0
  let next = 1
  return {
    name: `wal ${mode.padEnd(8)} ${writers} writers x 1 entry (group)`,
    async open() {
      w = Wal.create(dir, { memberId: 'bench', clusterId: 'bench' }, { syncMode: mode, onSync: () => syncs++ })
    },
    async slice(ms, t) {
      const s0 = syncs
      const end = performance.now() + ms
      await Promise.all(
        Array.from({ length: writers }, async () => {
          while (performance.now() < end) {
            const s = performance.now()
            await w.saveAndSync(undefined, [makeEntry(next++)])
            t.lat.push(performance.now() - s)
            t.ops++
          }
        }),
      )
      t.fsyncs += syncs - s0
    },
    async close() {
      await w.close()
      fs.rmSync(dir, { recursive: true })
    },
  }
}

const cases: Case[] = [rawCase('sync'), rawCase('promise')]
for (const mode of ['async', 'blocking'] as const) for (const b of [1, 16, 128]) cases.push(walCase(mode, b))
for (const mode of ['async', 'blocking'] as const) cases.push(concurrentCase(mode, 64))

const started = performance.now()
console.log(`raftkv WAL bench: node ${process.version}, dir ${base}, ${ROW_MS} ms per row in ${ROUNDS} slices, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`)
const tallies = cases.map((): Tally => ({ ops: 0, fsyncs: 0, lat: [], ms: 0 }))
try {
  for (const c of cases) await c.open()
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < cases.length; i++) {
      const s = performance.now()
      await cases[i].slice(ROW_MS / ROUNDS, tallies[i])
      tallies[i].ms += performance.now() - s
    }
  }
  for (const c of cases) await c.close()
} finally {
  fs.rmSync(base, { recursive: true, force: true })
}
console.log(`${'case'.padEnd(44)} ${'appends/s'.padStart(10)} ${'fsyncs/s'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}`)
const rate: number[] = []
cases.forEach((c, i) => {
  const t = tallies[i]
  const secs = t.ms / 1000
  t.lat.sort((a, b) => a - b)
  rate.push(t.ops / secs)
  console.log(`${c.name.padEnd(44)} ${fmt(t.ops / secs).padStart(10)} ${fmt(t.fsyncs / secs).padStart(9)} ${fmt(pct(t.lat, 50), 3).padStart(8)} ${fmt(pct(t.lat, 99), 3).padStart(8)}`)
})
console.log(
  `(latency per batch (per entry for the group row); entries 300 bytes; raw fdatasyncSync/promise rate ${(rate[0] / rate[1]).toFixed(2)}x; ` +
    `${((performance.now() - started) / 1000).toFixed(1)} s, load average now ${os.loadavg()[0].toFixed(1)})`,
)
