// A reliable job queue built from data structures: a producer pushes jobs on a List; two workers
// atomically move each job to a "processing" list (blockingMove, Redis' BLMOVE), do the work, add
// the time it took to a float field and count it in an int field (TypedMap incrFloat / incr), then
// remove the job from "processing" (remove, Redis' LREM). A job whose worker dies stays visible in
// "processing" for a janitor to push back. A Reference names the last finished job's result.
//   npm start && npm run example:list      # ETCD_ENDPOINTS to point elsewhere, RAFTKV_API=v3 for etcd v3
// EXAMPLE_ROUNDS=n: number of jobs (default 10).

import { List, Reference, TypedMap, TypedValue, types, RecipeTimeoutError } from '../recipes/index.js'
import { connect } from './connect.js'

interface Job { id: number; work: number }

const jobsCount = Number(process.env.EXAMPLE_ROUNDS ?? 10)
const base = `/examples/list-${Date.now()}`
const producer = connect()
const jobs = new List(producer, `${base}/jobs`, types.json<Job>())

for (let id = 1; id <= jobsCount; id++) await jobs.pushRight({ id, work: 10 + (id % 3) * 10 })
console.log(`producer: pushed ${jobsCount} jobs, queue length ${await jobs.length()}`)

async function worker(name: string): Promise<number> {
  const client = connect()
  const queue = new List(client, `${base}/jobs`, types.json<Job>())
  const processing = new List(client, `${base}/processing`, types.json<Job>())
  const stats = new TypedMap<'seconds', number>(client, `${base}/stats`, types.float)
  const done = new TypedMap<'done', bigint>(client, `${base}/counts`, types.int)
  const latest = new Reference(client, `${base}/latest`, types.string)
  let handled = 0
  for (;;) {
    let job: Job
    try {
      job = await queue.blockingMove(processing, 'left', 'right', { timeout: 1500 })
    } catch (err) {
      if (err instanceof RecipeTimeoutError) break // queue drained
      throw err
    }
    await new Promise((r) => setTimeout(r, job.work))
    const result = `${base}/results/${job.id}`
    await new TypedValue(client, result, types.string).set(`job ${job.id} done by ${name}`)
    await stats.incrFloat('seconds', job.work / 1000)
    await done.incr('done')
    await latest.set(result)
    await processing.remove(job)
    console.log(`${name}: job ${job.id} done`)
    handled++
  }
  client.close()
  return handled
}

const handled = await Promise.all([worker('worker-1'), worker('worker-2')])
const stats = new TypedMap<'seconds', number>(producer, `${base}/stats`, types.float)
const counts = new TypedMap<'done', bigint>(producer, `${base}/counts`, types.int)
const processing = new List(producer, `${base}/processing`, types.json<Job>())
const last = await new Reference(producer, `${base}/latest`, types.string).deref()
console.log(`workers: ${handled.join(' + ')} jobs; counted ${await counts.get('done')}; work time ${(await stats.get('seconds'))?.toFixed(2)} s`)
console.log(`latest result: ${last.value}`)
console.log(`list example: ${jobsCount} jobs, queue ${await jobs.length()}, processing ${await processing.length()}, done`)
producer.close()
