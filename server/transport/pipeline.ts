// The per-batch sender: one POST /raft/msg per batch, at most one in flight per channel, over a
// keep-alive connection. Used when streaming is off or the peer has no stream route. Everything
// queued while a request is out goes in the next one (up to maxBatchBytes).

import { performance } from 'node:perf_hooks'
import { MessageType } from '../raft/types.js'
import { encodeMessage } from './codec.js'
import { currentUrl, guardSocket, RAFT_MSG_PATH, type Channel, type Peer, type SenderContext } from './links.js'

/** Sends the next batch of `ch` unless one is in flight or the channel is backing off. */
export function sendBatch(ctx: SenderContext, peer: Peer, ch: Channel, isRetry = false): void {
  if (!ctx.isCurrent(peer) || ch.inFlight || ch.retryTimer || ch.queue.length === 0) return
  const frames: Buffer[] = []
  let bytes = 0
  let n = 0
  while (n < ch.queue.length) {
    const f = encodeMessage(ch.queue[n]!)
    if (n > 0 && bytes + f.length > ctx.limits.maxBatchBytes) break
    frames.push(f)
    bytes += f.length
    n++
  }
  const batch = ch.queue.splice(0, n)
  const body = Buffer.concat(frames, bytes)
  const { url, mod } = currentUrl(peer)
  const startedAt = performance.now()
  const counters = ctx.counters(peer)
  let done = false
  const finish = (ok: boolean, reason: string, status?: number, detail?: string): void => {
    if (done) return
    done = true
    ch.inFlight = undefined
    if (!ctx.isCurrent(peer)) return
    if (ok) {
      counters.messagesSent += n
      counters.recordSuccess(performance.now() - startedAt, Date.now())
      if (ch.failures > 0) ctx.log.info({ peer: peer.id, channel: ch.name }, 'peer reachable again')
      ch.failures = 0
      ctx.flush(peer, ch)
    } else {
      counters.messagesDropped += n
      ctx.failed(peer, ch, url, reason, status, detail)
    }
  }
  const req = mod.request(url + RAFT_MSG_PATH, { method: 'POST', agent: ch.agents.for(url), headers: ctx.headers(peer, body.length) }, (res) => {
    const chunks: Buffer[] = []
    res.on('data', (c: Buffer) => {
      if (chunks.length < 16) chunks.push(c)
    })
    res.on('end', () => {
      const status = res.statusCode ?? 0
      if (status === 204 || status === 200) finish(true, 'ok')
      else {
        finish(false, 'refused', status, Buffer.concat(chunks).toString('utf8').trim().slice(0, 200))
        req.destroy() // the body may still be uploading; never hand this connection back to the agent
      }
    })
    res.on('error', (e) => finish(false, e.message))
  })
  ch.inFlight = req
  guardSocket(req)
  counters.bytesSent += body.length
  const timeoutMs = ctx.limits.requestTimeoutMs
  req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs}ms`)))
  req.on('error', (e: NodeJS.ErrnoException) => {
    // A keep-alive connection the peer closed meanwhile (idle timeout, restart) fails on first
    // use; that says nothing about the peer, so resend once on a fresh connection. Never a batch
    // with proposals: the peer may have taken it before the reset, and a proposal is not
    // idempotent (applied twice = a duplicated write). Raft messages proper are idempotent.
    if (!done && !isRetry && req.reusedSocket && e.code === 'ECONNRESET' && !batch.some((m) => m.type === MessageType.Prop)) {
      done = true
      ch.inFlight = undefined
      if (!ctx.isCurrent(peer)) return
      ch.queue.unshift(...batch)
      sendBatch(ctx, peer, ch, true)
      return
    }
    finish(false, e.message)
  })
  req.on('close', () => finish(false, 'connection closed'))
  req.end(body)
}
