// A member making a big snapshot of its own state keeps answering writes while the snapshot is
// encoded and written (the Ready loop does not wait for it), the snapshot holds exactly the state
// at its index, and the member restarts from it. Closing the member while a snapshot is in flight
// is clean. In-process members (startServer), real data dirs.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import path from 'node:path'
import { Writable } from 'node:stream'
import { startServer, type RunningServer } from '../../server/index.js'
import { createLogger } from '../../server/log.js'
import { Snapshotter } from '../../server/snap/snapshotter.js'
import { StateMachine } from '../../server/cluster/state-machine.js'
import { StoreEvent } from '../../server/store/index.js'
import { cleanup, tempDir } from '../wal/helpers.js'

type LogLine = Record<string, unknown> & { msg?: string; level?: string; time?: string }

function collectingLogger(lines: LogLine[]): ReturnType<typeof createLogger> {
  const dest = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as LogLine)
      cb()
    },
  })
  return createLogger({ name: 's1' }, { destination: dest, pretty: false })
}

function start(dataDir: string, snapshotCount: number, lines: LogLine[]): Promise<RunningServer> {
  return startServer({ name: 's1', dataDir, listenClientUrls: ['http://127.0.0.1:0'], snapshotCount, logger: collectingLogger(lines) })
}

/** Sets keys prefix0..prefix(n-1) through the backend, `conc` proposals at a time. */
async function preload(s: RunningServer, prefix: string, n: number, value: string, conc = 500): Promise<void> {
  for (let i = 0; i < n; i += conc) {
    const batch: Promise<unknown>[] = []
    for (let j = i; j < Math.min(n, i + conc); j++) batch.push(s.backend.propose({ op: 'set', key: `${prefix}${j}`, value }))
    for (const r of await Promise.all(batch)) assert.instance(r, StoreEvent)
  }
}

async function put(url: string, key: string, value: string): Promise<number> {
  const r = await fetch(`${url}/v2/keys${key}`, { method: 'PUT', body: new URLSearchParams({ value }) })
  assert.ok(r.status === 200 || r.status === 201, `PUT ${key}: ${r.status}`)
  return ((await r.json()) as { node: { modifiedIndex: number } }).node.modifiedIndex
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

test('writes are answered while a big snapshot is made; it holds the state at its index; restart from it', async () => {
  const base = tempDir('member-snap')
  const dataDir = path.join(base, 's1.etcd')
  const lines: LogLine[] = []
  const N = 20_000
  const value = 'v'.repeat(500)
  let s = await start(dataDir, N, lines)
  try {
    await s.ready(10_000)
    await preload(s, '/big/k', N - 50, value)
    // Sequential writes over HTTP until the snapshot is saved (it starts at applied index N).
    const live: { key: string; index: number; at: number }[] = []
    const saved = (): LogLine | undefined => lines.find((l) => l.msg === 'saved snapshot')
    const deadline = Date.now() + 60_000
    let extra = 0
    while (Date.now() < deadline && extra < 20) {
      const key = `/live/${live.length}`
      const index = await put(s.url, key, `w${live.length}`)
      live.push({ key, index, at: Date.now() })
      if (saved()) extra++
    }
    const line = saved()
    assert.ok(line, 'snapshot saved')
    const S = line!.index as number
    assert.ok(S >= N, `snapshot at ${S}`)
    const end = Date.parse(line!.time!)
    const startedAt = end - (line!.ms as number)
    const during = live.filter((w) => w.at >= startedAt && w.at <= end).length
    console.log(`  snapshot: ${JSON.stringify({ index: S, ms: line!.ms, captureMs: line!.captureMs, longestSliceMs: line!.longestSliceMs, slices: line!.slices, encodeMs: line!.encodeMs, chars: line!.chars })}; ${during} writes answered during it`)
    // With the old blocking snapshot nothing at all was answered in that window.
    assert.ok(during >= 3, `${during} writes answered while the snapshot was made`)
    assert.ok((line!.slices as number) > 20, 'encoded in slices')

    // The file holds exactly the state at S: every write up to S, none after.
    const snap = new Snapshotter(path.join(dataDir, 'member', 'snap')).loadNewest()!
    assert.is(snap.metadata.index, S)
    const sm = new StateMachine()
    sm.restore(snap.data, snap.metadata.index, snap.metadata.term)
    assert.is(JSON.parse(snap.data).v, 2)
    for (let i = 0; i < N - 50; i += 997) assert.is(sm.store.get(`/big/k${i}`, {}, Date.now()).node.value, value)
    for (const w of live) {
      let found: number | undefined
      try {
        found = sm.store.get(w.key, {}, Date.now()).node.modifiedIndex
      } catch {
        found = undefined
      }
      assert.is(found, w.index <= S ? w.index : undefined, `${w.key} (index ${w.index}) in the snapshot at ${S}`)
    }

    await s.close()
    s = await start(dataDir, N, lines)
    await s.ready(20_000)
    for (const w of live) assert.is(s.backend.store.get(w.key, {}, Date.now()).node.modifiedIndex, w.index, w.key)
    for (let i = 0; i < N - 50; i += 499) assert.is(s.backend.store.get(`/big/k${i}`, {}, Date.now()).node.value, value)
    const next = await put(s.url, '/after', 'x')
    assert.ok(next > live[live.length - 1].index)
    assert.not.ok(lines.some((l) => l.level === 'error' || l.level === 'fatal'), 'no errors logged')
  } finally {
    await s.close()
    cleanup(base)
  }
})

test('closing the member while its snapshot is in flight is clean; it restarts with every write', async () => {
  const base = tempDir('member-snap-close')
  const dataDir = path.join(base, 's1.etcd')
  const lines: LogLine[] = []
  const N = 3000
  const value = 'v'.repeat(2000)
  let s = await start(dataDir, N, lines)
  let inFlight = false
  const acked: { key: string; index: number }[] = []
  try {
    await s.ready(10_000)
    await preload(s, '/big/k', N - 100, value)
    // The snapshot is captured inside the Ready that applied index N, before that Ready's answers
    // resolve: so right after the write that crossed N it is in flight.
    for (let i = 0; i < 200 && !inFlight; i++) {
      const key = `/live/${i}`
      acked.push({ key, index: await put(s.url, key, value) })
      inFlight = s.backend.status().snapshotting
    }
    assert.ok(inFlight, 'caught the snapshot in flight')
    await s.close()
    assert.not.ok(lines.some((l) => l.level === 'error' || l.level === 'fatal'), 'no errors logged')
    s = await start(dataDir, N, lines)
    await s.ready(20_000)
    for (const w of acked) assert.is(s.backend.store.get(w.key, {}, Date.now()).node.modifiedIndex, w.index, w.key)
    for (let i = 0; i < N - 100; i += 97) assert.is(s.backend.store.get(`/big/k${i}`, {}, Date.now()).node.value, value)
    await sleep(10)
  } finally {
    await s.close()
    cleanup(base)
  }
})

test('a big state written a little is not rewritten every snapshot-count writes, yet is snapshotted once the log has grown', async () => {
  const base = tempDir('member-snap-rate')
  const dataDir = path.join(base, 's1.etcd')
  const lines: LogLine[] = []
  const saves = (): LogLine[] => lines.filter((l) => l.msg === 'saved snapshot')
  const s = await start(dataDir, 100, lines)
  try {
    await s.ready(10_000)
    await preload(s, '/big/k', 2000, 'v'.repeat(2000), 100) // ~4 MB of state
    await sleep(1500) // a snapshot still in flight finishes
    const before = saves().length
    assert.ok(before >= 1, 'the load itself was snapshotted')
    const stateChars = saves().at(-1)!.chars as number
    assert.ok(stateChars > 3_000_000, `snapshot of ${stateChars} chars`)
    // 1000 small writes: ten times the snapshot count, a few percent of the state's size.
    for (let i = 0; i < 10; i++) {
      await preload(s, '/hot/k', 100, 'x', 100)
      await sleep(300) // room for a snapshot each time one is due
    }
    await sleep(500)
    const small = saves().length - before
    assert.ok(small <= 1, `${small} snapshots of the whole state for 1000 small writes`)
    // Once the entries since the last snapshot add up to a quarter of its size, it is taken.
    const atStart = saves().length
    for (let i = 0; i < 20 && saves().length === atStart; i++) {
      await preload(s, '/hot/k', 100, 'y'.repeat(1000), 100)
      await sleep(100)
    }
    assert.ok(saves().length > atStart, 'a snapshot once the log grew by a quarter of the state')
    const last = saves().at(-1)!
    assert.ok((last.logChars as number) >= 0.25 * stateChars, `snapshot after ${last.logChars} chars of log`)
  } finally {
    await s.close()
    cleanup(base)
  }
})

test.run()
