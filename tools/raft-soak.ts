// Long soak of the Raft simulation: `npm run soak:raft -- --seeds 100000 [--from 0] [--jobs 2]`.
// Not part of `npm test`. Stops at the first failure and prints its report (seed, time, check,
// trace tail, replay command).
import { SimCluster, SimFailure } from '../test/harness/sim-cluster.js'
import { simOptionsFor } from '../test/raft/sim-config.js'
import { runSoak } from './soak.js'

await runSoak({
  name: 'soak',
  failure: SimFailure,
  progressEvery: 500,
  zero: () => ({ applied: 0 }),
  runSeed(seed) {
    const sim = new SimCluster(simOptionsFor(seed, { verbose: false }))
    sim.run()
    return { applied: sim.stats.applied }
  },
  summary: (s) => `entries applied ${s.applied}`,
})
