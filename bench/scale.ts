// `npm run bench -- --scale N`: loads N keys of 256 B into raftkv and into etcd (same cluster
// shape and flags, one after the other) and reports what a large store costs: load rate, peak and
// settled RSS, data-dir size, snapshot durations (from each server's own log), restart time, GET
// and PUT throughput on the loaded store, and the latency of small requests to the leader while
// several recursive listings of the whole directory run. Asserts nothing.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { httpOnce, startCluster, type Cluster, type ClusterSpec, type Target } from './cluster.js'
import type { BenchRequest, Conn, ConnFactory } from './conn.js'
import { percentile } from './recorder.js'
import { runOnce } from './runner.js'
import { VALUE_256, WORKLOADS } from './workloads.js'

/** Settings of one scale run. */
export interface ScaleSettings {
  keys: number
  members: number
  loadClients: number
  /** Concurrent recursive listings of the loaded directory in the stall probe. */
  listings: number
  probeMs: number
  durationMs: number
  warmupMs: number
  factory: ConnFactory
  spec: Omit<ClusterSpec, 'target' | 'members'>
  log(line: string): void
}

/** What one target measured. Sizes in MiB, times in ms. */
export interface ScaleResult {
  target: Target
  keys: number
  members: number
  loadOpsPerSec: number
  loadErrors: number
  rssPeakMiB: number
  rssLoadedMiB: number
  dataDirMiB: number
  snapshots: { count: number; p50Ms: number; maxMs: number }
  restartMs: number
  rssRestartedMiB: number
  getOpsPerSec: number
  putOpsPerSec: number
  putP99Ms: number
  probe: { listingsDone: number; listingMs: number; statsP50Ms: number; statsP99Ms: number; statsMaxMs: number; putP50Ms: number; putP99Ms: number; putMaxMs: number }
  problems: string[]
}

const MiB = 1024 * 1024

/** Resident set size of a pid in bytes (0 when it is gone). */
function rssBytes(pid: number | undefined): number {
  if (pid === undefined) return 0
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))
    return m === null ? 0 : Number(m[1]) * 1024
  } catch {
    return 0
  }
}

/** The largest member's RSS (the leader holds as much as any follower plus its own buffers). */
function maxRss(c: Cluster): number {
  return Math.max(...c.members.map((m) => rssBytes(m.process.pid)))
}

function duBytes(dir: string): number {
  try {
    return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0])
  } catch {
    return NaN
  }
}

/**
 * Snapshot durations from a member's log: raftkv logs `saved snapshot` with `ms`; etcd 3.4 logs
 * `triggering snapshot` and then `saved snapshot`, so the duration is the gap between the two.
 */
export function snapshotDurations(target: Target, log: string): number[] {
  const out: number[] = []
  let started = NaN
  for (const line of log.split('\n')) {
    if (!line.includes('snapshot')) continue
    let rec: { msg?: string; ms?: number; ts?: string }
    try { rec = JSON.parse(line) as typeof rec } catch { continue }
    if (target === 'raftkv') {
      if (rec.msg === 'saved snapshot' && typeof rec.ms === 'number') out.push(rec.ms)
      continue
    }
    const ts = Date.parse(rec.ts ?? '')
    if (line.includes('"triggering snapshot"')) started = ts
    else if (line.includes('"saved snapshot"') && !Number.isNaN(started)) { out.push(ts - started); started = NaN }
  }
  return out
}

/** Runs `clients` loops that PUT keys `/v2/keys/scale/k<i>` until `n` are written. */
async function load(c: Cluster, n: number, clients: number, factory: ConnFactory, onProgress: (done: number) => void): Promise<{ opsPerSec: number; errors: number }> {
  const conns: Conn[] = Array.from({ length: clients }, (_, i) => {
    const m = c.members[i % c.members.length]
    return factory(m.host, m.clientPort, Math.ceil(clients / c.members.length))
  })
  let next = 0
  let written = 0
  let errors = 0
  const started = performance.now()
  const tick = setInterval(() => onProgress(written), 1000)
  await Promise.all(conns.map((conn) => new Promise<void>((resolve) => {
    const step = (): void => {
      if (next >= n) { resolve(); return }
      const i = next++
      const req: BenchRequest = { method: 'PUT', path: `/v2/keys/scale/k${i}`, body: `value=${VALUE_256}` }
      conn.send(req, (status, _body, err) => {
        if (err !== null || (status !== 200 && status !== 201)) { errors++; next = Math.min(next, i); setTimeout(step, 20); return }
        written++
        step()
      })
    }
    step()
  })))
  clearInterval(tick)
  for (const conn of conns) conn.close()
  return { opsPerSec: written / ((performance.now() - started) / 1000), errors }
}

/** The member that is leader now (index into c.members), by `/v2/stats/self`. */
async function leaderOf(c: Cluster): Promise<number> {
  for (let i = 0; i < c.members.length; i++) {
    try {
      const r = await httpOnce(c.members[i].host, c.members[i].clientPort, 'GET', '/v2/stats/self')
      if ((JSON.parse(r.body) as { state?: string }).state === 'StateLeader') return i
    } catch { /* try the next */ }
  }
  return 0
}

/**
 * `listings` loops GET the whole loaded directory recursively from the leader while one client
 * GETs `/v2/stats/self` and another PUTs a small key, both on the leader, one at a time.
 */
async function probe(c: Cluster, s: ScaleSettings): Promise<ScaleResult['probe']> {
  const m = c.members[await leaderOf(c)]
  const conns: Conn[] = []
  const conn = (): Conn => { const x = s.factory(m.host, m.clientPort, s.listings + 2); conns.push(x); return x }
  const until = performance.now() + s.probeMs
  const listingTimes: number[] = []
  const stats: number[] = []
  const puts: number[] = []
  /** Sends `next()` one at a time until the probe ends; latencies of 2xx answers go `into`. */
  const loop = (x: Conn, next: () => BenchRequest, into: number[]): Promise<void> => new Promise((resolve) => {
    const step = (): void => {
      if (performance.now() >= until) { resolve(); return }
      const t0 = performance.now()
      x.send(next(), (status, _b, err) => {
        if (err === null && status < 300) into.push(performance.now() - t0)
        step()
      })
    }
    step()
  })
  const listing: BenchRequest = { method: 'GET', path: '/v2/keys/scale?recursive=true' }
  const small: BenchRequest = { method: 'GET', path: '/v2/stats/self' }
  let seq = 0
  const put = (): BenchRequest => ({ method: 'PUT', path: `/v2/keys/probe/p${seq++ % 100}`, body: 'value=small' })
  // Small requests start a moment after the listings, so they run while those are being served.
  const listingsDone = Promise.all(Array.from({ length: s.listings }, () => loop(conn(), () => listing, listingTimes)))
  await new Promise((r) => setTimeout(r, 200))
  await Promise.all([loop(conn(), () => small, stats), loop(conn(), put, puts), listingsDone])
  for (const x of conns) x.close()
  const q = (xs: number[], p: number): number => (xs.length === 0 ? NaN : percentile(Float64Array.from(xs).sort(), p))
  return {
    listingsDone: listingTimes.length, listingMs: q(listingTimes, 0.5),
    statsP50Ms: q(stats, 0.5), statsP99Ms: q(stats, 0.99), statsMaxMs: Math.max(...stats),
    putP50Ms: q(puts, 0.5), putP99Ms: q(puts, 0.99), putMaxMs: Math.max(...puts),
  }
}

/** Loads one target's cluster with `s.keys` keys and measures it (see the file comment). */
export async function runScale(target: Target, s: ScaleSettings): Promise<ScaleResult> {
  const problems: string[] = []
  const spec: ClusterSpec = { ...s.spec, target, members: s.members, logLevel: 'info', startTimeoutMs: 120_000 }
  const c = await startCluster(spec)
  try {
    let peak = 0
    const sampler = setInterval(() => { peak = Math.max(peak, maxRss(c)) }, 250)
    const t0 = performance.now()
    const loaded = await load(c, s.keys, s.loadClients, s.factory, (done) => s.log(`${target}: ${done}/${s.keys} keys, ${Math.round(done / ((performance.now() - t0) / 1000))}/s, rss ${(maxRss(c) / MiB).toFixed(0)} MiB`))
    clearInterval(sampler)
    if (loaded.errors > 0) problems.push(`${loaded.errors} failed PUTs while loading (retried)`)
    await new Promise((r) => setTimeout(r, 2000)) // let a snapshot in progress finish
    const rssLoaded = maxRss(c)
    const dataDir = Math.max(...c.dataDirs.map(duBytes))
    const snaps = c.members.flatMap((m) => snapshotDurations(target, readFileSync(m.logFile, 'utf8'))).sort((a, b) => a - b)
    s.log(`${target}: loaded; probing small requests during ${s.listings} listings`)
    const pr = await probe(c, s)
    s.log(`${target}: restarting`)
    const restartMs = await c.restart()
    const rssRestarted = maxRss(c)
    const run = async (name: string, clients: number): Promise<{ opsPerSec: number; p99Ms: number }> => {
      const w = WORKLOADS.find((x) => x.name === name)!
      const r = await runOnce(c, w, { clients, warmupMs: s.warmupMs, durationMs: s.durationMs, maxOps: 1_000_000, factory: s.factory })
      if (r.errors > 0) problems.push(`${name}: ${r.errors} errors (${r.errorSamples.join('; ')})`)
      return r
    }
    const get = await run('get', 64)
    const put = await run('put', 64)
    return {
      target, keys: s.keys, members: s.members,
      loadOpsPerSec: loaded.opsPerSec, loadErrors: loaded.errors,
      rssPeakMiB: Math.max(peak, rssLoaded) / MiB, rssLoadedMiB: rssLoaded / MiB, dataDirMiB: dataDir / MiB,
      snapshots: { count: snaps.length, p50Ms: snaps.length ? snaps[Math.floor(snaps.length / 2)] : NaN, maxMs: snaps.length ? snaps[snaps.length - 1] : NaN },
      restartMs, rssRestartedMiB: rssRestarted / MiB,
      getOpsPerSec: get.opsPerSec, putOpsPerSec: put.opsPerSec, putP99Ms: put.p99Ms,
      probe: pr, problems,
    }
  } finally {
    await c.stop()
  }
}

/** The scale table: one row per measure, one column per target, and etcd's value as a ratio. */
export function formatScale(results: ScaleResult[]): string {
  const rk = results.find((r) => r.target === 'raftkv')
  const et = results.find((r) => r.target === 'etcd')
  const rows: [string, (r: ScaleResult) => number, number][] = [
    ['load PUT op/s (64 clients)', (r) => r.loadOpsPerSec, 0],
    ['peak RSS while loading, MiB', (r) => r.rssPeakMiB, 0],
    ['RSS loaded, MiB', (r) => r.rssLoadedMiB, 0],
    ['data dir, MiB', (r) => r.dataDirMiB, 0],
    ['snapshots seen in logs', (r) => r.snapshots.count, 0],
    ['snapshot p50, ms', (r) => r.snapshots.p50Ms, 0],
    ['snapshot max, ms', (r) => r.snapshots.maxMs, 0],
    ['restart until a write is acked, ms', (r) => r.restartMs, 0],
    ['RSS after restart, MiB', (r) => r.rssRestartedMiB, 0],
    ['GET op/s (64 clients)', (r) => r.getOpsPerSec, 0],
    ['PUT op/s (64 clients)', (r) => r.putOpsPerSec, 0],
    ['PUT p99 ms (64 clients)', (r) => r.putP99Ms, 1],
    ['listings done in the probe', (r) => r.probe.listingsDone, 0],
    ['listing p50, ms', (r) => r.probe.listingMs, 0],
    ['stats/self during listings p50, ms', (r) => r.probe.statsP50Ms, 1],
    ['stats/self during listings p99, ms', (r) => r.probe.statsP99Ms, 1],
    ['stats/self during listings max, ms', (r) => r.probe.statsMaxMs, 1],
    ['PUT during listings p50, ms', (r) => r.probe.putP50Ms, 1],
    ['PUT during listings p99, ms', (r) => r.probe.putP99Ms, 1],
    ['PUT during listings max, ms', (r) => r.probe.putMaxMs, 1],
  ]
  const any = rk ?? et!
  const lines = [`scale: ${any.keys} keys of 256 B, ${any.members} member(s)`, `| measure | raftkv | etcd | raftkv/etcd |`, '| --- | ---: | ---: | ---: |']
  for (const [name, f, digits] of rows) {
    const a = rk !== undefined ? f(rk) : NaN
    const b = et !== undefined ? f(et) : NaN
    const fmt = (x: number): string => (Number.isFinite(x) ? x.toFixed(digits) : '-')
    lines.push(`| ${name} | ${fmt(a)} | ${fmt(b)} | ${Number.isFinite(a / b) ? (a / b).toFixed(2) : '-'} |`)
  }
  for (const r of results) for (const p of r.problems) lines.push(`problem (${r.target}): ${p}`)
  return lines.join('\n')
}
