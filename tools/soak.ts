// The seed-range runner both soaks share (`npm run soak:raft`, `npm run soak:driver`):
// `--seeds N [--from S] [--jobs J]` splits [S, S+N) over J child processes, each re-running the
// calling script as a worker; progress lines as seeds pass, the first failure's report (the other
// workers are stopped), and per-seed counters summed into the final line.
import { type ChildProcess, fork } from 'node:child_process'

/** What a soak provides: how to run one seed and how to print the summed counters. */
export interface Soak<T extends Record<string, number>> {
  name: string
  /** Counters of one seed; throws on a failed check. */
  runSeed(seed: number): T | Promise<T>
  /** The error class of a failed check: its message is the whole report (other errors print a stack). */
  failure: abstract new (...args: never[]) => Error
  zero(): T
  summary(sum: T): string
  /** Seeds between progress messages. */
  progressEvery?: number
}

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : def
}

function add<T extends Record<string, number>>(sum: T, x: T): void {
  for (const k of Object.keys(sum) as (keyof T)[]) (sum[k] as number) += x[k] as number
}

export async function runSoak<T extends Record<string, number>>(soak: Soak<T>): Promise<never> {
  const from = arg('from', 0)
  const count = arg('seeds', 10000)
  const jobs = arg('jobs', 2)
  const every = soak.progressEvery ?? 250
  if (process.env.SOAK_WORKER === '1') {
    const totals = soak.zero()
    for (let seed = from; seed < from + count; seed++) {
      try {
        add(totals, await soak.runSeed(seed))
      } catch (e) {
        process.send!({ type: 'fail', seed, report: e instanceof soak.failure ? e.message : String((e as Error).stack ?? e) })
        process.exit(1)
      }
      if ((seed - from + 1) % every === 0) process.send!({ type: 'progress', done: seed - from + 1 })
    }
    process.send!({ type: 'done', totals })
    process.exit(0)
  }
  const t0 = performance.now()
  const per = Math.ceil(count / jobs)
  let done = 0
  let failed = false
  const sum = soak.zero()
  const children: ChildProcess[] = []
  for (let j = 0; j < jobs; j++) {
    const start = from + j * per
    const n = Math.min(per, from + count - start)
    if (n <= 0) break
    const child = fork(process.argv[1]!, ['--from', String(start), '--seeds', String(n)], {
      env: { ...process.env, SOAK_WORKER: '1' }, execArgv: ['--import', 'tsx'],
    })
    children.push(child)
    let last = 0
    child.on('message', (msg: { type: string; report?: string; done?: number; totals?: T }) => {
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
        add(sum, msg.totals!)
      }
    })
  }
  await Promise.all(children.map((c) => new Promise((r) => c.on('exit', r))))
  const secs = ((performance.now() - t0) / 1000).toFixed(1)
  if (failed) {
    console.log(`${soak.name} FAILED after ${secs}s`)
    process.exit(1)
  }
  console.log(`${soak.name} ok: ${count} seeds [${from}, ${from + count}) in ${secs}s; ${soak.summary(sum)}`)
  process.exit(0)
}
