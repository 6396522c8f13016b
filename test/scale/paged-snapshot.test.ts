// A saved snapshot's data lives in its file, not in memory: pageOut makes `data` read the file
// (checked) when it is needed again, the sender streams it from the file with the crc checked
// before the last byte goes out, and the durable storage pages out every snapshot it saved or
// recovered. A member restarted from its snapshot (a few thousand keys, dirs, TTLs) answers
// exactly as before the restart.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import type { Snapshot } from '../../server/raft/types.js'
import { pageOut, pagedOutFile, SnapCorruptError, snapshotDataChunks, Snapshotter } from '../../server/snap/snapshotter.js'
import { openDurableStorage } from '../../server/wal/storage.js'
import { startServer, type RunningServer } from '../../server/index.js'
import { createLogger } from '../../server/log.js'
import { Writable } from 'node:stream'
import { cleanup, entries, tempDir } from '../wal/helpers.js'

const conf = { voters: ['aaaaaaaaaaaaaaaa'] }
const META = { memberId: 'aaaaaaaaaaaaaaaa', clusterId: 'bbbbbbbbbbbbbbbb' }
/** Multi-byte text, so chunk boundaries fall inside UTF-8 sequences. */
const DATA = JSON.stringify({ v: 2, text: 'é\u{1F600}"\u2028x'.repeat(3000) })

function snapAt(index: number, data = DATA): Snapshot {
  return { metadata: { index, term: 1, conf }, data }
}

async function collect(gen: AsyncGenerator<Buffer>): Promise<{ bytes: Buffer; chunks: number; error?: unknown }> {
  const parts: Buffer[] = []
  try {
    for await (const b of gen) parts.push(Buffer.from(b))
    return { bytes: Buffer.concat(parts), chunks: parts.length }
  } catch (error) {
    return { bytes: Buffer.concat(parts), chunks: parts.length, error }
  }
}

test('pageOut: data is read from the file (the first read may be handed the text); pieces go', async () => {
  const dir = tempDir('paged')
  const ss = new Snapshotter(dir)
  const snap: Snapshot = { ...snapAt(7), pieces: [DATA.slice(0, 10), DATA.slice(10)] }
  const file = await ss.save(snap)
  assert.is(pagedOutFile(snap), undefined)
  pageOut(snap, file, 'handed once')
  assert.is(pagedOutFile(snap), file)
  assert.is(snap.pieces, undefined, 'the in-memory pieces are dropped')
  assert.is(snap.data, 'handed once')
  assert.is(snap.data, DATA, 'then read from the file')
  assert.equal(Object.keys(snap).sort(), ['data', 'metadata'], 'data stays an enumerable field')
  assert.equal({ ...snap }, snapAt(7))
  // A file that is not this snapshot's is refused, not returned.
  const other: Snapshot = snapAt(8)
  pageOut(other, file)
  assert.throws(() => other.data, (e: unknown) => e instanceof SnapCorruptError && /expected index 8/.test((e as Error).message))
  other.data = 'own text'
  assert.is(pagedOutFile(other), undefined, 'assigning data makes it an ordinary field again')
  assert.is(other.data, 'own text')
  cleanup(dir)
})

test('snapshotDataChunks: the data bytes in bounded chunks; a damaged file never yields its last chunk', async () => {
  const dir = tempDir('paged-chunks')
  const file = await new Snapshotter(dir).save(snapAt(9))
  const want = Buffer.from(DATA, 'utf8')
  for (const size of [1000, 4096, 1 << 20]) {
    const r = await collect(snapshotDataChunks(file, snapAt(9).metadata, size))
    assert.is(r.error, undefined)
    assert.ok(r.bytes.equals(want), `chunks of ${size} join to the data`)
    assert.is(r.chunks, Math.ceil(want.length / size))
  }
  const wrong = await collect(snapshotDataChunks(file, snapAt(10).metadata, 1000))
  assert.instance(wrong.error, SnapCorruptError)
  assert.is(wrong.chunks, 0, 'nothing from a file that is not the snapshot asked for')
  // Flip one byte near the start of the data: every chunk but the last may go out, then an error.
  const buf = fs.readFileSync(file)
  buf[buf.length - want.length + 5] ^= 1
  fs.writeFileSync(file, buf)
  const bad = await collect(snapshotDataChunks(file, snapAt(9).metadata, 1000))
  assert.instance(bad.error, SnapCorruptError)
  assert.match((bad.error as Error).message, /crc mismatch/)
  assert.ok(bad.bytes.length < want.length, 'the stream ends early')
  cleanup(dir)
})

test('durable storage: saved, received and recovered snapshots are paged out to their files', async () => {
  const dataDir = path.join(tempDir('paged-ds'), 'd')
  const ds = openDurableStorage(dataDir, { metadata: META, warn: () => {} })
  await ds.persist({ hardState: { term: 1, vote: '', commit: 10 }, entries: entries(1, 10), mustSync: true })
  const own: Snapshot = { ...snapAt(10), pieces: [DATA] }
  await ds.saveSnapshot(own)
  assert.ok(pagedOutFile(own)?.endsWith('.snap'), 'own snapshot paged out once durable')
  assert.is(own.pieces, undefined)
  assert.is(own.data, DATA)
  const fromLeader = snapAt(50, DATA + ' ')
  await ds.persist({ snapshot: fromLeader, hardState: { term: 1, vote: '', commit: 50 }, entries: [], mustSync: true })
  assert.ok(pagedOutFile(fromLeader))
  assert.is(fromLeader.data, DATA + ' ')
  await ds.close()
  const r = openDurableStorage(dataDir, { warn: () => {} })
  assert.ok(pagedOutFile(r.boot.snapshot!), 'the recovered snapshot too')
  assert.is(r.boot.snapshot!.data, DATA + ' ')
  assert.is(r.boot.snapshot!.data, DATA + ' ', 'and again, from the file')
  await r.close()
  cleanup(path.dirname(dataDir))
})

function quietLogger(): ReturnType<typeof createLogger> {
  return createLogger({ name: 's1' }, { destination: new Writable({ write: (_c, _e, cb) => cb() }), pretty: false })
}

function start(dataDir: string): Promise<RunningServer> {
  return startServer({ name: 's1', dataDir, listenClientUrls: ['http://127.0.0.1:0'], snapshotCount: 300, logger: quietLogger() })
}

async function dump(url: string): Promise<{ index: string | null; body: unknown }> {
  const r = await fetch(`${url}/v2/keys/?recursive=true&sorted=true`)
  assert.is(r.status, 200)
  return { index: r.headers.get('x-etcd-index'), body: await r.json() }
}

test('restart from a snapshot at a few thousand keys: every key, dir, TTL and the index are back', async () => {
  const base = tempDir('paged-restart')
  const dataDir = path.join(base, 's1.etcd')
  let s = await start(dataDir)
  try {
    await s.ready(10_000)
    const writes: Promise<unknown>[] = []
    for (let i = 0; i < 3000; i++) {
      const key = `/d${i % 7}/sub${i % 3}/k${i}`
      writes.push(s.backend.propose(i % 10 === 0 ? { op: 'set', key, value: `é${i}`, ttlSeconds: 3600 } : { op: 'set', key, value: `v${i}` }))
      if (writes.length === 300) await Promise.all(writes.splice(0))
    }
    await Promise.all(writes)
    for (let i = 0; i < 3000; i += 50) await s.backend.propose({ op: 'delete', key: `/d${i % 7}/sub${i % 3}/k${i}` })
    await s.backend.propose({ op: 'set', key: '/emptydir', dir: true })
    // Let an own snapshot finish, then write a few entries past it (replayed from the WAL).
    const snapDir = path.join(dataDir, 'member', 'snap')
    const saved = (): number => fs.readdirSync(snapDir).filter((n) => n.endsWith('.snap')).length
    for (let i = 0; i < 100 && saved() === 0; i++) await new Promise((r) => setTimeout(r, 100))
    assert.ok(saved() > 0, 'a snapshot was saved')
    for (let i = 0; i < 5; i++) await s.backend.propose({ op: 'set', key: `/tail/t${i}`, value: 'x' })
    const before = await dump(s.url)
    await s.close()
    s = await start(dataDir)
    await s.ready(20_000)
    const after = await dump(s.url)
    // Starting publishes the member's attributes (as etcd does): one internal write, one index.
    assert.is(Number(after.index), Number(before.index) + 1)
    // TTLs count down, so compare expirations rather than the seconds left.
    const strip = (o: unknown): unknown => JSON.parse(JSON.stringify(o, (k, v) => (k === 'ttl' ? undefined : v)))
    assert.equal(strip(after.body), strip(before.body))
    assert.ok(JSON.stringify(before.body).includes('"expiration"'), 'TTL keys are in the comparison')
  } finally {
    await s.close()
    cleanup(base)
  }
})

test.run()
