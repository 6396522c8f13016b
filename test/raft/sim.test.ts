// Deterministic whole-cluster simulation of the Raft core: many seeds of faults (drops, duplicates,
// reordering, partitions, crashes), workload, conf changes, transfers and snapshots, with safety
// checkers after every step; plus determinism, purity and liveness guards.
// Replay one seed: SEED=n npm run test:sim (VERBOSE=1 prints the whole trace).
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Checkers, Violation } from '../harness/checkers.js'
import { SimCluster } from '../harness/sim-cluster.js'
import { seedsFromEnv, simOptionsFor } from './sim-config.js'

const single = process.env.SEED !== undefined && process.env.SEED !== ''
const SEED_COUNT = 600
const seeds = seedsFromEnv(SEED_COUNT)

const faults = suite('raft simulation with faults')
const BATCH = 25
for (let b = 0; b < seeds.length; b += BATCH) {
  const batch = seeds.slice(b, b + BATCH)
  faults(`seeds ${batch[0]}..${batch[batch.length - 1]}: safety under faults, progress, liveness after heal`, () => {
    for (const seed of batch) {
      const sim = new SimCluster(simOptionsFor(seed))
      sim.run() // checkers throw SimFailure with seed, time, check, trace tail and replay command
      const st = sim.stats
      if (single) console.log(JSON.stringify(st))
      // It made progress, not just stayed safe.
      assert.ok(st.applied > 20, `seed ${seed}: only ${st.applied} entries applied (replay: SEED=${seed} npm run test:sim)`)
    }
  })
}
faults.run()

if (!single) {
  const guards = suite('raft simulation guards')

  guards('determinism: the same seed twice gives the same trace hash', () => {
    for (const seed of [7, 8]) {
      const a = new SimCluster(simOptionsFor(seed))
      a.run()
      const b = new SimCluster(simOptionsFor(seed))
      b.run()
      assert.is(a.stats.traceHash, b.stats.traceHash, `seed ${seed} is not deterministic`)
      const c = new SimCluster(simOptionsFor(seed + 2))
      c.run()
      assert.is.not(a.stats.traceHash, c.stats.traceHash, 'different seeds should differ')
    }
  })

  guards('purity: server/raft uses no Date, Math.random, timers, process or node: imports', () => {
    const dir = new URL('../../server/raft/', import.meta.url).pathname
    const banned = [/\bDate\b/, /Math\.random/, /\bsetTimeout\b/, /\bsetInterval\b/, /\bsetImmediate\b/, /\bprocess\./, /from\s+['"]node:/, /import\(\s*['"]node:/, /\brequire\(/, /\basync\b/, /\bawait\b/, /\bPromise\b/]
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'))
    assert.ok(files.length >= 10, 'expected the raft sources')
    for (const f of files) {
      // Comments may mention the banned words (e.g. this very rule); code may not.
      const code = readFileSync(join(dir, f), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')
      for (const re of banned) assert.not.ok(re.test(code), `${f} uses ${re}`)
    }
  })

  guards('liveness without faults: a leader within a few election timeouts, every proposal commits', () => {
    for (const nodes of [3, 5]) {
      for (let seed = 0; seed < 10; seed++) {
        const sim = new SimCluster({ seed, nodes, durationMs: 0, faults: false })
        const electionMs = sim.electionTicks * sim.tickMs
        // Election timeouts are randomized in [election, 2*election): one round fits in 2 timeouts,
        // allow one split vote.
        let t = 0
        while (!sim.leader() && t < 4 * electionMs) {
          sim.runIdle(sim.tickMs)
          t += sim.tickMs
        }
        assert.ok(sim.leader(), `no leader within ${4 * electionMs}ms (${nodes} nodes, seed ${seed}): ${sim.describeNodes()}`)
        const ids = [...sim.nodes.values()]
        // Followers learn the leader from its first append/heartbeat.
        sim.runIdle(3 * sim.tickMs)
        for (const n of ids) assert.is(n.node.raft.lead, sim.leader()!.id, 'every member knows the leader')
        let accepted = 0
        for (let k = 0; k < 200; k++) {
          const n = ids[k % ids.length]!
          if (sim.write(n, `k${k % 7}`)) accepted++
          sim.runIdle(1)
        }
        assert.is(accepted, 200, 'no proposal may be dropped with a stable leader')
        sim.runIdle(20 * sim.tickMs)
        assert.is(sim.pendingProposals(), 0, `unacknowledged proposals remain (${nodes} nodes, seed ${seed})`)
        assert.is(sim.acked, 200)
        assert.is(sim.stats.leaders, 1, 'no spurious elections in a healthy cluster')
      }
    }
  })

  guards('a member rejoining after a long partition does not disrupt a stable leader (pre-vote + check-quorum)', () => {
    for (const nodes of [3, 5]) {
      for (let seed = 0; seed < 5; seed++) {
        const sim = new SimCluster({ seed, nodes, durationMs: 0, faults: false })
        const electionMs = sim.electionTicks * sim.tickMs
        sim.runIdle(4 * electionMs)
        const l = sim.leader()!
        assert.ok(l, 'leader')
        const term = l.node.raft.term
        const ids = [...sim.nodes.keys()]
        const victim = ids.find((id) => id !== l.id)!
        sim.net.isolate(victim, ids)
        sim.runIdle(50 * electionMs)
        assert.is(sim.nodes.get(victim)!.node.raft.term, term, 'pre-vote kept the isolated member at the same term')
        sim.net.heal()
        sim.runIdle(10 * electionMs)
        assert.is(sim.leader()!.id, l.id, `leader kept (${nodes} nodes, seed ${seed})`)
        assert.is(sim.leader()!.node.raft.term, term, 'no term bump')
        assert.is(sim.nodes.get(victim)!.node.raft.lead, l.id, 'the member rejoined as follower')
      }
    }
  })

  guards('checkers catch violations (two leaders, divergent apply, stale read)', () => {
    const c = new Checkers()
    c.onLeader('a', 3)
    assert.throws(() => c.onLeader('b', 3), (e: unknown) => e instanceof Violation && e.check === 'election-safety')
    c.onApply('a', { term: 1, index: 1, type: 0, data: 'x' }, 42)
    assert.throws(() => c.onApply('b', { term: 1, index: 1, type: 0, data: 'y' }, 43), (e: unknown) => e instanceof Violation && e.check === 'state-machine-safety')
    assert.throws(() => c.onRead('a', 'r1', 'k', 10, 9, 9), (e: unknown) => e instanceof Violation && e.check === 'linearizable-read')
    c.onPersist('a', [{ term: 2, index: 5, type: 0, data: 'p' }])
    assert.throws(() => c.onPersist('b', [{ term: 2, index: 5, type: 0, data: 'q' }]), (e: unknown) => e instanceof Violation && e.check === 'log-matching')
  })

  guards.run()
}
