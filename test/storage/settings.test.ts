// Every storage and consensus setting changes what a running member does: --pre-vote (a member that
// cannot reach the others raises its term only without it), --max-request-bytes (the body limit,
// answered as etcd answers an oversized form) and --wal-sync (how the WAL writes). In-process
// members on 127.0.0.1 with port 0.
import { readdirSync, readlinkSync } from 'node:fs'
import net from 'node:net'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startServer, type StartOptions } from '../../server/index.js'
import { loopbackUrl, reservePort } from '../support/ports.js'

type Running = Awaited<ReturnType<typeof startServer>>
const open: Running[] = []
const peers: net.Server[] = []

async function start(o: StartOptions): Promise<Running> {
  const s = await startServer({ listenClientUrls: ['http://127.0.0.1:0'], advertiseClientUrls: [], heartbeatIntervalMs: 20, electionTimeoutMs: 100, ...o })
  open.push(s)
  return s
}

test.after.each(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()))
  await Promise.all(peers.splice(0).map((p) => new Promise((r) => p.close(r))))
})

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/** A loopback port that accepts and drops connections (a peer that never answers), held by the test. */
async function deadPeer(): Promise<string> {
  const s = net.createServer((sock) => sock.destroy())
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  peers.push(s)
  return `http://127.0.0.1:${(s.address() as net.AddressInfo).port}`
}

/** One member of a 3-member cluster whose two peers never answer: it can never win an election. */
async function loneMember(preVote: boolean | undefined): Promise<Running> {
  const self = loopbackUrl(await reservePort())
  return start({
    name: 'a',
    listenPeerUrls: [self],
    initialAdvertisePeerUrls: [self],
    initialCluster: [
      { name: 'a', peerUrls: [self] },
      { name: 'b', peerUrls: [await deadPeer()] },
      { name: 'c', peerUrls: [await deadPeer()] },
    ],
    ...(preVote === undefined ? {} : { preVote }),
  })
}

test('--pre-vote (default): a member that cannot win keeps its term and stays a pre-candidate', async () => {
  const s = await loneMember(undefined)
  await sleep(150)
  const term = s.backend.raftTerm()
  await sleep(1000) // ten election timeouts
  assert.is(s.backend.raftTerm(), term, 'no election was started without a quorum of pre-votes')
  assert.is(s.backend.selfStats().state, 'StatePreCandidate')
})

test('--pre-vote=false (etcd 3.4 default): the same member raises its term with every election', async () => {
  const s = await loneMember(false)
  await sleep(150)
  const term = s.backend.raftTerm()
  await sleep(1000)
  assert.ok(s.backend.raftTerm() >= term + 3, `term went from ${term} to ${s.backend.raftTerm()}`)
  assert.is(s.backend.selfStats().state, 'StateCandidate')
})

async function putValue(url: string, bytes: number): Promise<{ status: number; body: any; connection: string | null }> {
  const r = await fetch(`${url}/v2/keys/big`, { method: 'PUT', body: new URLSearchParams({ value: 'x'.repeat(bytes) }) })
  const text = await r.text()
  return { status: r.status, body: JSON.parse(text), connection: r.headers.get('connection') }
}

test('--max-request-bytes: a keys form over the limit gets etcd\'s 400 "http: POST too large" and writes nothing', async () => {
  const s = await start({ maxRequestBytes: 1000 })
  await s.ready()
  const ok = await putValue(s.url, 900) // "value=" + 900 bytes: under 1000
  assert.is(ok.status, 201)
  const big = await putValue(s.url, 1200)
  assert.is(big.status, 400)
  assert.equal(big.body, { errorCode: 210, message: 'Invalid POST form', cause: 'http: POST too large', index: 0 })
  assert.is(big.connection, 'close')
  const g = await fetch(`${s.url}/v2/keys/big`).then((r) => r.json() as Promise<any>)
  assert.is(g.node.value.length, 900, 'the refused write changed nothing')
  // Members API bodies are bounded by the same setting.
  const m = await fetch(`${s.url}/v2/members`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ peerURLs: ['http://127.0.0.1:1'], pad: 'x'.repeat(2000) }),
  })
  assert.is(m.status, 400)
  assert.match(await m.text(), 'too large')
})

test('--max-request-bytes default (10 MiB, etcd v2\'s form limit): a 2 MiB value is accepted as etcd accepts it', async () => {
  const s = await start({})
  await s.ready()
  assert.is(s.config.maxRequestBytes, 10 * 1024 * 1024)
  const r = await putValue(s.url, 2 * 1024 * 1024)
  assert.is(r.status, 201)
})

/** How many of this process's descriptors are open on WAL segment files under dir. */
function walDescriptors(dir: string): number {
  let n = 0
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`)
      if (target.startsWith(dir) && target.endsWith('.wal')) n++
    } catch {
      // closed meanwhile
    }
  }
  return n
}

test('--wal-sync: blocking (default) writes through one descriptor; async adds the O_DSYNC one the thread pool writes to', async () => {
  const blocking = await start({ name: 'blk' })
  await blocking.ready()
  assert.is(blocking.config.walSync, 'blocking')
  assert.is(walDescriptors(blocking.config.dataDir), 1)
  const async_ = await start({ name: 'asy', walSync: 'async' })
  await async_.ready()
  assert.is(walDescriptors(async_.config.dataDir), 2)
  // Both modes are durable and serve writes.
  for (const s of [blocking, async_]) assert.is((await putValue(s.url, 10)).status, 201)
})

test.run()
