// Crash recovery under SIGKILL: a child appends batches (several syncs in flight, snapshots and
// segment releases along the way) and prints each acknowledged index; the parent kills it at seeded
// random moments (sometimes during its own recovery) and, after each kill, recovers the data dir
// and checks that every acknowledged entry is there, in order, with nothing but valid entries
// after it. Replay a run with SEED=<n>; CRASH_ROUNDS sets the number of kills (default 30).
// The child is test/wal/fixtures/appender.ts. It is bundled once with esbuild (tsx's own compiler)
// so each restart costs ~50 ms instead of tsx's ~1 s start-up; CRASH_CHILD=tsx runs it as
// `node --import tsx test/wal/fixtures/appender.ts` instead (same code, fewer rounds per second).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { openDurableStorage } from '../../server/wal/storage.js'
import { CRASH_META, CRASH_SEGMENT, expectedEntry, snapshotAt } from './fixtures/crash-model.js'
import { cleanup, tempDir } from './helpers.js'
import { mulberry32 as prng } from '../support/prng.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const fixture = path.join(here, 'fixtures', 'appender.ts')
const seed = process.env.SEED ? Number(process.env.SEED) : Math.floor(Math.random() * 1e9)
const rounds = Number(process.env.CRASH_ROUNDS ?? 30)
const budgetMs = 20_000

interface Round {
  acks: number[]
  ready: boolean
  stderr: string
  signal: NodeJS.Signals | null
  code: number | null
}

/** Runs the child, kills it with SIGKILL after killAfterMs (counted from its "ready" line when afterReady). */
/** The command line prefix that runs the fixture: a prebuilt bundle, or tsx on the source. */
async function childCommand(outDir: string): Promise<string[]> {
  if (process.env.CRASH_CHILD !== 'tsx') {
    try {
      const esbuild = await import('esbuild')
      const outfile = path.join(outDir, 'appender.mjs')
      await esbuild.build({ entryPoints: [fixture], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile, logLevel: 'silent' })
      return [outfile]
    } catch {
      // esbuild not resolvable: fall back to tsx
    }
  }
  return ['--import', 'tsx', fixture]
}

function runChild(cmd: string[], dataDir: string, childSeed: number, mode: string, killAfterMs: number, afterReady: boolean): Promise<Round> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...cmd, dataDir, String(childSeed), mode], { stdio: ['ignore', 'pipe', 'pipe'] })
    const r: Round = { acks: [], ready: false, stderr: '', signal: null, code: null }
    let buf = ''
    let timer: NodeJS.Timeout | undefined
    const arm = (ms: number) => {
      timer = setTimeout(() => child.kill('SIGKILL'), ms)
    }
    if (!afterReady) arm(killAfterMs)
    const safety = setTimeout(() => child.kill('SIGKILL'), 10_000)
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString()
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        if (line.startsWith('ready')) {
          r.ready = true
          if (afterReady) arm(killAfterMs)
        } else if (line.startsWith('ack ')) r.acks.push(Number(line.slice(4)))
      }
    })
    child.stderr.on('data', (d: Buffer) => (r.stderr += d.toString()))
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      clearTimeout(safety)
      r.code = code
      r.signal = signal
      resolve(r)
    })
  })
}

test(`SIGKILL at random moments never loses an acknowledged entry (seed ${seed})`, async () => {
  const rand = prng(seed)
  const base = tempDir('crash')
  const dataDir = path.join(base, 'data')
  const cmd = await childCommand(base)
  const started = Date.now()
  let maxAck = 0
  let totalAcks = 0
  let done = 0
  let repairs = 0
  try {
    for (let round = 0; round < rounds; round++) {
      if (round >= 10 && Date.now() - started > budgetMs) break
      const mode = rand() < 0.5 ? 'async' : 'blocking'
      const duringBoot = rand() < 0.15
      const killAfter = duringBoot ? Math.floor(rand() * 500) : Math.floor(rand() * 250)
      const ctx = `seed=${seed} round=${round} mode=${mode} kill=${duringBoot ? 'from spawn' : 'after ready'}+${killAfter}ms`
      const r = await runChild(cmd, dataDir, Math.floor(rand() * 2 ** 31), mode, killAfter, !duringBoot)
      assert.is(r.signal, 'SIGKILL', `${ctx}: child exited on its own (code ${r.code}): ${r.stderr}`)
      for (let i = 1; i < r.acks.length; i++) assert.ok(r.acks[i] > r.acks[i - 1], `${ctx}: acks out of order`)
      if (r.acks.length) maxAck = Math.max(maxAck, r.acks[r.acks.length - 1])
      totalAcks += r.acks.length

      const ds = openDurableStorage(dataDir, { metadata: CRASH_META, segmentSize: CRASH_SEGMENT, warn: () => {} })
      try {
        const { snapshot, entries, hardState } = ds.boot
        if (ds.boot.repaired) repairs++
        const snapIndex = snapshot?.metadata.index ?? 0
        if (snapshot) assert.equal(snapshot, snapshotAt(snapIndex), `${ctx}: snapshot content`)
        entries.forEach((e, k) => {
          if (e.index !== snapIndex + 1 + k) assert.unreachable(`${ctx}: entry ${k} has index ${e.index}, expected ${snapIndex + 1 + k}`)
          const want = expectedEntry(e.index)
          if (e.data !== want.data || e.term !== 1 || e.type !== want.type) assert.unreachable(`${ctx}: garbage in entry ${e.index}`)
        })
        const last = entries.length ? entries[entries.length - 1].index : snapIndex
        assert.ok(last >= maxAck, `${ctx}: acknowledged ${maxAck} but recovered only up to ${last}`)
        if (hardState) assert.ok(hardState.commit <= last, `${ctx}: commit ${hardState.commit} beyond log ${last}`)
      } finally {
        await ds.close()
      }
      done++
    }
  } catch (e) {
    console.error(`crash test failed; replay with SEED=${seed}`)
    throw e
  } finally {
    cleanup(base)
  }
  assert.ok(done >= 10, `ran ${done} rounds`)
  assert.ok(totalAcks > 20, `only ${totalAcks} acknowledgements in ${done} rounds (seed ${seed})`)
  console.log(`  seed ${seed}: ${done} kills, ${totalAcks} acks, last acknowledged index ${maxAck}, ${repairs} torn tails repaired, ${((Date.now() - started) / 1000).toFixed(1)}s`)
})

test.run()
