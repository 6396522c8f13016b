// A storage failure stops the member. Faults are injected at the WAL's and the snapshotter's file
// operations (server/wal/io.ts): the WAL and the snapshotter name the file, the operation and the
// errno; an embedded member (startServer) closes its listeners, ends its watches, refuses ready()
// and calls, and reports onStop('fatal'); nothing it acknowledged is lost.
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { Writable } from 'node:stream'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { StorageFailedError } from '../../server/cluster/errors.js'
import { startServer, type RunningServer } from '../../server/index.js'
import { createLogger } from '../../server/log.js'
import { SnapFailedError, Snapshotter } from '../../server/snap/snapshotter.js'
import { WalFailedError } from '../../server/wal/errors.js'
import { faultyIo, parseIoFault } from '../../server/wal/io.js'
import { Wal } from '../../server/wal/wal.js'
import { EntryType, type Entry } from '../../server/raft/types.js'
import { refuses } from '../support/ports.js'
import { removeDir, tempDir } from '../support/tmp.js'
import { until, within } from '../support/wait.js'

const META = { memberId: '8e9e05c52164694d', clusterId: 'cdf818194e3a8c32' }
const quiet = { warn: () => {} }

function entry(index: number): Entry {
  return { index, term: 1, type: EntryType.Normal, data: `e${index}` }
}

// ---- the layers name file, operation and errno ----

const layers = suite('storage layers')

for (const mode of ['blocking', 'async'] as const) {
  for (const [op, errno] of [['write', 'ENOSPC'], ['fdatasync', 'EIO']] as const) {
    layers(`WAL (${mode}): ${op} failing with ${errno} rejects with the segment file, "${op}" and ${errno}; acknowledged entries survive`, async () => {
      const dir = path.join(tempDir('fatal-wal'), 'wal')
      const io = faultyIo(parseIoFault(`wal:${op}:${errno}:after=1`))
      const w = Wal.create(dir, META, { ...quiet, io, syncMode: mode })
      await w.saveAndSync({ term: 1, vote: '', commit: 0 }, [entry(1), entry(2)])
      const err = await w.saveAndSync(undefined, [entry(3)]).then(() => undefined, (e: unknown) => e)
      assert.instance(err, WalFailedError)
      const f = err as WalFailedError
      assert.is(f.errno, errno)
      assert.ok(f.op.startsWith(op), f.op)
      assert.ok(f.file.startsWith(dir) && f.file.endsWith('.wal'), f.file)
      assert.match(f.message, f.file)
      assert.match(f.message, errno)
      // The disk stays failed: later writes are refused too, nothing is acknowledged.
      await w.saveAndSync(undefined, [entry(4)]).then(() => assert.unreachable('acknowledged after the failure'), (e) => assert.instance(e, WalFailedError))
      await w.close()
      const r = Wal.open(dir, quiet)
      assert.equal(r.readAll().entries.map((e) => e.index).slice(0, 2), [1, 2])
      await r.close()
      removeDir(path.dirname(dir))
    })
  }
}

for (const [op, errno] of [['write', 'ENOSPC'], ['fdatasync', 'EIO']] as const) {
  layers(`snapshotter: ${op} failing with ${errno} rejects with the file, "${op}" and ${errno}, and leaves no file behind`, async () => {
    const dir = tempDir('fatal-snap')
    const s = new Snapshotter(dir, { ...quiet, io: faultyIo(parseIoFault(`snap:${op}:${errno}`)) })
    const err = await s.save({ metadata: { index: 10, term: 2, conf: { voters: ['1'] } }, data: 'x'.repeat(5000) }).then(() => undefined, (e: unknown) => e)
    assert.instance(err, SnapFailedError)
    const f = err as SnapFailedError
    assert.is(f.errno, errno)
    assert.is(f.op, op)
    assert.ok(f.file.startsWith(dir) && f.file.endsWith('.snap.tmp'), f.file)
    assert.equal(readdirSync(dir), [], 'neither the temporary nor a final file is left')
    removeDir(dir)
  })
}

layers('fault specs: unknown targets, operations or errnos are refused', () => {
  for (const bad of ['disk:write:EIO', 'wal:read:EIO', 'wal:write:EPERM', 'wal:write:EIO:later=2', 'wal:write']) {
    assert.throws(() => parseIoFault(bad), /bad fault spec/, bad)
  }
  assert.equal(parseIoFault('snap:fdatasync:ENOSPC:after=3:when=/tmp/a:b'), { target: 'snap', op: 'fdatasync', errno: 'ENOSPC', after: 3, armFile: '/tmp/a:b' })
})

layers.run()

// ---- an embedded member stops ----

const embedded = suite('embedded member')

interface LogLine {
  level: string
  msg: string
  [k: string]: unknown
}

function collectingLogger(lines: LogLine[]): ReturnType<typeof createLogger> {
  const dest = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as LogLine)
      cb()
    },
  })
  return createLogger({ name: 'f1' }, { destination: dest, pretty: false })
}

async function put(url: string, key: string, value: string): Promise<number> {
  const r = await fetch(`${url}/v2/keys${key}`, { method: 'PUT', body: new URLSearchParams({ value }), signal: AbortSignal.timeout(10_000) })
  return r.status
}

/** Starts a member whose disk fails as `spec` says once `arm` exists; the fault hook is read at start. */
async function startFaulty(dataDir: string, spec: string, lines: LogLine[], stops: string[], snapshotCount = 10_000): Promise<RunningServer> {
  process.env.RAFTKV_TEST_FAULT = spec
  try {
    return await startServer({
      name: 'f1',
      dataDir,
      listenClientUrls: ['http://127.0.0.1:0'],
      snapshotCount,
      logger: collectingLogger(lines),
      onStop: (reason) => stops.push(reason),
    })
  } finally {
    delete process.env.RAFTKV_TEST_FAULT
  }
}

const cases = [
  { name: 'WAL fdatasync EIO', spec: (arm: string) => `wal:fdatasync:EIO:when=${arm}`, op: 'fdatasync', errno: 'EIO', file: /\.wal$/, snapshotCount: 10_000 },
  { name: 'WAL write ENOSPC', spec: (arm: string) => `wal:write:ENOSPC:when=${arm}`, op: 'write', errno: 'ENOSPC', file: /\.wal$/, snapshotCount: 10_000 },
  { name: 'snapshot write ENOSPC', spec: (arm: string) => `snap:write:ENOSPC:when=${arm}`, op: 'write', errno: 'ENOSPC', file: /\.snap\.tmp$/, snapshotCount: 20 },
  { name: 'snapshot fdatasync EIO', spec: (arm: string) => `snap:fdatasync:EIO:when=${arm}`, op: 'fdatasync', errno: 'EIO', file: /\.snap\.tmp$/, snapshotCount: 20 },
]

for (const c of cases) {
  embedded(`${c.name}: listeners closed, watch ended, ready() and calls refused, onStop('fatal'), the log names file/op/errno, acknowledged writes kept`, async () => {
    const root = tempDir('fatal-member')
    const dataDir = path.join(root, 'd')
    const arm = path.join(root, 'arm')
    const lines: LogLine[] = []
    const stops: string[] = []
    const s = await startFaulty(dataDir, c.spec(arm), lines, stops, c.snapshotCount)
    try {
      await s.ready(20_000)
      const acked = new Map<string, string>()
      for (let i = 0; i < 5; i++) {
        if ((await put(s.url, `/k${i}`, `v${i}`)) === 201) acked.set(`/k${i}`, `v${i}`)
      }
      assert.is(acked.size, 5)
      const watch = fetch(`${s.url}/v2/keys/watched?wait=true`, { signal: AbortSignal.timeout(30_000) }).then(
        async (r) => ({ status: r.status, body: await r.text() }),
        (e: unknown) => ({ status: 0, body: String(e) }),
      )
      await until(() => s.backend.store.stats().watchers === 1, 5000, 'the watch is registered')

      writeFileSync(arm, '')
      // Write until the failing disk stops the member (a snapshot fault needs snapshotCount writes).
      for (let i = 0; i < 200 && stops.length === 0; i++) {
        const status = await put(s.url, `/after${i}`, 'x').catch(() => 0)
        if (status === 201) acked.set(`/after${i}`, 'x')
      }
      await until(() => stops.length > 0 || undefined, 10_000, "onStop('fatal')")
      assert.equal(stops, ['fatal'])

      assert.ok(await refuses(s.url), 'the client port refuses connections')
      const w = await within(10_000, watch, 'the watch ends')
      assert.is.not(w.body.includes('"action"'), true, `the watch ended without an event: ${w.body}`)
      const ready = await s.ready(1000).then(() => undefined, (e: unknown) => e)
      assert.instance(ready, StorageFailedError)
      assert.match((ready as Error).message, c.errno)
      const call = await s.backend.propose({ op: 'set', key: '/late', value: 'x' }).then(() => undefined, (e: unknown) => e)
      assert.instance(call, StorageFailedError)

      const fatal = lines.find((l) => l.level === 'fatal' && typeof l.msg === 'string' && l.msg.startsWith('storage failed:'))
      assert.ok(fatal, `a fatal log line; got ${JSON.stringify(lines.filter((l) => l.level === 'error' || l.level === 'fatal'))}`)
      assert.is(fatal!.op, c.op)
      assert.is(fatal!.errno, c.errno)
      assert.match(String(fatal!.file), c.file)
      assert.ok(existsSync(path.dirname(String(fatal!.file))), 'the file named is in the data dir')
      assert.match(fatal!.msg, String(fatal!.file))

      // Restarted on a healthy disk, the member has every write it acknowledged.
      const again = await startServer({ name: 'f1', dataDir, listenClientUrls: ['http://127.0.0.1:0'] })
      try {
        await again.ready(20_000)
        for (const [k, v] of acked) {
          const g = await fetch(`${again.url}/v2/keys${k}?quorum=true`).then((r) => r.json() as Promise<any>)
          assert.is(g.node?.value, v, `acknowledged ${k} survived`)
        }
      } finally {
        await again.close()
      }
    } finally {
      await s.close()
      removeDir(root)
    }
  })
}

embedded.run()
