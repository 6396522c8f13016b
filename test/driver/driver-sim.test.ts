// The production Ready loop (server/cluster/raft-driver.ts) under the seeded simulation: faults,
// crashes that lose unsynced writes, watchers on or off, snapshots in flight, followers relaying
// proposals while they persist; checkers on what clients see (test/harness/driver-sim.ts).
// Replay one seed: SEED=n npm run test:driver-sim (VERBOSE=1 prints the whole trace).
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { DriverSim } from '../harness/driver-sim.js'
import { seedsFromEnv } from '../raft/sim-config.js'
import { driverSimOptionsFor } from './sim-config.js'

const single = process.env.SEED !== undefined && process.env.SEED !== ''
const seeds = seedsFromEnv(Number(process.env.DRIVER_SIM_SEEDS ?? 200))

const sims = suite('production driver under simulation')
const BATCH = 25
const covered = { leaderWithWatchers: 0, leaderWithoutWatchers: 0, relayWhilePersisting: 0, persistBesideSnapshot: 0 }
for (let b = 0; b < seeds.length; b += BATCH) {
  const batch = seeds.slice(b, b + BATCH)
  sims(`seeds ${batch[0]}..${batch[batch.length - 1]}: acknowledged writes, quorum reads, watch order`, async () => {
    for (const seed of batch) {
      const sim = new DriverSim(driverSimOptionsFor(seed))
      await sim.run() // throws DriverSimFailure with seed, check, trace tail and replay command
      const st = sim.stats
      if (single) console.log(JSON.stringify(st))
      assert.ok(st.acked > 10, `seed ${seed}: only ${st.acked} writes acknowledged (replay: SEED=${seed} npm run test:driver-sim)`)
      for (const k of Object.keys(covered) as (keyof typeof covered)[]) covered[k] += st[k]
    }
  })
}

if (!single) {
  sims('the seeds run every ordering the driver chooses between', () => {
    // Leaders write with and without watchers (broadcast first / answer first), followers relay
    // proposals while they persist, and Readies are written while a snapshot is saved beside them.
    for (const [k, n] of Object.entries(covered)) assert.ok(n > 0, `${k} never happened in ${seeds.length} seeds`)
  })

  sims('determinism: the same seed twice gives the same trace', async () => {
    for (const seed of [4, 5]) {
      const a = new DriverSim(driverSimOptionsFor(seed))
      await a.run()
      const b = new DriverSim(driverSimOptionsFor(seed))
      await b.run()
      assert.is(a.stats.traceHash, b.stats.traceHash, `seed ${seed} is not deterministic`)
      assert.equal(a.stats, b.stats)
    }
  })
}
sims.run()
