// Which simulation a seed runs: shared by the CI test (sim.test.ts) and the soak script, so that
// `SEED=n npm run test:sim` replays exactly what failed in either.
import type { SimOptions } from '../harness/sim-cluster.js'

/**
 * Even seeds: 3 members; odd seeds: 5 members. All faults, conf changes and transfers on. One seed
 * in 8 runs without pre-vote and one in 8 without check-quorum, to cover those paths too. Half of
 * the seeds persist asynchronously (messages are stepped while a Ready's write is in flight).
 */
export function simOptionsFor(seed: number, overrides: Partial<SimOptions> = {}): SimOptions {
  return {
    seed,
    nodes: seed % 2 === 0 ? 3 : 5,
    durationMs: Number(process.env.SIM_DURATION_MS ?? 3000),
    faults: true,
    reconfig: true,
    asyncPersist: seed % 4 >= 2,
    preVote: seed % 8 !== 3,
    checkQuorum: seed % 8 !== 6,
    verbose: process.env.VERBOSE === '1',
    ...overrides,
  }
}

/** Seeds from SEED (one), SEEDS ("a..b" or "a,b,c"), or the default range [0, n). */
export function seedsFromEnv(defaultCount: number): number[] {
  if (process.env.SEED !== undefined && process.env.SEED !== '') return [Number(process.env.SEED)]
  const s = process.env.SEEDS
  if (s) {
    const m = /^(\d+)\.\.(\d+)$/.exec(s)
    if (m) return Array.from({ length: Number(m[2]) - Number(m[1]) }, (_, i) => Number(m[1]) + i)
    return s.split(',').map(Number)
  }
  return Array.from({ length: defaultCount }, (_, i) => i)
}
