// Shows the checker catches a real anomaly end to end: reads WITHOUT quorum=true from a member
// partitioned away are stale and must be flagged; quorum reads in the same scenario must pass.
// Runs against real etcd (FAULTS_SERVER=raftkv to run it against raftkv).
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync } from 'node:fs'
import { runStaleReadExperiment } from './stale-read-experiment.js'
import type { ServerKind } from './cluster.js'

const server = (process.env.FAULTS_SERVER ?? 'etcd') as ServerKind
const stale = suite(`stale-read experiment (${server})`)

const available = server !== 'etcd' || existsSync(process.env.ETCD_BIN ?? '/usr/bin/etcd')

stale('local reads from an isolated follower are flagged as non-linearizable', async () => {
  if (!available) return
  const r = await runStaleReadExperiment({ server, quorumReads: false, seed: 3 })
  assert.ok(r.readsFromIsolated > 0, 'the isolated member served reads')
  assert.not.ok(r.check.ok, 'stale reads must be flagged')
  assert.match(r.check.keys.find((k) => !k.ok)?.explanation ?? '', /not linearizable/)
})

stale('quorum reads in the same scenario are linearizable', async () => {
  if (!available) return
  const r = await runStaleReadExperiment({ server, quorumReads: true, seed: 3 })
  assert.ok(r.check.ok, r.check.keys.map((k) => k.explanation ?? '').join('\n'))
  assert.ok(r.ops.unknown > 0, 'reads and writes through the isolated member could not complete')
})

// Bound: exit (which kills the members via cluster.ts's exit hook) if the run hangs.
setTimeout(() => {
  console.error('watchdog: stale-read.test.ts exceeded 120 s')
  process.exit(1)
}, 120_000).unref()
stale.run()
