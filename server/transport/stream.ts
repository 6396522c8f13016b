// The stream sender: per peer and channel one long-lived POST /raft/stream carrying the frames of
// every batch, written as soon as send() queued them (no reply per batch). The request asks to
// switch protocols: a peer that answers 101 gets the frames on the bare socket; one that answers
// 200 gets them as the chunked request body. Until the peer accepted the stream messages wait in
// the channel's bounded queue.

import { performance } from 'node:perf_hooks'
import { encodeMessage } from './codec.js'
import type { Duplex } from 'node:stream'
import {
  closeStream, currentUrl, guardSocket, RAFT_STREAM_PATH, STREAM_UPGRADE_PROTOCOL, type Channel, type Peer, type SenderContext, type Stream,
} from './links.js'

/**
 * Writes everything queued to the channel's open stream at once (opening one if there is none;
 * until the peer accepted it the messages wait in the bounded queue).
 */
export function flushStream(ctx: SenderContext, peer: Peer, ch: Channel): void {
  if (!ctx.isCurrent(peer) || ch.retryTimer || ch.queue.length === 0) return
  const s = ch.stream ?? openStream(ctx, peer, ch)
  if (!s.accepted) return
  const counters = ctx.counters(peer)
  const batch = ch.queue
  ch.queue = []
  // Backpressure: bytes Node holds for this stream (the request's buffer plus the socket's, or
  // the switched socket's alone).
  const out = s.socket ?? s.req
  if (out.writableLength > ctx.limits.maxStreamBufferBytes) {
    counters.messagesDropped += batch.length
    // The peer (or the path to it) is not keeping up; let Raft slow down and probe, as with a full queue.
    if (ch.name === 'app') ctx.unreachable(peer.id)
    return
  }
  const frames = batch.map((m) => encodeMessage(m))
  const body = frames.length === 1 ? frames[0]! : Buffer.concat(frames)
  counters.bytesSent += body.length
  counters.messagesSent += batch.length
  out.write(body)
  // Node corks a request's socket until the next tick; hand the frames to the kernel right away.
  const sock = s.socket ?? s.req.socket
  if (sock && sock.writableCorked > 0) sock.uncork()
}

/** Opens a stream to the peer's current URL; frames are written only after the peer answered 200. */
function openStream(ctx: SenderContext, peer: Peer, ch: Channel): Stream {
  const { url, mod } = currentUrl(peer)
  const counters = ctx.counters(peer)
  const startedAt = performance.now()
  const headers = ctx.headers(peer)
  headers['Transfer-Encoding'] = 'chunked'
  if (ctx.streamUpgrade) {
    // Ask to drop HTTP chunking; a peer that does not switch (an older member) answers 200 and
    // reads the chunked body as before.
    headers.Connection = 'Upgrade'
    headers.Upgrade = STREAM_UPGRADE_PROTOCOL
  }
  const req = mod.request(url + RAFT_STREAM_PATH, { method: 'POST', agent: ch.streamAgents.for(url), headers })
  const s: Stream = { req, socket: undefined, accepted: false }
  ch.stream = s
  let done = false
  const end = (reason: string, status?: number, detail?: string): void => {
    if (done) return
    done = true
    closeStream(s)
    if (ch.stream !== s) return // replaced (updatePeer) or removed
    ch.stream = undefined
    if (!ctx.isCurrent(peer)) return
    if ((status === 404 || status === 405) && !peer.noStream) {
      // An older member without the stream route: fall back to one request per batch.
      peer.noStream = true
      ctx.log.info({ peer: peer.id, url, status }, 'peer has no message stream route; sending per batch')
      ctx.flush(peer, ch)
      return
    }
    ctx.failed(peer, ch, url, reason, status, detail)
  }
  req.on('socket', (socket) => socket.setNoDelay(true))
  guardSocket(req)
  // Bound only the wait for the peer's acceptance; an accepted stream may idle indefinitely.
  const timeoutMs = ctx.limits.requestTimeoutMs
  const acceptTimer = setTimeout(() => end(`stream not accepted within ${timeoutMs}ms`), timeoutMs)
  acceptTimer.unref?.()
  req.on('response', (res) => {
    clearTimeout(acceptTimer)
    const status = res.statusCode ?? 0
    if (status !== 200) {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => {
        if (chunks.length < 16) chunks.push(c)
      })
      res.on('end', () => end('refused', status, Buffer.concat(chunks).toString('utf8').trim().slice(0, 200)))
      res.on('error', (e) => end(e.message, status))
      res.on('close', () => end('refused', status))
      return
    }
    // Accepted: the peer answers nothing more until the stream ends.
    res.resume()
    res.on('end', () => end('stream ended by peer'))
    res.on('error', (e) => end(e.message))
    res.on('close', () => end('stream closed by peer'))
    accepted()
  })
  // The peer switched protocols: the bare socket is the stream now (frames, no chunking).
  req.on('upgrade', (res, socket: Duplex) => {
    clearTimeout(acceptTimer)
    s.socket = socket
    if (res.headers.upgrade?.toLowerCase() !== STREAM_UPGRADE_PROTOCOL) {
      end(`peer switched to another protocol (${res.headers.upgrade ?? 'none'})`)
      return
    }
    socket.on('error', (e) => end(e.message))
    socket.on('end', () => end('stream ended by peer'))
    socket.on('close', () => end('stream closed by peer'))
    // The peer sends nothing after 101; read (and drop) anyway so its close is noticed.
    socket.resume()
    if (done) {
      socket.destroy()
      return
    }
    accepted()
  })
  const accepted = (): void => {
    if (ch.stream !== s || done) return
    s.accepted = true
    // The only round trip a stream has: request headers out, 200/101 back (connection setup included).
    counters.recordSuccess(performance.now() - startedAt, Date.now())
    if (ch.failures > 0) ctx.log.info({ peer: peer.id, channel: ch.name }, 'peer reachable again')
    ch.failures = 0
    flushStream(ctx, peer, ch)
  }
  req.on('error', (e) => {
    clearTimeout(acceptTimer)
    end(e.message)
  })
  req.on('close', () => {
    // Node closes the request once it handed the switched socket over; the socket's events rule then.
    if (s.socket) return
    clearTimeout(acceptTimer)
    end('connection closed')
  })
  req.flushHeaders()
  return s
}
