// The stream sender: per peer and channel one long-lived chunked POST /raft/stream whose body is
// the frames of every batch, written as soon as send() queued them (no reply per batch). Until the
// peer accepted the stream (200) messages wait in the channel's bounded queue.

import { performance } from 'node:perf_hooks'
import { encodeMessage } from './codec.js'
import { currentUrl, guardSocket, RAFT_STREAM_PATH, type Channel, type Peer, type SenderContext, type Stream } from './links.js'

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
  // Backpressure: bytes Node holds for this request (its own buffer plus the socket's).
  if (s.req.writableLength > ctx.limits.maxStreamBufferBytes) {
    counters.messagesDropped += batch.length
    // The peer (or the path to it) is not keeping up; let Raft slow down and probe, as with a full queue.
    if (ch.name === 'app') ctx.unreachable(peer.id)
    return
  }
  const frames = batch.map((m) => encodeMessage(m))
  const body = frames.length === 1 ? frames[0]! : Buffer.concat(frames)
  counters.bytesSent += body.length
  counters.messagesSent += batch.length
  s.req.write(body)
  // Node corks a request's socket until the next tick; hand the frames to the kernel right away.
  const sock = s.req.socket
  if (sock && sock.writableCorked > 0) sock.uncork()
}

/** Opens a stream to the peer's current URL; frames are written only after the peer answered 200. */
function openStream(ctx: SenderContext, peer: Peer, ch: Channel): Stream {
  const { url, mod } = currentUrl(peer)
  const counters = ctx.counters(peer)
  const startedAt = performance.now()
  const headers = ctx.headers(peer)
  headers['Transfer-Encoding'] = 'chunked'
  const req = mod.request(url + RAFT_STREAM_PATH, { method: 'POST', agent: ch.streamAgents.for(url), headers })
  const s: Stream = { req, accepted: false }
  ch.stream = s
  let done = false
  const end = (reason: string, status?: number, detail?: string): void => {
    if (done) return
    done = true
    req.destroy()
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
    if (ch.stream !== s || done) return
    s.accepted = true
    // The only round trip a stream has: request headers out, 200 back (connection setup included).
    counters.recordSuccess(performance.now() - startedAt, Date.now())
    if (ch.failures > 0) ctx.log.info({ peer: peer.id, channel: ch.name }, 'peer reachable again')
    ch.failures = 0
    flushStream(ctx, peer, ch)
  })
  req.on('error', (e) => {
    clearTimeout(acceptTimer)
    end(e.message)
  })
  req.on('close', () => {
    clearTimeout(acceptTimer)
    end('connection closed')
  })
  req.flushHeaders()
  return s
}
