// The HTTP peer transport between real sockets on 127.0.0.1: delivery, batching, small messages
// overtaking big appends, cluster-id refusal, streamed snapshots, peer down/up, bounded queues.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createLogger } from '../../server/log.js'
import { EntryType, MessageType, type Message, type NodeId } from '../../server/raft/types.js'
import { HttpTransport, RAFT_SNAPSHOT_PATH, type HttpTransportOptions } from '../../server/transport/http-transport.js'
import { PeerServer } from '../../server/transport/peer-server.js'
import { deadUrl } from '../support/ports.js'
import { deliverThenStop } from './peers.js'
import { repeatUntil, until } from '../support/wait.js'

const CLUSTER = 'c76dfb96de16906b'
const A = '000000000000000a'
const B = '000000000000000b'
const C = '000000000000000c'
const LOOPBACK = { url: 'http://127.0.0.1:0', host: '127.0.0.1', port: 0, tls: false }

const open: HttpTransport[] = []

/** A log sink the tests can read. */
function capture(): { log: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = []
  const dest = new Writable({
    write(c, _e, cb) {
      chunks.push(String(c))
      cb()
    },
  })
  const log = createLogger({ logLevel: 'debug' }, { destination: dest, pretty: false })
  return { log, lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) }
}

async function transport(id: NodeId, over: Partial<HttpTransportOptions> = {}): Promise<HttpTransport> {
  const t = new HttpTransport({ id, clusterId: CLUSTER, listen: [LOOPBACK], backoffMinMs: 20, backoffMaxMs: 100, ...over })
  await t.start()
  open.push(t)
  return t
}

function connect(ts: HttpTransport[]): void {
  for (const a of ts) for (const b of ts) if (a !== b) a.addPeer(b.id, b.urls)
}

function msg(from: NodeId, to: NodeId, over: Partial<Message> = {}): Message {
  return { type: MessageType.Heartbeat, from, to, term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...over }
}

const t = suite('http-transport')

t.after.each(async () => {
  await Promise.all(open.splice(0).map((x) => x.stop()))
})

t('three transports deliver to the right peer, in order, with from/to intact', async () => {
  const [a, b, c] = [await transport(A), await transport(B), await transport(C)]
  connect([a, b, c])
  const got = new Map<NodeId, Message[]>([[A, []], [B, []], [C, []]])
  for (const x of [a, b, c]) x.onMessage((m) => got.get(x.id)!.push(m))
  for (let i = 1; i <= 50; i++) {
    a.send([msg(A, B, { index: i }), msg(A, C, { index: i })])
    b.send([msg(B, A, { index: i })])
  }
  await until(() => got.get(B)!.length === 50 && got.get(C)!.length === 50 && got.get(A)!.length === 50)
  assert.equal(got.get(B)!.map((m) => m.index), Array.from({ length: 50 }, (_, i) => i + 1))
  assert.ok(got.get(C)!.every((m) => m.from === A && m.to === C))
  assert.ok(got.get(A)!.every((m) => m.from === B && m.to === A))
})

t('messages sent in one tick go out as one request; stats count bytes, messages and latency', async () => {
  const [a, b] = [await transport(A), await transport(B)]
  connect([a, b])
  let n = 0
  b.onMessage(() => n++)
  for (let i = 0; i < 200; i++) a.send([msg(A, B, { index: i })])
  await until(() => n === 200 && a.stats(B)!.success > 0)
  const s = a.stats(B)!
  assert.is(s.success, 1, 'one batch request')
  assert.is(s.messagesSent, 200)
  assert.ok(s.bytesSent > 200 * 20)
  assert.ok(s.active)
  assert.ok(s.latency.current > 0 && s.latency.minimum <= s.latency.maximum)
  const r = b.stats(A)!
  assert.is(r.messagesReceived, 200)
  assert.is(r.bytesReceived, s.bytesSent)
})

t('a heartbeat is not stuck behind a large append', async () => {
  const [a, b] = [await transport(A), await transport(B)]
  connect([a, b])
  const order: MessageType[] = []
  b.onMessage((m) => order.push(m.type))
  // warm both connections so the comparison is not about TCP handshakes
  a.send([msg(A, B), msg(A, B, { type: MessageType.App, entries: [{ term: 1, index: 1, type: EntryType.Normal, data: 'x' }] })])
  await until(() => order.length === 2)
  order.length = 0
  const big = 'y'.repeat(1024 * 1024)
  const entries = Array.from({ length: 24 }, (_, i) => ({ term: 1, index: 2 + i, type: EntryType.Normal, data: big }))
  a.send([msg(A, B, { type: MessageType.App, index: 1, entries })])
  a.send([msg(A, B, { type: MessageType.Heartbeat })])
  await until(() => order.length >= 2, 10_000)
  assert.is(order[0], MessageType.Heartbeat)
})

t('a member of another cluster is refused with 412 and one clear log line; the sender learns the peer is unreachable', async () => {
  const bl = capture()
  const b = await transport(B, { log: bl.log })
  const a = await transport(A, { clusterId: '1111111111111111' })
  a.addPeer(B, b.urls)
  let delivered = 0
  b.onMessage(() => delivered++)
  const unreachable: NodeId[] = []
  a.onUnreachable((id) => unreachable.push(id))
  a.send([msg(A, B)])
  await until(() => unreachable.length === 1)
  await new Promise((r) => setTimeout(r, 150)) // let a retry happen
  a.send([msg(A, B)])
  await until(() => unreachable.length >= 2)
  assert.is(delivered, 0)
  const refused = bl.lines().filter((l) => String(l.msg).includes('another cluster'))
  assert.is(refused.length, 1, 'logged once, not per request')
  assert.is(refused[0]!.remoteClusterId, '1111111111111111')
  // the raw answer a stranger sees
  const res = await fetch(b.urls[0] + '/raft/msg', { method: 'POST', headers: { 'X-Etcd-Cluster-ID': 'abc', 'X-Server-From': 'a' }, body: '' })
  assert.is(res.status, 412)
  assert.match(await res.text(), /cluster ID mismatch: local=c76dfb96de16906b remote=abc/)
})

t('a large snapshot is streamed in chunks and arrives intact (multi-byte text across chunk edges)', async () => {
  const chunks: number[] = []
  const raw = new PeerServer({ listen: [LOOPBACK] })
  raw.route('POST', RAFT_SNAPSHOT_PATH, (req, res) => {
    req.on('data', (c: Buffer) => chunks.push(c.length))
    req.on('end', () => {
      res.statusCode = 204
      res.end()
    })
  })
  await raw.start()
  const a = await transport(A, { snapshotChunkChars: 16 * 1024 })
  const b = await transport(B, { snapshotChunkChars: 16 * 1024 })
  connect([a, b])
  a.addPeer(C, raw.urls)
  const data = 'aé😀'.repeat(300_000) // 2.7 MB of UTF-8, surrogate pairs everywhere
  let got: Message | undefined
  b.onMessage((m) => (got = m))
  const status: [NodeId, boolean][] = []
  a.onSnapshotStatus((id, ok) => status.push([id, ok]))
  const snap = { metadata: { index: 900, term: 3, conf: { voters: [A, B] } }, data }
  a.send([msg(A, B, { type: MessageType.Snap, snapshot: snap }), msg(A, C, { type: MessageType.Snap, snapshot: snap })])
  await until(() => status.length === 2, 10_000)
  assert.ok(got, 'snapshot delivered')
  assert.is(got!.snapshot!.data.length, data.length)
  assert.ok(got!.snapshot!.data === data, 'data identical')
  assert.equal(got!.snapshot!.metadata, snap.metadata)
  assert.equal(status.sort(), [[A === A ? B : B, true], [C, true]].sort())
  assert.ok(chunks.length > 5, `body arrived in ${chunks.length} pieces`)
  assert.ok(Math.max(...chunks) < 1024 * 1024, 'no single buffered write of the whole snapshot')
  await raw.stop()
})

t('peer down: unreachable reported, nothing queued forever; peer back on the same port: delivery resumes', async () => {
  const a = await transport(A)
  let b = await transport(B)
  connect([a, b])
  const port = Number(new URL(b.urls[0]!).port)
  const unreachable = await deliverThenStop(a, b, msg(A, B))
  for (let i = 0; i < 5; i++) {
    a.send([msg(A, B)])
    await new Promise((r) => setTimeout(r, 30))
  }
  await until(() => unreachable.length > 0)
  assert.is(a.stats(B)!.active, false)
  b = await transport(B, { listen: [{ ...LOOPBACK, port, url: `http://127.0.0.1:${port}` }] })
  let m = 0
  b.onMessage(() => m++)
  const end = Date.now() + 3000
  while (m === 0 && Date.now() < end) {
    a.send([msg(A, B)]) // Raft keeps sending heartbeats; the transport reconnects after its backoff
    await new Promise((r) => setTimeout(r, 20))
  }
  assert.ok(m > 0, 'delivered after restart')
  await until(() => a.stats(B)!.active)
})

t('queues are bounded: a peer that never answers costs at most maxQueuedMessages per channel', async () => {
  const hang = http.createServer(() => {}) // accepts, never answers
  await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r))
  const port = (hang.address() as AddressInfo).port
  const a = await transport(A, { maxQueuedMessages: 100, requestTimeoutMs: 300, streaming: false })
  a.addPeer(B, [`http://127.0.0.1:${port}`])
  const unreachable: NodeId[] = []
  a.onUnreachable((id) => unreachable.push(id))
  const app = (i: number): Message => msg(A, B, { type: MessageType.App, entries: [{ term: 1, index: i, type: EntryType.Normal, data: 'z' }] })
  a.send([app(0)]) // in flight, hanging
  await new Promise((r) => setTimeout(r, 20))
  for (let i = 1; i <= 1000; i++) a.send([app(i)])
  const s = a.stats(B)!
  assert.is(s.messagesDropped, 900)
  assert.ok(unreachable.length >= 1, 'full append queue reported')
  await until(() => a.stats(B)!.fail >= 1, 3000, 'request timeout')
  hang.closeAllConnections()
  await new Promise((r) => hang.close(() => r(undefined)))
})

t('a peer that answers early and resets the upload does not crash the sender', async () => {
  const rude = http.createServer((req, res) => {
    req.once('data', () => {
      res.writeHead(413)
      res.end('no')
      req.destroy()
    })
  })
  await new Promise<void>((r) => rude.listen(0, '127.0.0.1', r))
  const a = await transport(A, { streaming: false }) // the per-batch upload path
  a.addPeer(B, [`http://127.0.0.1:${(rude.address() as AddressInfo).port}`])
  const unreachable: NodeId[] = []
  a.onUnreachable((id) => unreachable.push(id))
  const entries = Array.from({ length: 16 }, (_, i) => ({ term: 1, index: i + 1, type: EntryType.Normal, data: 'q'.repeat(1 << 20) }))
  a.send([msg(A, B, { type: MessageType.App, entries })])
  await until(() => unreachable.length === 1)
  await new Promise((r) => setTimeout(r, 200)) // a late socket error would surface here
  assert.is(a.stats(B)!.fail, 1)
  rude.closeAllConnections()
  await new Promise((r) => rude.close(() => r(undefined)))
})

t('removePeer stops delivery; unknown and local messages are dropped without throwing', async () => {
  const [a, b] = [await transport(A), await transport(B)]
  connect([a, b])
  let n = 0
  b.onMessage(() => n++)
  a.send([msg(A, C), msg(A, B, { type: MessageType.Hup }), msg(A, B)])
  await until(() => n === 1)
  a.removePeer(B)
  a.send([msg(A, B)])
  await new Promise((r) => setTimeout(r, 100))
  assert.is(n, 1)
  assert.is(a.stats(B), undefined)
})

t('a removed member is answered 410 and learns it was removed', async () => {
  const b = await transport(B, { isRemoved: (id) => id === A })
  let removed = 0
  const a = await transport(A, { onRemoved: () => removed++ })
  connect([a, b])
  let atB = 0
  b.onMessage(() => atB++)
  a.send([msg(A, B)])
  await until(() => removed === 1)
  assert.is(atB, 0)
})

t('a peer with several URLs is reached on the next one when the first is dead; updatePeer switches URLs', async () => {
  const [a, b] = [await transport(A), await transport(B)]
  const dead = await deadUrl()
  a.addPeer(B, [dead, ...b.urls])
  let n = 0
  b.onMessage(() => n++)
  // Sent again until one arrives: the first may go to a connection that is still failing.
  await repeatUntil(() => a.send([msg(A, B)]), () => n > 0, 3000, 'delivered through the second URL')
  const c = await transport(B) // "B" moved to a new address (MEM-6)
  let m = 0
  c.onMessage(() => m++)
  a.updatePeer(B, c.urls)
  a.send([msg(A, B)])
  await until(() => m === 1)
})

t('peer server: extra routes, 404 and 405', async () => {
  const a = await transport(A)
  a.peerServer.route('GET', '/members', (_req, res) => {
    res.setHeader('Content-Type', 'application/json')
    res.end('[]')
  })
  const base = a.urls[0]!
  assert.is(await (await fetch(base + '/members')).text(), '[]')
  assert.is((await fetch(base + '/nope')).status, 404)
  const r = await fetch(base + '/raft/msg')
  assert.is(r.status, 405)
  assert.is(r.headers.get('allow'), 'POST')
})

t.run()
