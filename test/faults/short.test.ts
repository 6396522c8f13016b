// The short fault run CI executes: 3 members, ~20 s of register + append workload under the seeded
// nemesis (kill -9, SIGSTOP, partitions, bridge, slow links), then every end check must pass.
// SERVER UNDER TEST: raftkv (a 3-member raftkv cluster). FAULTS_SERVER=etcd runs the same test
// against real etcd 3.4 as the reference. FAULTS_SEED picks the seed (printed on failure).
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { runFaults } from './runner.js'
import type { ServerKind } from './cluster.js'

const DEFAULT_SERVER: ServerKind = 'raftkv'
const server = (process.env.FAULTS_SERVER ?? DEFAULT_SERVER) as ServerKind
const seed = Number(process.env.FAULTS_SEED ?? 42)
const short = suite(`fault injection, short run against ${server === 'etcd' ? 'REAL ETCD 3.4 (reference, not raftkv)' : 'raftkv'}`)

short(`3 members, 20 s of faults, seed ${seed}: one cluster, healthy after heal, linearizable, no lost append, converged, progress, no crash`, async () => {
  const lines: string[] = []
  const report = await runFaults({ seed, timeS: 20, nodes: 3, server, log: (l) => lines.push(l) })
  const out = lines.join('\n')
  console.log(out)
  // How many faults and acknowledged ops fit in 20 s depends on the machine's load (a restart of
  // a member process alone can take 10 s on a busy 2-core box); the checks below are what matter.
  assert.ok(report.faults.length >= 2, `expected at least 2 faults, got ${report.faults.length}`)
  assert.ok(report.history.counts().ok > 50, `the workload made progress (${report.history.counts().ok} ok ops)`)
  assert.is(report.failed, 0, `failed checks (seed ${seed}):\n${out}`)
  assert.is(report.passed, report.checks.length)
  assert.is(report.checks.length, 7)
})

// Bound: exit (which kills the members via cluster.ts's exit hook) if the run hangs.
setTimeout(() => {
  console.error('watchdog: short.test.ts exceeded 150 s')
  process.exit(1)
}, 150_000).unref()
short.run()
