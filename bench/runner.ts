// Runs one workload once against one cluster: connects the clients, warms up, measures a window
// bounded in time and in operations, drains, and reports throughput, latency, the generator's
// own CPU cost and the servers' CPU cost per operation.
import { readFileSync } from 'node:fs'
import type { Cluster, Member } from './cluster.js'
import { httpOnce } from './cluster.js'
import type { ConnFactory, Conn, BenchRequest } from './conn.js'
import { Recorder, type RunStats } from './recorder.js'
import type { RunContext, Workload } from './workloads.js'

/** Per-run settings. */
export interface RunSettings {
  clients: number
  warmupMs: number
  durationMs: number
  maxOps: number
  factory: ConnFactory
  /** Called about every 250 ms while measuring, with ops so far and elapsed ms. */
  onProgress?(ops: number, errors: number, elapsedMs: number): void
}

/** One run's result. */
export interface RunResult extends RunStats {
  /** CPU (user+system) the bench process spent per operation, microseconds. */
  generatorCpuUsPerOp: number
  /** CPU all members together spent per operation, microseconds (from /proc). */
  serverCpuUsPerOp: number
  /** Combined server CPU utilisation during the window, in cores. */
  serverCores: number
  samples: Float64Array
  /** The measured window on the monotonic clock, microseconds (matches V8 profile timestamps). */
  windowUs: [number, number]
}

let runCounter = 0
const memos = new WeakMap<Cluster, Map<string, unknown>>()

const CLK_TCK = 100 // Linux USER_HZ

/** utime+stime of a pid in microseconds, or NaN when unavailable. */
function procCpuUs(pid: number | undefined): number {
  if (pid === undefined) return NaN
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK
  } catch {
    return NaN
  }
}

function clusterCpuUs(cluster: Cluster): number {
  let sum = 0
  for (const m of cluster.members) sum += procCpuUs(m.process.pid)
  return sum
}

/** WAL fsync totals of all members from /metrics (etcd's metric, raftkv exports it too). */
async function scrapeFsync(members: Member[]): Promise<{ count: number; sumS: number } | null> {
  let count = 0, sumS = 0, found = false
  await Promise.all(members.map(async (m) => {
    try {
      const r = await httpOnce(m.host, m.clientPort, 'GET', '/metrics', undefined, 2000)
      const c = /^etcd_disk_wal_fsync_duration_seconds_count(?:\{[^}]*\})? (\S+)$/m.exec(r.body)
      const sm = /^etcd_disk_wal_fsync_duration_seconds_sum(?:\{[^}]*\})? (\S+)$/m.exec(r.body)
      if (c !== null && sm !== null) { count += Number(c[1]); sumS += Number(sm[1]); found = true }
    } catch { /* no metrics: leave it out */ }
  }))
  return found ? { count, sumS } : null
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/**
 * The members with the current leader first (from /v2/stats/self), so client 0 (the only one in
 * single-client runs) always talks to the leader on both targets; the original order when no
 * member says it leads.
 */
export async function leaderFirst(cluster: Cluster): Promise<Member[]> {
  const ms = cluster.members
  if (ms.length === 1) return ms
  const states = await Promise.all(ms.map((m) => httpOnce(m.host, m.clientPort, 'GET', '/v2/stats/self', undefined, 2000)
    .then((r) => (r.status === 200 ? (JSON.parse(r.body) as { state?: string }).state : undefined), () => undefined)))
  const lead = states.indexOf('StateLeader')
  return lead <= 0 ? ms : [...ms.slice(lead), ...ms.slice(0, lead)]
}

/** Runs `workload` once on `cluster`. */
export async function runOnce(cluster: Cluster, workload: Workload, s: RunSettings): Promise<RunResult> {
  const members = await leaderFirst(cluster)
  let memo = memos.get(cluster)
  if (memo === undefined) { memo = new Map(); memos.set(cluster, memo) }
  const perMember = Math.ceil(s.clients / members.length)
  const conns: Conn[] = []
  for (let c = 0; c < s.clients; c++) {
    const m = members[c % members.length]
    conns.push(s.factory(m.host, m.clientPort, perMember))
  }
  const extra: Conn[] = []
  const rec = new Recorder()
  let stopping = false
  let stopped = 0
  let onAllStopped: (() => void) | null = null
  const runId = ++runCounter
  const ctx: RunContext = {
    conns,
    clients: s.clients,
    members: members.length,
    extraConn(i) {
      const m = members[i % members.length]
      const c = s.factory(m.host, m.clientPort, 1)
      extra.push(c)
      return c
    },
    rec,
    prefix: `/v2/keys/bench/r${runId}-${workload.name}`,
    clusterPrefix: '/v2/keys/bench/shared',
    clusterMemo: memo,
    stopping: () => stopping,
    clientStopped() {
      stopped++
      if (stopped >= s.clients && onAllStopped !== null) onAllStopped()
    },
    async call(i: number, req: BenchRequest) {
      const m = members[i % members.length]
      const r = await httpOnce(m.host, m.clientPort, req.method, req.path, req.body, 10000)
      return { status: r.status, body: r.body }
    },
  }
  try {
    if (workload.setup !== undefined) await workload.setup(ctx)
    workload.start(ctx)
    await sleep(s.warmupMs)
    const fsync0 = await scrapeFsync(members)
    const serverCpu0 = clusterCpuUs(cluster)
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    const windowStartUs = Number(process.hrtime.bigint() / 1000n)
    rec.start(t0)
    let lastProgress = t0
    for (;;) {
      const now = performance.now()
      if (now - t0 >= s.durationMs || rec.ops >= s.maxOps) break
      if (s.onProgress !== undefined && now - lastProgress >= 250) { lastProgress = now; s.onProgress(rec.ops, rec.errors, now - t0) }
      await sleep(Math.min(50, Math.max(1, s.durationMs - (now - t0))))
    }
    rec.stop(performance.now())
    const windowEndUs = Number(process.hrtime.bigint() / 1000n)
    const cpu = process.cpuUsage(cpu0)
    const serverCpu = clusterCpuUs(cluster) - serverCpu0
    stopping = true
    // Let in-flight requests finish (blocked watches and lock waits never will: 1 s cap).
    await Promise.race([
      new Promise<void>((r) => { onAllStopped = r; if (stopped >= s.clients) r() }),
      sleep(1000),
    ])
    const fsync1 = fsync0 === null ? null : await scrapeFsync(members)
    const stats = rec.summary()
    if (fsync0 !== null && fsync1 !== null && fsync1.count > fsync0.count) {
      // Includes the few ms between scrape and window edges; good enough for a per-op ratio.
      stats.extra.walFsyncs = fsync1.count - fsync0.count
      stats.extra.walFsyncMsTotal = (fsync1.sumS - fsync0.sumS) * 1000
    }
    if (stats.ops === 0 && stats.errors === 0) stats.errorSamples.push('stalled: no operation completed in the measured window')
    const ops = Math.max(1, stats.ops)
    return {
      ...stats,
      generatorCpuUsPerOp: (cpu.user + cpu.system) / ops,
      serverCpuUsPerOp: serverCpu / ops,
      serverCores: serverCpu / 1e6 / stats.seconds,
      samples: rec.values(),
      windowUs: [windowStartUs, windowEndUs],
    }
  } finally {
    stopping = true
    for (const c of conns) c.close()
    for (const c of extra) c.close()
  }
}
