// A worker that repeatedly takes a distributed lock and updates a shared, fenced resource.
// Run several at once (each in its own terminal) against a running server:
//   npm start                      # one raftkv member on http://127.0.0.1:2379
//   npm run example:lock           # ETCD_ENDPOINTS=http://host:2379,... to point elsewhere;
//                                  # RAFTKV_API=v3 for etcd 3.x over its v3 API
// EXAMPLE_ROUNDS=n stops after n rounds (the test uses it); otherwise runs until Ctrl-C.

import { FencedResource, Lock, formatToken } from '../recipes/index.js'
import { connect } from './connect.js'

const rounds = Number(process.env.EXAMPLE_ROUNDS ?? Infinity)
const name = process.env.WORKER ?? `worker-${process.pid}`

const client = connect({ timeout: 5000 })
const lock = new Lock(client, '/examples/locks/report', { ttl: 5, owner: name })
const report = new FencedResource<{ lastWriter: string; runs: number }>(client, '/examples/resources/report')

const stop = new AbortController()
process.on('SIGINT', () => stop.abort())

for (let round = 1; round <= rounds && !stop.signal.aborted; round++) {
  try {
    await lock.withLock(async (lost, handle) => {
      // Stamp our fencing token first: from now on, writes of any earlier holder are refused.
      await report.claim(handle.token, { signal: lost })
      await new Promise((r) => setTimeout(r, 200)) // the "work"
      const next = await report.update(handle.token, (cur) => ({ lastWriter: name, runs: (cur?.runs ?? 0) + 1 }), { signal: lost })
      console.log(`${name}: round ${round}, token ${formatToken(handle.token)}, report run #${next?.runs}`)
    }, { signal: stop.signal })
  } catch (err) {
    if (stop.signal.aborted) break
    console.error(`${name}: round ${round} failed: ${(err as Error).name}: ${(err as Error).message}`)
  }
  await new Promise((r) => setTimeout(r, 100))
}
client.close()
console.log(`${name}: done`)
