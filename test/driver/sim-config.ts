// Which driver simulation a seed runs: shared by the CI test and the soak, so that
// `SEED=n npm run test:driver-sim` replays exactly what failed in either.
import type { DriverSimOptions } from '../harness/driver-sim.js'

/**
 * Members: 5 in one seed of four, 1 in one of eight (it commits alone, so only its own fsync
 * stands between a write and its acknowledgement), 3 otherwise. WAL writes take 0-3 ms (one seed in 4: all
 * instant), own snapshots every 20-79 applied entries, and watchers on no member (one seed in 3), some members,
 * or every member, so that the loop's apply-first and broadcast-first orders both run.
 */
export function driverSimOptionsFor(seed: number, overrides: Partial<DriverSimOptions> = {}): DriverSimOptions {
  return {
    seed,
    nodes: seed % 8 === 6 ? 1 : seed % 4 === 3 ? 5 : 3,
    durationMs: Number(process.env.SIM_DURATION_MS ?? 1000),
    faults: true,
    maxPersistMs: seed % 4 === 1 ? 0 : 3,
    snapshotCount: 20 + (seed % 60),
    watchChance: [0, 0.5, 1][seed % 3]!,
    verbose: process.env.VERBOSE === '1',
    ...overrides,
  }
}
