// Long soak of the production Ready loop under the driver simulation:
// `npm run soak:driver -- --seeds 100000 [--from 0] [--jobs 2]`. Not part of `npm test`. Splits the
// seed range over child processes; stops at the first failure and prints its report (seed, check,
// trace tail, replay command). Prints totals (seeds, acknowledged writes, reads, watch events).
import { type ChildProcess, fork } from 'node:child_process'
import { DriverSim, DriverSimFailure } from '../test/harness/driver-sim.js'
import { driverSimOptionsFor } from '../test/driver/sim-config.js'

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : def
}

const from = arg('from', 0)
const count = arg('seeds', 10000)
const jobs = arg('jobs', 2)

interface Totals {
  acked: number
  reads: number
  watchEvents: number
  restores: number
  leaderWithWatchers: number
  leaderWithoutWatchers: number
  relayWhilePersisting: number
  persistBesideSnapshot: number
}

const zero = (): Totals => ({
  acked: 0, reads: 0, watchEvents: 0, restores: 0,
  leaderWithWatchers: 0, leaderWithoutWatchers: 0, relayWhilePersisting: 0, persistBesideSnapshot: 0,
})

if (process.env.SOAK_WORKER === '1') {
  const totals = zero()
  for (let seed = from; seed < from + count; seed++) {
    const sim = new DriverSim(driverSimOptionsFor(seed, { verbose: false }))
    try {
      await sim.run()
    } catch (e) {
      process.send!({ type: 'fail', seed, report: e instanceof DriverSimFailure ? e.message : String((e as Error).stack) })
      process.exit(1)
    }
    const st = sim.stats
    for (const k of Object.keys(totals) as (keyof Totals)[]) totals[k] += st[k]
    if ((seed - from + 1) % 250 === 0) process.send!({ type: 'progress', done: seed - from + 1 })
  }
  process.send!({ type: 'done', totals })
  process.exit(0)
} else {
  const t0 = performance.now()
  const per = Math.ceil(count / jobs)
  let done = 0
  let failed = false
  const sum = zero()
  const children: ChildProcess[] = []
  for (let j = 0; j < jobs; j++) {
    const start = from + j * per
    const n = Math.min(per, from + count - start)
    if (n <= 0) break
    const child = fork(new URL(import.meta.url).pathname, ['--from', String(start), '--seeds', String(n)], {
      env: { ...process.env, SOAK_WORKER: '1' }, execArgv: ['--import', 'tsx'],
    })
    children.push(child)
    let last = 0
    child.on('message', (msg: { type: string; report?: string; done?: number; totals?: Totals }) => {
      if (msg.type === 'progress') {
        done += msg.done! - last
        last = msg.done!
        process.stdout.write(`${done}/${count} seeds ok (${((performance.now() - t0) / 1000).toFixed(0)}s)\n`)
      } else if (msg.type === 'fail' && !failed) {
        failed = true
        console.log(`\n${msg.report}`)
        for (const c of children) if (c !== child) c.kill()
      } else if (msg.type === 'done') {
        done += n - last
        for (const k of Object.keys(sum) as (keyof Totals)[]) sum[k] += msg.totals![k]
      }
    })
  }
  await Promise.all(children.map((c) => new Promise((r) => c.on('exit', r))))
  const secs = ((performance.now() - t0) / 1000).toFixed(1)
  if (failed) {
    console.log(`driver soak FAILED after ${secs}s`)
    process.exit(1)
  }
  console.log(`driver soak ok: ${count} seeds [${from}, ${from + count}) in ${secs}s; acknowledged writes ${sum.acked}, quorum reads ${sum.reads}, watch events ${sum.watchEvents}, snapshot restores ${sum.restores}; leader writes with watchers ${sum.leaderWithWatchers}, without ${sum.leaderWithoutWatchers}; relays while persisting ${sum.relayWhilePersisting}; writes beside a snapshot save ${sum.persistBesideSnapshot}`)
}
