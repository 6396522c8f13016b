// Three workers elect a leader; the leader "works" for a while, then resigns and the next one
// takes over (in arrival order). An observer prints every leader change.
//   npm start && npm run example:election      # ETCD_ENDPOINTS to point elsewhere
// EXAMPLE_ROUNDS=n stops after n reigns; otherwise runs until Ctrl-C.

import { Election } from '../recipes/index.js'
import { connect } from './connect.js'

const reigns = Number(process.env.EXAMPLE_ROUNDS ?? Infinity)
const key = '/examples/election/scheduler'
const stop = new AbortController()
process.on('SIGINT', () => stop.abort())

const clients: ReturnType<typeof connect>[] = []
let done = 0

// The observer: what every other service would do to find the current leader.
const observerClient = connect()
clients.push(observerClient)
const observing = (async () => {
  for await (const l of new Election(observerClient, key).observe({ signal: stop.signal })) {
    console.log(l ? `observer: leader is ${l.owner} (term ${l.term}, says ${JSON.stringify(l.value)})` : 'observer: no leader')
  }
})().catch(() => {})

async function worker(name: string): Promise<void> {
  const client = connect()
  clients.push(client)
  const election = new Election(client, key, { ttl: 5, owner: name })
  while (!stop.signal.aborted && done < reigns) {
    let lead
    try {
      lead = await election.campaign({ since: new Date().toISOString() }, { signal: stop.signal })
    } catch {
      break
    }
    if (done >= reigns) { await lead.resign(); break }
    console.log(`${name}: elected, term ${lead.term}`)
    await lead.proclaim(`${name} is scheduling`)
    // Work until resigning, or stop at once if the lead is lost (lead.signal aborts).
    await new Promise((r) => { const t = setTimeout(r, 700); lead.signal.addEventListener('abort', () => { clearTimeout(t); r(undefined) }) })
    done++
    if (done >= reigns) stop.abort() // withdraw the other candidacies: the run is over
    console.log(`${name}: resigning after term ${lead.term}`)
    await lead.resign()
    await new Promise((r) => setTimeout(r, 100)) // give the others a turn
  }
}

await Promise.all(['worker-a', 'worker-b', 'worker-c'].map(worker))
stop.abort()
await observing
for (const c of clients) c.close()
console.log(`election example: ${done} reigns, done`)
