// The streamed peer transport (default): one long-lived POST per peer and channel carrying frames
// with no reply per batch; frames split across chunks; refusal before streaming; backpressure
// drops; a peer without the stream route is spoken to per batch.
import http from 'node:http'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { EntryType, MessageType, type Message, type NodeId } from '../../server/raft/types.js'
import { encodeMessage } from '../../server/transport/codec.js'
import { HEADER_CLUSTER_ID, HEADER_FROM, HEADER_TO, HttpTransport, RAFT_MSG_PATH, RAFT_STREAM_PATH, type HttpTransportOptions } from '../../server/transport/http-transport.js'
import { reservePort } from '../support/ports.js'
import { deliverThenStop } from './peers.js'
import { repeatUntil, until } from '../support/wait.js'

const CLUSTER = 'c76dfb96de16906b'
const A = '000000000000000a'
const B = '000000000000000b'
const LOOPBACK = { url: 'http://127.0.0.1:0', host: '127.0.0.1', port: 0, tls: false }
const open: HttpTransport[] = []
const servers: (http.Server | net.Server)[] = []

async function transport(id: NodeId, over: Partial<HttpTransportOptions> = {}): Promise<HttpTransport> {
  const t = new HttpTransport({ id, clusterId: CLUSTER, listen: [LOOPBACK], backoffMinMs: 20, backoffMaxMs: 100, streaming: true, ...over })
  await t.start()
  open.push(t)
  return t
}

function msg(from: NodeId, to: NodeId, over: Partial<Message> = {}): Message {
  return { type: MessageType.Heartbeat, from, to, term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...over }
}

async function listen<S extends http.Server | net.Server>(s: S): Promise<number> {
  servers.push(s)
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  return (s.address() as AddressInfo).port
}

const t = suite('transport-stream')

t.after.each(async () => {
  await Promise.all(open.splice(0).map((x) => x.stop()))
  for (const s of servers.splice(0)) {
    if (s instanceof http.Server) s.closeAllConnections()
    await new Promise((r) => s.close(() => r(undefined)))
  }
})

t('batches sent in separate ticks share one stream; none waits for a reply', async () => {
  const [a, b] = [await transport(A), await transport(B)]
  a.addPeer(B, b.urls)
  b.addPeer(A, a.urls)
  const got: number[] = []
  b.onMessage((m) => got.push(m.index))
  for (let i = 1; i <= 20; i++) {
    a.send([msg(A, B, { index: i }), msg(A, B, { type: MessageType.App, index: i })])
    await new Promise((r) => setImmediate(r))
  }
  await until(() => got.length === 40)
  const s = a.stats(B)!
  assert.is(s.success, 2, 'one accepted stream per channel')
  assert.is(s.fail, 0)
  assert.is(s.messagesSent, 40)
  assert.ok(s.active)
  await until(() => b.stats(A)!.bytesReceived === s.bytesSent)
  assert.is(b.stats(A)!.messagesReceived, 40)
})

t('the receiver delivers each frame as soon as it is complete, also when split across chunks', async () => {
  const b = await transport(B)
  b.addPeer(A, ['http://127.0.0.1:1'])
  const got: Message[] = []
  b.onMessage((m) => got.push(m))
  const url = new URL(b.urls[0]! + RAFT_STREAM_PATH)
  const req = http.request(url, { method: 'POST', headers: { [HEADER_CLUSTER_ID]: CLUSTER, [HEADER_FROM]: 'a', [HEADER_TO]: 'b', 'Transfer-Encoding': 'chunked' } })
  let status = 0
  req.on('response', (res) => {
    status = res.statusCode ?? 0
    res.resume()
  })
  req.on('error', () => {})
  req.flushHeaders()
  await until(() => status === 200, 3000, 'stream accepted')
  const f = Buffer.concat([encodeMessage(msg(A, B, { index: 1 })), encodeMessage(msg(A, B, { index: 2, entries: [{ term: 1, index: 2, type: EntryType.Normal, data: 'x'.repeat(100) }] }))])
  for (let i = 0; i < f.length; i += 7) {
    req.write(f.subarray(i, i + 7))
    await new Promise((r) => setTimeout(r, 1))
  }
  await until(() => got.length === 2)
  assert.equal(got.map((m) => m.index), [1, 2])
  assert.is(got[1]!.entries[0]!.data, 'x'.repeat(100))
  req.write(encodeMessage(msg(A, B, { index: 3 })))
  await until(() => got.length === 3, 3000, 'a later frame on the same open stream')
  req.destroy()
})

t('another cluster is refused (412) before streaming, no message delivered, one log line each way', async () => {
  const lines: string[] = []
  const log = { child: () => log, info: () => {}, debug: () => {}, warn: (_o: unknown, m: string) => lines.push(m), error: (_o: unknown, m: string) => lines.push(m) } as never
  const b = await transport(B, { log })
  const a = await transport(A, { clusterId: '1234', log })
  a.addPeer(B, b.urls)
  b.addPeer(A, a.urls)
  let delivered = 0
  b.onMessage(() => delivered++)
  for (let i = 0; i < 15; i++) {
    a.send([msg(A, B)])
    await new Promise((r) => setTimeout(r, 20))
  }
  await until(() => a.stats(B)!.fail >= 2)
  assert.is(delivered, 0)
  assert.is(lines.filter((l) => l.includes('412')).length, 1, 'sender logs once')
  assert.is(lines.filter((l) => l.includes('cluster ID mismatch')).length, 1, 'receiver logs once')
})

t('a peer that accepts but stops reading: buffered bytes stay bounded, the rest is dropped', async () => {
  const sockets: net.Socket[] = []
  const port = await listen(
    net.createServer((sock) => {
      sockets.push(sock)
      sock.once('data', () => {
        sock.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')
        sock.pause() // never read the body
      })
    }),
  )
  const a = await transport(A, { maxStreamBufferBytes: 256 * 1024 })
  a.addPeer(B, [`http://127.0.0.1:${port}`])
  const unreachable: NodeId[] = []
  a.onUnreachable((id) => unreachable.push(id))
  const big = (i: number): Message => msg(A, B, { type: MessageType.App, index: i, entries: [{ term: 1, index: i, type: EntryType.Normal, data: 'y'.repeat(1 << 20) }] })
  for (let i = 1; i <= 64; i++) {
    a.send([big(i)])
    await new Promise((r) => setTimeout(r, 2))
  }
  await until(() => a.stats(B)!.messagesDropped > 0, 5000, 'drops')
  assert.ok(unreachable.length >= 1, 'a full append stream is reported')
  assert.ok(a.stats(B)!.bytesSent < 40 * (1 << 20), 'not everything was buffered')
  for (const s of sockets) s.destroy()
})

t('a peer without the stream route (404) is spoken to per batch', async () => {
  let batches = 0
  let streams = 0
  const port = await listen(
    http.createServer((req, res) => {
      req.resume()
      if (req.url === RAFT_STREAM_PATH) {
        streams++
        res.writeHead(404).end('404 page not found\n')
      } else if (req.url === RAFT_MSG_PATH) req.on('end', () => (batches++, res.writeHead(204).end()))
    }),
  )
  const a = await transport(A)
  a.addPeer(B, [`http://127.0.0.1:${port}`])
  a.send([msg(A, B)])
  await until(() => batches === 1)
  a.send([msg(A, B)])
  await until(() => batches === 2)
  assert.is(streams, 1)
  assert.is(a.stats(B)!.fail, 0)
})

t('a member removed while its stream is open is cut off and then told 410', async () => {
  let removedAtB = false
  const b = await transport(B, { isRemoved: (id) => removedAtB && id === A })
  let told = 0
  const a = await transport(A, { onRemoved: () => told++ })
  a.addPeer(B, b.urls)
  b.addPeer(A, a.urls)
  let n = 0
  b.onMessage(() => n++)
  a.send([msg(A, B)])
  await until(() => n === 1)
  removedAtB = true
  const end = Date.now() + 3000
  while (told === 0 && Date.now() < end) {
    a.send([msg(A, B)])
    await new Promise((r) => setTimeout(r, 20))
  }
  assert.ok(told > 0, 'onRemoved called')
  assert.is(n, 1, 'nothing delivered after the removal')
})

t('the stream reopens after the peer restarts', async () => {
  // A reserved port: B comes back on it and nothing else can take it while B is down.
  const port = await reservePort()
  let b = await transport(B, { listen: [{ ...LOOPBACK, port, url: `http://127.0.0.1:${port}` }] })
  const a = await transport(A)
  a.addPeer(B, b.urls)
  const unreachable = await deliverThenStop(a, b, msg(A, B))
  await until(() => unreachable.length > 0, 3000, 'stream end reported')
  b = await transport(B, { listen: [{ ...LOOPBACK, port, url: `http://127.0.0.1:${port}` }] })
  b.addPeer(A, a.urls)
  let m = 0
  b.onMessage(() => m++)
  // Sent again until one arrives: the first may go to a connection that is still failing.
  await repeatUntil(() => a.send([msg(A, B)]), () => m > 0, 3000, 'delivered after restart')
})

t.run()
