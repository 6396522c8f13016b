// A service registry: three instances of "web" register with a TTL, a watcher keeps a live view
// and prints every change, a client picks instances round-robin; one instance updates its data
// and one leaves.
//   npm start && npm run example:registry      # ETCD_ENDPOINTS to point elsewhere
// EXAMPLE_ROUNDS=n bounds the number of picks (default: keep running until Ctrl-C).

import { discover, register } from '../recipes/index.js'
import { connect } from './connect.js'

const rounds = Number(process.env.EXAMPLE_ROUNDS ?? Infinity)
const stop = new AbortController()
process.on('SIGINT', () => stop.abort())
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

const watcherClient = connect()
const view = discover<{ url: string; version: number }>(watcherClient, 'web')
await view.ready
console.log(`watcher: ${view.size} instance(s) at start`)
view.on('change', (e) => console.log(`watcher: ${e.type} ${e.instance.id} ${JSON.stringify(e.instance.data)}`))

const instanceClient = connect()
const regs = await Promise.all([1, 2, 3].map((i) =>
  register(instanceClient, 'web', `web-${i}`, { ttl: 5, data: { url: `http://127.0.0.1:80${i}0`, version: 1 } })))
while (view.size < 3) await sleep(20)

await regs[1]!.update({ url: 'http://127.0.0.1:8020', version: 2 })
for (let i = 0; i < rounds && !stop.signal.aborted; i++) {
  console.log(`client: round ${i + 1} -> ${view.pick('round-robin')?.id}`)
  if (i === 2) await regs[2]!.deregister() // web-3 leaves; picks skip it from now on
  await sleep(100)
}
for (const r of regs) await r.deregister()
while (view.size > 0) await sleep(20)
view.close()
watcherClient.close()
instanceClient.close()
console.log('registry example: done')
