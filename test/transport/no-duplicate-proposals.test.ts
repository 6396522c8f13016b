// A proposal is not idempotent: the per-request transport path must never resend a batch holding
// one after a connection reset (the peer may have taken it before the reset: a duplicated write,
// found by fault seed 113). Raft messages proper may be resent. The peer here reads each request
// fully, then resets the connection on the second request of a keep-alive socket.
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EntryType, MessageType, type Message } from '../../server/raft/types.js'
import { HttpTransport } from '../../server/transport/http-transport.js'

const CLUSTER = 'c76dfb96de16906b'
const A = '000000000000000a'
const B = '000000000000000b'

function msg(type: MessageType, over: Partial<Message> = {}): Message {
  return { type, from: A, to: B, term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...over }
}

/** A fake peer: answers the first request on each socket, resets the socket after reading the second. */
async function resettingPeer(): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0
  const perSocket = new WeakMap<Socket, number>()
  const server = http.createServer((req, res) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1
    perSocket.set(req.socket, n)
    req.resume()
    req.on('end', () => {
      requests++
      if (n === 2) req.socket.resetAndDestroy()
      else res.writeHead(204).end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()) }),
  }
}

/** Sends `first`, then `second` on the same channel's reused keep-alive socket; returns requests the peer read. */
async function scenario(first: Message, second: Message): Promise<number> {
  const peer = await resettingPeer()
  const t = new HttpTransport({ id: A, clusterId: CLUSTER, listen: [], streaming: false, backoffMinMs: 5000, backoffMaxMs: 5000 })
  await t.start()
  t.addPeer(B, [peer.url])
  try {
    t.send([first])
    const until = Date.now() + 2000
    while (peer.requests() < 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 5))
    await new Promise((r) => setTimeout(r, 50)) // let the keep-alive socket go back to the agent
    t.send([second])
    await new Promise((r) => setTimeout(r, 400))
    return peer.requests()
  } finally {
    await t.stop()
    await peer.close()
  }
}

test('a batch with a proposal is not resent after a reset: the peer sees it once', async () => {
  const prop = (data: string): Message => msg(MessageType.Prop, { term: 0, entries: [{ term: 0, index: 0, type: EntryType.Normal, data }] })
  assert.is(await scenario(prop('{"r":"1"}'), prop('{"r":"2"}')), 2)
})

test('a batch of plain Raft messages is resent once on a fresh connection (idempotent)', async () => {
  assert.is(await scenario(msg(MessageType.Heartbeat), msg(MessageType.Heartbeat, { commit: 3 })), 3)
})

test.run()
