// Benchmark behind the SDK's default fetch: Node's built-in fetch (undici) vs cross-fetch
// (node-fetch on Node), both through the Client, against a real etcd (or raftkv with
// BENCH_BACKEND=raftkv). Not a test; run: node --import tsx bench/fetch.ts
// Prints requests/s for sequential GETs, sequential PUTs and 32 concurrent GETs, best of 3 runs,
// plus the number of TCP connections each fetch opened (keep-alive reuse).

import crossFetch from 'cross-fetch'
import net from 'node:net'
import { Client, type FetchLike } from '../src/index.js'
import { startCluster, type Backend } from '../test/client/fixtures.js'

const backend = (process.env.BENCH_BACKEND ?? 'etcd') as Backend
const N = Number(process.env.BENCH_N ?? 2000)

/** A TCP proxy in front of the server that counts connections. */
async function countingProxy(target: string): Promise<{ url: string; connections: () => number; close(): void }> {
  const { hostname, port } = new URL(target)
  let count = 0
  const server = net.createServer((c) => {
    count++
    const up = net.connect(Number(port), hostname)
    c.pipe(up).pipe(c)
    c.on('error', () => up.destroy())
    up.on('error', () => c.destroy())
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, connections: () => count, close: () => server.close() }
}

async function rate(label: string, n: number, fn: (i: number) => Promise<unknown>, concurrency = 1): Promise<number> {
  let best = 0
  for (let run = 0; run < 3; run++) {
    const t0 = performance.now()
    let next = 0
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < n) await fn(next++)
    }))
    best = Math.max(best, n / ((performance.now() - t0) / 1000))
  }
  void label
  return Math.round(best)
}

const cluster = await startCluster(backend)
try {
  const impls: [string, FetchLike][] = [
    ['node built-in fetch (undici)', globalThis.fetch.bind(globalThis) as FetchLike],
    ['cross-fetch (node-fetch)', crossFetch as unknown as FetchLike],
  ]
  await new Client({ endpoints: cluster.endpoints }).set('/bench/k', 'x'.repeat(100))
  console.log(`backend ${backend}, Node ${process.version}, ${N} requests per run, best of 3`)
  for (const [name, fetchImpl] of impls) {
    const proxy = await countingProxy(cluster.endpoints[0]!)
    const client = new Client({ endpoints: [proxy.url], fetch: fetchImpl })
    await client.get('/bench/k') // warm-up
    const seqGet = await rate('get', N, () => client.get('/bench/k'))
    const seqPut = await rate('put', N / 2, (i) => client.set('/bench/k', String(i)))
    const seqConns = proxy.connections()
    const parGet = await rate('par', N, () => client.get('/bench/k'), 32)
    console.log(`${name.padEnd(30)} seq GET ${seqGet}/s  seq PUT ${seqPut}/s  32x GET ${parGet}/s  ` +
      `connections: ${seqConns} for ${N * 3 + N * 3 / 2 + 1} sequential requests, ${proxy.connections() - seqConns} for the concurrent runs`)
    client.close()
    proxy.close()
  }
} finally {
  await cluster.close()
}
