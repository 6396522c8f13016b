// Streams that switch protocols: the opener asks `Upgrade: raftkv-stream/1`, a peer that agrees
// answers 101 and both sides move bare frames over the socket; a peer that does not (an older
// member, or streamUpgrade: false) keeps the chunked stream, in either direction.
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { EntryType, MessageType, type Message, type NodeId } from '../../server/raft/types.js'
import { encodeMessage } from '../../server/transport/codec.js'
import {
  HEADER_CLUSTER_ID, HEADER_FROM, HEADER_TO, HttpTransport, RAFT_STREAM_PATH, STREAM_UPGRADE_PROTOCOL, type HttpTransportOptions,
} from '../../server/transport/http-transport.js'
import { PeerServer } from '../../server/transport/peer-server.js'
import { until } from '../support/wait.js'

const CLUSTER = 'c76dfb96de16906b'
const A = '000000000000000a'
const B = '000000000000000b'
const LOOPBACK = { url: 'http://127.0.0.1:0', host: '127.0.0.1', port: 0, tls: false }
const open: HttpTransport[] = []
const peerServers: PeerServer[] = []
const rawServers: net.Server[] = []
const rawSockets: net.Socket[] = []

/** A transport on its own peer server whose stream routes count how streams were opened. */
async function transport(id: NodeId, over: Partial<HttpTransportOptions> = {}): Promise<{ t: HttpTransport; opened: { chunked: number; switched: number } }> {
  const opened = { chunked: 0, switched: 0 }
  const ps = new PeerServer({ listen: [LOOPBACK] })
  const route = ps.route.bind(ps)
  ps.route = (method, path, handler, opts) =>
    route(method, path, path === RAFT_STREAM_PATH ? (req, res) => (opened.chunked++, handler(req, res)) : handler, opts)
  const upgradeRoute = ps.upgradeRoute.bind(ps)
  ps.upgradeRoute = (path, protocol, handler) => upgradeRoute(path, protocol, (req, socket, head) => (opened.switched++, handler(req, socket, head)))
  const t = new HttpTransport({ id, clusterId: CLUSTER, peerServer: ps, backoffMinMs: 20, backoffMaxMs: 100, ...over })
  await ps.start()
  await t.start()
  open.push(t)
  peerServers.push(ps)
  return { t, opened }
}

function msg(from: NodeId, to: NodeId, over: Partial<Message> = {}): Message {
  return { type: MessageType.Heartbeat, from, to, term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...over }
}

function app(i: number, data = `v${i}`): Message {
  return msg(A, B, { type: MessageType.App, index: i, entries: [{ term: 1, index: i, type: EntryType.Normal, data }] })
}

/** A bare TCP server: `onConn` gets each socket and the request head once it arrived whole. */
async function rawServer(onConn: (sock: net.Socket, head: string, rest: Buffer) => void): Promise<number> {
  const s = net.createServer((sock) => {
    rawSockets.push(sock)
    let buf = Buffer.alloc(0)
    const onData = (c: Buffer): void => {
      buf = Buffer.concat([buf, c])
      const at = buf.indexOf('\r\n\r\n')
      if (at < 0) return
      sock.off('data', onData)
      onConn(sock, buf.subarray(0, at).toString('latin1'), buf.subarray(at + 4))
    }
    sock.on('data', onData)
    sock.on('error', () => {})
  })
  rawServers.push(s)
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  return (s.address() as AddressInfo).port
}

/** Connects to `url`, writes `first`, and collects what comes back. */
async function rawClient(url: string, first: Buffer): Promise<{ sock: net.Socket; received: () => string; closed: () => boolean }> {
  const u = new URL(url)
  const sock = net.connect(Number(u.port), u.hostname)
  rawSockets.push(sock)
  sock.setNoDelay(true)
  sock.on('error', () => {})
  let got = ''
  let closed = false
  sock.on('data', (c: Buffer) => (got += c.toString('latin1')))
  sock.on('close', () => (closed = true))
  await new Promise<void>((r) => sock.once('connect', r))
  sock.write(first)
  return { sock, received: () => got, closed: () => closed }
}

function upgradeRequest(headers: Record<string, string>): string {
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')
  return `POST ${RAFT_STREAM_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: ${STREAM_UPGRADE_PROTOCOL}\r\nTransfer-Encoding: chunked\r\n${lines}\r\n`
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 1))

const t = suite('transport stream upgrade')

t.after.each(async () => {
  await Promise.all(open.splice(0).map((x) => x.stop()))
  await Promise.all(peerServers.splice(0).map((x) => x.stop()))
  for (const s of rawSockets.splice(0)) s.destroy()
  await Promise.all(rawServers.splice(0).map((s) => new Promise((r) => s.close(r))))
})

t('two current members switch both streams; messages arrive in order and the counters agree', async () => {
  const [{ t: a, opened: atA }, { t: b, opened: atB }] = [await transport(A), await transport(B)]
  a.addPeer(B, b.urls)
  b.addPeer(A, a.urls)
  const got: string[] = []
  b.onMessage((m) => got.push(`${m.type}:${m.index}`))
  const want: string[] = []
  for (let i = 1; i <= 30; i++) {
    a.send([msg(A, B, { index: i }), app(i)])
    want.push(`${MessageType.Heartbeat}:${i}`, `${MessageType.App}:${i}`)
    if (i % 3 === 0) await tick()
  }
  await until(() => got.length === 60)
  const only = (type: MessageType): string[] => got.filter((g) => g.startsWith(`${type}:`))
  assert.equal(only(MessageType.App), want.filter((w) => w.startsWith(`${MessageType.App}:`)), 'appends in order')
  assert.equal(only(MessageType.Heartbeat), want.filter((w) => w.startsWith(`${MessageType.Heartbeat}:`)), 'msg channel in order')
  assert.equal(atB, { chunked: 0, switched: 2 }, 'both channels switched')
  assert.equal(atA, { chunked: 0, switched: 0 })
  const s = a.stats(B)!
  assert.is(s.success, 2)
  assert.is(s.fail, 0)
  assert.is(s.messagesSent, 60)
  await until(() => b.stats(A)!.bytesReceived === s.bytesSent)
  assert.is(b.stats(A)!.messagesReceived, 60)
})

t('rolling upgrade: a new opener and a receiver that refuses the switch (and the reverse) keep chunked streams', async () => {
  const { t: oldB, opened: atOldB } = await transport(B, { streamUpgrade: false })
  const { t: a, opened: atA } = await transport(A)
  a.addPeer(B, oldB.urls)
  oldB.addPeer(A, a.urls)
  const atB: number[] = []
  const atAGot: number[] = []
  oldB.onMessage((m) => atB.push(m.index))
  a.onMessage((m) => atAGot.push(m.index))
  for (let i = 1; i <= 10; i++) {
    a.send([app(i)]) // new opener -> receiver without the switch
    oldB.send([msg(B, A, { index: i })]) // old opener (asks nothing) -> new receiver
    await tick()
  }
  await until(() => atB.length === 10 && atAGot.length === 10)
  assert.equal(atB, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  assert.equal(atAGot, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  assert.equal(atOldB, { chunked: 1, switched: 0 }, 'the new opener fell back to a chunked stream')
  assert.equal(atA, { chunked: 1, switched: 0 }, 'the old opener was served a chunked stream')
  assert.is(a.stats(B)!.fail, 0)
  assert.is(oldB.stats(A)!.fail, 0)
  await until(() => oldB.stats(A)!.bytesReceived === a.stats(B)!.bytesSent)
})

t('the opener writes bare frames after 101: exactly the encoded messages, in order, no chunk framing', async () => {
  let request = ''
  let after = Buffer.alloc(0)
  const port = await rawServer((sock, head, rest) => {
    request = head
    sock.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${STREAM_UPGRADE_PROTOCOL}\r\n\r\n`)
    after = rest
    sock.on('data', (c: Buffer) => (after = Buffer.concat([after, c])))
  })
  const { t: a } = await transport(A)
  a.addPeer(B, [`http://127.0.0.1:${port}`])
  const sent: Message[] = []
  for (let i = 1; i <= 20; i++) {
    const m = app(i, 'é'.repeat(i * 50))
    sent.push(m)
    a.send([m])
    await tick()
  }
  const want = Buffer.concat(sent.map((m) => encodeMessage(m)))
  await until(() => after.length >= want.length)
  assert.match(request, new RegExp(`^POST ${RAFT_STREAM_PATH} HTTP/1.1\r\n`))
  assert.match(request.toLowerCase(), `\r\nupgrade: ${STREAM_UPGRADE_PROTOCOL}\r\n`)
  assert.match(request.toLowerCase(), `\r\n${HEADER_CLUSTER_ID.toLowerCase()}: ${CLUSTER}\r\n`)
  assert.ok(after.equals(want), 'bytes after 101 are the frames, back to back')
  assert.is(a.stats(B)!.bytesSent, want.length)
  assert.is(a.stats(B)!.success, 1)
})

t('a switched stream whose peer stops reading: buffered bytes stay bounded, the rest is dropped and reported', async () => {
  const port = await rawServer((sock) => {
    sock.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${STREAM_UPGRADE_PROTOCOL}\r\n\r\n`)
    sock.pause() // never read the frames
  })
  const { t: a } = await transport(A, { maxStreamBufferBytes: 256 * 1024 })
  a.addPeer(B, [`http://127.0.0.1:${port}`])
  const unreachable: NodeId[] = []
  a.onUnreachable((id) => unreachable.push(id))
  for (let i = 1; i <= 64; i++) {
    a.send([app(i, 'y'.repeat(1 << 20))])
    await new Promise((r) => setTimeout(r, 2))
  }
  await until(() => a.stats(B)!.messagesDropped > 0, 5000, 'drops')
  assert.ok(unreachable.length >= 1, 'a full append stream is reported')
  assert.ok(a.stats(B)!.bytesSent < 40 * (1 << 20), 'not everything was buffered')
})

t('the receiver decodes frames split at every byte boundary, the first bytes riding with the request headers', async () => {
  const { t: b } = await transport(B)
  b.addPeer(A, ['http://127.0.0.1:1'])
  const got: Message[] = []
  b.onMessage((m) => got.push(m))
  const sent = [app(1, 'x'), app(2, 'ü'.repeat(300)), msg(A, B, { index: 3 }), app(4, '{"k":"v"}')]
  const frames = Buffer.concat(sent.map((m) => encodeMessage(m)))
  const head = Buffer.from(upgradeRequest({ [HEADER_CLUSTER_ID]: CLUSTER, [HEADER_FROM]: 'a', [HEADER_TO]: 'b' }), 'latin1')
  // Three bytes of the first frame's length in the same write as the headers.
  const c = await rawClient(b.urls[0]!, Buffer.concat([head, frames.subarray(0, 3)]))
  await until(() => c.received().includes('\r\n\r\n'))
  assert.match(c.received(), /^HTTP\/1\.1 101 Switching Protocols\r\n/)
  assert.match(c.received().toLowerCase(), `\r\nupgrade: ${STREAM_UPGRADE_PROTOCOL}\r\n`)
  for (let i = 3; i < frames.length; i++) {
    c.sock.write(frames.subarray(i, i + 1))
    if (i % 8 === 0) await new Promise((r) => setImmediate(r))
  }
  await until(() => got.length === 4)
  assert.equal(got, sent)
  assert.is(b.stats(A)!.bytesReceived, frames.length)
  assert.is(b.stats(A)!.messagesReceived, 4)
  // The sender closing its side ends the stream; the receiver closes too.
  c.sock.end()
  await until(() => c.closed())
})

t('refusals of a switch are plain HTTP answers on the socket: another cluster 412, a removed member 410, then closed', async () => {
  const { t: b } = await transport(B, { isRemoved: (id) => id === '000000000000000c' })
  b.addPeer(A, ['http://127.0.0.1:1'])
  let delivered = 0
  b.onMessage(() => delivered++)
  const frame = encodeMessage(msg(A, B))
  const foreign = await rawClient(b.urls[0]!, Buffer.concat([Buffer.from(upgradeRequest({ [HEADER_CLUSTER_ID]: '1234', [HEADER_FROM]: 'a', [HEADER_TO]: 'b' })), frame]))
  const removed = await rawClient(b.urls[0]!, Buffer.from(upgradeRequest({ [HEADER_CLUSTER_ID]: CLUSTER, [HEADER_FROM]: 'c', [HEADER_TO]: 'b' })))
  const wrongTo = await rawClient(b.urls[0]!, Buffer.from(upgradeRequest({ [HEADER_CLUSTER_ID]: CLUSTER, [HEADER_FROM]: 'a', [HEADER_TO]: 'd' })))
  await until(() => foreign.closed() && removed.closed() && wrongTo.closed(), 3000, 'refused sockets closed')
  assert.match(foreign.received(), /^HTTP\/1\.1 412 Precondition Failed\r\n/)
  assert.match(foreign.received(), `\r\n${HEADER_CLUSTER_ID}: ${CLUSTER}\r\n`)
  assert.ok(foreign.received().endsWith(`\r\n\r\ncluster ID mismatch: local=${CLUSTER} remote=1234\n`), foreign.received())
  assert.match(removed.received(), /^HTTP\/1\.1 410 Gone\r\n/)
  assert.ok(removed.received().endsWith('\r\n\r\nthe member has been permanently removed from the cluster\n'))
  assert.match(wrongTo.received(), /^HTTP\/1\.1 412 Precondition Failed\r\n/)
  assert.ok(wrongTo.received().endsWith(`\r\n\r\nto ID mismatch: local=b remote=d\n`))
  assert.is(delivered, 0)
})

t('stopping the receiver ends switched streams: the opener reports the peer and the socket is closed', async () => {
  const { t: b } = await transport(B)
  const { t: a } = await transport(A)
  a.addPeer(B, b.urls)
  b.addPeer(A, a.urls)
  const unreachable: NodeId[] = []
  a.onUnreachable((id) => unreachable.push(id))
  let n = 0
  b.onMessage(() => n++)
  a.send([msg(A, B)])
  await until(() => n === 1)
  await b.stop()
  // The HTTP server no longer tracks a switched socket: unless the peer server ends it, stop() never returns.
  const [ps] = peerServers.splice(peerServers.length - 2, 1)
  let stopped = false
  void ps!.stop().then(() => (stopped = true))
  await until(() => stopped, 3000, 'peer server stopped')
  await until(() => unreachable.includes(B), 3000, 'stream end reported')
})

t.run()
