// Long soak of the production Ready loop under the driver simulation:
// `npm run soak:driver -- --seeds 100000 [--from 0] [--jobs 2]`. Not part of `npm test`. Stops at
// the first failure and prints its report (seed, check, trace tail, replay command); otherwise
// totals of acknowledged writes, reads, watch events and the orderings the driver took.
import { DriverSim, DriverSimFailure } from '../test/harness/driver-sim.js'
import { driverSimOptionsFor } from '../test/driver/sim-config.js'
import { runSoak } from './soak.js'

const zero = () => ({
  acked: 0, reads: 0, watchEvents: 0, restores: 0,
  leaderWithWatchers: 0, leaderWithoutWatchers: 0, relayWhilePersisting: 0, persistBesideSnapshot: 0,
})

await runSoak({
  name: 'driver soak',
  failure: DriverSimFailure,
  zero,
  async runSeed(seed) {
    const sim = new DriverSim(driverSimOptionsFor(seed, { verbose: false }))
    await sim.run()
    const t = zero()
    for (const k of Object.keys(t) as (keyof typeof t)[]) t[k] = sim.stats[k]
    return t
  },
  summary: (s) => `acknowledged writes ${s.acked}, quorum reads ${s.reads}, watch events ${s.watchEvents}, snapshot restores ${s.restores}; leader writes with watchers ${s.leaderWithWatchers}, without ${s.leaderWithoutWatchers}; relays while persisting ${s.relayWhilePersisting}; writes beside a snapshot save ${s.persistBesideSnapshot}`,
})
