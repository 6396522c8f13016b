// The harness checks itself: three independent single-member servers posing as one cluster must
// be caught (not one cluster, non-linearizable registers, lost appends, diverged stores), so a
// green fault run means something. Runs against real etcd (FAULTS_SERVER=raftkv for raftkv).
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { runFaults } from './runner.js'
import type { ServerKind } from './cluster.js'

const server = (process.env.FAULTS_SERVER ?? 'etcd') as ServerKind
const self = suite(`fault harness self-test (${server})`)

self('three independent members posing as a cluster fail the end checks', async () => {
  const lines: string[] = []
  const report = await runFaults({ seed: 4, timeS: 4, nodes: 3, server, independentMembers: true, faults: ['slow'], convergeTimeoutMs: 3000, keep: false, log: (l) => lines.push(l) })
  const verdict = Object.fromEntries(report.checks.map((c) => [c.name, c.ok]))
  const out = lines.join('\n')
  assert.is(verdict['cluster-formed'], false, out)
  assert.is(verdict['linearizable'], false, out)
  assert.is(verdict['appends'], false, out)
  assert.is(verdict['converged'], false, out)
  assert.ok(report.failed >= 4)
  assert.match(lines[lines.length - 1]!, /^\d+ passed, \d+ failed$/)
})

setTimeout(() => {
  console.error('watchdog: self-test.test.ts exceeded 120 s')
  process.exit(1)
}, 120_000).unref()
self.run()
