// Long soak of the Raft simulation: `npm run soak:raft -- --seeds 100000 [--from 0] [--jobs 2]`.
// Not part of `npm test`. Splits the seed range over child processes; stops at the first failure
// and prints its report (seed, time, check, trace tail, replay command).
import { type ChildProcess, fork } from 'node:child_process'
import { SimCluster, SimFailure } from '../test/harness/sim-cluster.js'
import { simOptionsFor } from '../test/raft/sim-config.js'

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : def
}

const from = arg('from', 0)
const count = arg('seeds', 10000)
const jobs = arg('jobs', 2)

if (process.env.SOAK_WORKER === '1') {
  // Worker: run [from, from+count) and report.
  const t0 = performance.now()
  let applied = 0
  for (let seed = from; seed < from + count; seed++) {
    const sim = new SimCluster(simOptionsFor(seed, { verbose: false }))
    try {
      sim.run()
    } catch (e) {
      process.send!({ type: 'fail', seed, report: e instanceof SimFailure ? e.message : String((e as Error).stack) })
      process.exit(1)
    }
    applied += sim.stats.applied
    if ((seed - from + 1) % 500 === 0) process.send!({ type: 'progress', done: seed - from + 1 })
  }
  process.send!({ type: 'done', count, applied, ms: performance.now() - t0 })
  process.exit(0)
} else {
  const t0 = performance.now()
  const per = Math.ceil(count / jobs)
  let done = 0
  let failed = false
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
    child.on('message', (msg: { type: string; seed?: number; report?: string; done?: number }) => {
      if (msg.type === 'progress') {
        done += msg.done! - last
        last = msg.done!
        process.stdout.write(`\r${done}/${count} seeds ok (${((performance.now() - t0) / 1000).toFixed(0)}s)`)
      } else if (msg.type === 'fail' && !failed) {
        failed = true
        console.log(`\n${msg.report}`)
        for (const c of children) if (c !== child) c.kill()
      } else if (msg.type === 'done') {
        done += n - last
      }
    })
  }
  await Promise.all(children.map((c) => new Promise((r) => c.on('exit', r))))
  const secs = ((performance.now() - t0) / 1000).toFixed(1)
  if (failed) {
    console.log(`soak FAILED after ${secs}s`)
    process.exit(1)
  }
  console.log(`\nsoak ok: ${count} seeds [${from}, ${from + count}) in ${secs}s`)
}
