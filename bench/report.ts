// Turns run results into the comparison table, the PASS/FAIL checks from the issue's targets and
// the JSON document. Pure formatting: no I/O.
import { percentile, type RunStats } from './recorder.js'
import type { RunResult } from './runner.js'
import type { Target } from './cluster.js'

/** One run as stored in the JSON (samples dropped). */
export interface RunRecord extends Omit<RunResult, 'samples' | 'windowUs'> {
  members: number
  workload: string
  clients: number
  target: Target
  round: number
  failure?: string
}

/** Rounds of one target in one cell, merged: totals over rounds, percentiles over all samples. */
export interface Merged {
  rounds: number
  ops: number
  errors: number
  seconds: number
  opsPerSec: number
  p50Ms: number
  p99Ms: number
  p999Ms: number
  maxMs: number
  /** ops/s of each round, to show the spread. */
  roundOpsPerSec: number[]
  generatorCpuUsPerOp: number
  serverCpuUsPerOp: number
  /** CPU cores all members used on average during the windows. */
  serverCores: number
  extra: Record<string, number>
  /** Distinct error messages over the rounds (at most 5). */
  errorSamples: string[]
  failure?: string
}

/** A (members, workload, clients) cell with both targets. */
export interface Cell {
  members: number
  workload: string
  op: string
  clients: number
  raftkv?: Merged
  etcd?: Merged
  /** raftkv / etcd, when both exist. */
  ratio?: { opsPerSec: number; p50: number; p99: number }
}

/** Merges the rounds of one target. */
export function merge(runs: { stats: RunResult | null; failure?: string }[]): Merged {
  const ok = runs.filter((r) => r.stats !== null).map((r) => r.stats!)
  const failure = runs.find((r) => r.failure !== undefined)?.failure
  let total = 0
  for (const r of ok) total += r.samples.length
  const all = new Float64Array(total)
  let at = 0
  for (const r of ok) { all.set(r.samples, at); at += r.samples.length }
  all.sort()
  const ops = ok.reduce((a, r) => a + r.ops, 0)
  const seconds = ok.reduce((a, r) => a + r.seconds, 0)
  const extra: Record<string, number> = {}
  for (const r of ok) for (const [k, v] of Object.entries(r.extra)) extra[k] = (extra[k] ?? 0) + v
  const weighted = (f: (r: RunResult) => number): number => (ops === 0 ? 0 : ok.reduce((a, r) => a + f(r) * r.ops, 0) / ops)
  return {
    rounds: ok.length,
    ops,
    errors: ok.reduce((a, r) => a + r.errors, 0),
    seconds,
    opsPerSec: seconds > 0 ? ops / seconds : 0,
    p50Ms: percentile(all, 0.5),
    p99Ms: percentile(all, 0.99),
    p999Ms: percentile(all, 0.999),
    maxMs: all.length ? all[all.length - 1] : 0,
    roundOpsPerSec: ok.map((r) => r.opsPerSec),
    generatorCpuUsPerOp: weighted((r) => r.generatorCpuUsPerOp),
    serverCpuUsPerOp: weighted((r) => r.serverCpuUsPerOp),
    serverCores: seconds > 0 ? ok.reduce((a, r) => a + r.serverCores * r.seconds, 0) / seconds : 0,
    extra,
    errorSamples: [...new Set(ok.flatMap((r) => r.errorSamples))].slice(0, 5),
    ...(failure !== undefined ? { failure } : {}),
  }
}

/** Fills in the ratio of a cell. */
export function withRatio(cell: Cell): Cell {
  const a = cell.raftkv, b = cell.etcd
  if (a !== undefined && b !== undefined && a.ops > 0 && b.ops > 0) {
    cell.ratio = { opsPerSec: a.opsPerSec / b.opsPerSec, p50: a.p50Ms / b.p50Ms, p99: a.p99Ms / b.p99Ms }
  }
  return cell
}

const pad = (s: string, n: number): string => (s.length >= n ? s : ' '.repeat(n - s.length) + s)
const padR = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length))
function num(n: number): string {
  if (n >= 100) return n.toFixed(0)
  if (n >= 10) return n.toFixed(1)
  return n.toFixed(2)
}

function side(m: Merged | undefined): string[] {
  if (m === undefined) return ['-', '-', '-', '-']
  if (m.ops === 0) return [m.failure !== undefined ? 'FAILED' : m.errors > 0 ? 'ERRORS' : 'stalled', '-', '-', '-']
  return [num(m.opsPerSec) + (m.errors > 0 ? '!' : ''), num(m.p50Ms), num(m.p99Ms), num(m.serverCpuUsPerOp)]
}

/** The comparison table (monospace text). */
export function formatTable(cells: Cell[]): string {
  const head = ['mem', 'workload', 'cl', 'raftkv op/s', 'p50 ms', 'p99 ms', 'cpu us/op', 'etcd op/s', 'p50 ms', 'p99 ms', 'cpu us/op', 'op/s x', 'p99 x']
  const widths = [3, 8, 4, 11, 7, 7, 9, 10, 7, 7, 9, 7, 6]
  const rows = cells.map((c) => [
    String(c.members), `${c.workload}`, String(c.clients), ...side(c.raftkv), ...side(c.etcd),
    c.ratio ? c.ratio.opsPerSec.toFixed(2) : '-', c.ratio ? c.ratio.p99.toFixed(2) : '-',
  ])
  const line = (r: string[]): string => r.map((x, i) => (i === 1 ? padR(x, widths[i]) : pad(x, widths[i]))).join('  ')
  const out = [line(head), line(widths.map((w) => '-'.repeat(w)))]
  for (const r of rows) out.push(line(r))
  out.push('op/s = operations per second (see the legend); "!" = some requests failed; cpu us/op = CPU of all members per op;')
  out.push('x = raftkv / etcd (op/s: higher is better; p99: lower is better)')
  return out.join('\n')
}

/** Lines naming the cells that failed, stalled or saw errors, with sample messages. */
export function formatProblems(cells: Cell[]): string[] {
  const out: string[] = []
  for (const c of cells) {
    for (const t of ['raftkv', 'etcd'] as const) {
      const m = c[t]
      if (m === undefined || (m.errors === 0 && m.errorSamples.length === 0 && m.failure === undefined)) continue
      const what = m.failure ?? `${m.errors} errors: ${m.errorSamples.join('; ')}`
      out.push(`  ${t} ${c.members}m ${c.workload} c=${c.clients}: ${what}`)
    }
  }
  return out
}

/** Workload-specific detail lines (from the `extra` counters): where the time goes. */
export function formatDetails(cells: Cell[]): string[] {
  const out: string[] = []
  const per = (e: Record<string, number>, total: string, count: string): string => (e[count] ? (e[total] / e[count]).toFixed(2) : '-')
  for (const c of cells) {
    const parts: string[] = []
    const cores = (['raftkv', 'etcd'] as const).filter((t) => (c[t]?.ops ?? 0) > 0).map((t) => `${t} ${c[t]!.serverCores.toFixed(2)}`)
    if (cores.length > 0) parts.push(`cores used ${cores.join(', ')}`)
    for (const t of ['raftkv', 'etcd'] as const) {
      const m = c[t]
      if (m === undefined || m.ops === 0) continue
      const e = m.extra
      if (c.workload === 'watch') {
        const members = Object.keys(e).filter((k) => k.startsWith('notifies.')).map((k) => k.slice('notifies.'.length)).sort()
        parts.push(`${t}: write ack ${per(e, 'writeAckMsTotal', 'writes')} ms, mean notify ${members.map((x) => `${x} ${per(e, `notifyMsTotal.${x}`, `notifies.${x}`)}`).join(', ')} ms`)
      } else if (e.walFsyncs !== undefined && (c.workload === 'put' || c.workload === 'put-hot' || c.workload === 'post')) {
        parts.push(`${t}: ${(e.walFsyncs / m.ops).toFixed(3)} WAL fsyncs per op (all members), mean fsync ${per(e, 'walFsyncMsTotal', 'walFsyncs')} ms`)
      } else if (c.workload === 'cas') {
        parts.push(`${t}: ${(e.attempts / m.ops).toFixed(1)} attempts per swap`)
      } else if (c.workload === 'lock') {
        parts.push(`${t}: ${((e.waits ?? 0) / m.ops).toFixed(2)} waits per cycle`)
      }
    }
    if (parts.length > 0) out.push(`  ${c.members}m ${c.workload} c=${c.clients}: ${parts.join('; ')}`)
  }
  return out
}

/** One PASS/FAIL line. */
export interface Check { name: string; status: 'PASS' | 'FAIL' | 'SKIP'; detail: string }

/** The issue's targets, evaluated on the 3-member cells. */
export function evaluateChecks(cells: Cell[]): Check[] {
  const find = (workload: string, clients: number): Cell | undefined => cells.find((c) => c.members === 3 && c.workload === workload && c.clients === clients)
  const checks: Check[] = []
  const both = (c: Cell | undefined): c is Cell & { raftkv: Merged; etcd: Merged } => c?.raftkv !== undefined && c.etcd !== undefined && c.raftkv.ops > 0 && c.etcd.ops > 0
  const add = (name: string, c: Cell | undefined, test: (a: Merged, b: Merged) => [boolean, string]): void => {
    if (!both(c)) {
      const why = c === undefined ? 'not measured' : c.raftkv?.ops === 0 || c.raftkv === undefined ? 'no raftkv result' : 'no etcd result'
      checks.push({ name, status: 'SKIP', detail: why })
      return
    }
    const [ok, detail] = test(c.raftkv, c.etcd)
    const clean = c.raftkv.errors === 0
    checks.push({ name, status: ok && clean ? 'PASS' : 'FAIL', detail: detail + (clean ? '' : `; raftkv had ${c.raftkv.errors} errors`) })
  }
  const ops = (a: Merged, b: Merged): string => `${num(a.opsPerSec)} vs ${num(b.opsPerSec)} op/s (x${(a.opsPerSec / b.opsPerSec).toFixed(2)})`
  const p99 = (a: Merged, b: Merged): string => `p99 ${num(a.p99Ms)} vs ${num(b.p99Ms)} ms (x${(a.p99Ms / b.p99Ms).toFixed(2)})`
  // Writes and locks: 1.5x etcd's throughput with tails no worse than etcd's (speed at scale).
  for (const cl of [64, 256]) {
    add(`3 members, PUT at ${cl} clients: op/s >= 1.5x etcd and p99 <= etcd`, find('put', cl), (a, b) => [
      a.opsPerSec >= 1.5 * b.opsPerSec && a.p99Ms <= b.p99Ms,
      `${ops(a, b)}, ${p99(a, b)}`,
    ])
  }
  add('3 members, GET at 64 clients: op/s >= etcd', find('get', 64), (a, b) => [a.opsPerSec >= b.opsPerSec, ops(a, b)])
  add('3 members, quorum GET at 64 clients: op/s >= etcd', find('qget', 64), (a, b) => [a.opsPerSec >= b.opsPerSec, ops(a, b)])
  add('3 members, watch notify at 64 watchers: p99 <= etcd', find('watch', 64), (a, b) => [a.p99Ms <= b.p99Ms, `p99 ${num(a.p99Ms)} vs ${num(b.p99Ms)} ms`])
  add('3 members, lock cycles at 16 clients: op/s >= 1.5x etcd', find('lock', 16), (a, b) => [a.opsPerSec >= 1.5 * b.opsPerSec, ops(a, b)])
  add('3 members, single-client PUT: p50 <= 1.2x etcd and p99 <= etcd', find('put', 1), (a, b) => [
    a.p50Ms <= 1.2 * b.p50Ms && a.p99Ms <= b.p99Ms,
    `p50 ${num(a.p50Ms)} vs ${num(b.p50Ms)} ms (x${(a.p50Ms / b.p50Ms).toFixed(2)}), ${p99(a, b)}`,
  ])
  return checks
}

/** Check lines for the terminal. */
export function formatChecks(checks: Check[]): string {
  return checks.map((c) => `${c.status.padEnd(4)}  ${c.name}: ${c.detail}`).join('\n')
}

/** Drops the samples of a run for the JSON. */
export function toRecord(r: RunResult, meta: Omit<RunRecord, keyof RunStats | 'generatorCpuUsPerOp' | 'serverCpuUsPerOp' | 'serverCores'>): RunRecord {
  const { samples: _samples, windowUs: _windowUs, ...rest } = r
  return { ...rest, ...meta }
}
