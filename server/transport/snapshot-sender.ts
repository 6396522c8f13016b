// The snapshot sender: one streamed POST /raft/snapshot per snapshot, on its own connection per
// peer, one at a time: a header frame (the message without data), then the data in chunks written
// as the socket drains, so a big snapshot never holds the event loop or the message channels.

import type { ClientRequest } from 'node:http'
import { performance } from 'node:perf_hooks'
import { pagedOutFile, snapshotDataChunks } from '../snap/snapshotter.js'
import type { Message, Snapshot } from '../raft/types.js'
import { encodeMessage } from './codec.js'
import { currentUrl, guardSocket, RAFT_SNAPSHOT_PATH, type Peer, type SenderContext } from './links.js'

/** Sends snapshot message `m` to `peer`; a second snapshot while one is in flight is dropped (reported failed). */
export function sendSnapshot(ctx: SenderContext, peer: Peer, m: Message): void {
  if (peer.snapshot) {
    ctx.log.warn({ peer: peer.id }, 'snapshot already being sent; dropping another')
    ctx.counters(peer).messagesDropped++
    ctx.snapshotDone(peer.id, false)
    return
  }
  const { url, mod } = currentUrl(peer)
  const counters = ctx.counters(peer)
  const startedAt = performance.now()
  let sentBytes = 0
  let done = false
  const finish = (ok: boolean, reason: string, status?: number): void => {
    if (done) return
    done = true
    peer.snapshot = undefined
    if (!ctx.isCurrent(peer)) return
    counters.bytesSent += sentBytes
    if (ok) {
      counters.messagesSent++
      counters.recordSuccess(performance.now() - startedAt, Date.now())
      ctx.log.info({ peer: peer.id, index: m.snapshot?.metadata.index, bytes: sentBytes }, 'snapshot sent')
    } else {
      counters.messagesDropped++
      counters.recordFailure()
      ctx.log.warn({ peer: peer.id, url, reason, status }, 'snapshot send failed')
      ctx.unreachable(peer.id)
    }
    ctx.snapshotDone(peer.id, ok)
  }
  const req = mod.request(url + RAFT_SNAPSHOT_PATH, { method: 'POST', agent: peer.snapAgents.for(url), headers: ctx.headers(peer) }, (res) => {
    res.resume()
    res.on('end', () => {
      const ok = res.statusCode === 204 || res.statusCode === 200
      finish(ok, 'refused', res.statusCode)
      if (!ok) req.destroy()
    })
    res.on('error', (e) => finish(false, e.message))
  })
  peer.snapshot = req
  guardSocket(req)
  req.setTimeout(ctx.limits.snapshotIdleTimeoutMs, () => req.destroy(new Error('snapshot stream idle')))
  req.on('error', (e) => finish(false, e.message))
  req.on('close', () => finish(false, 'connection closed'))

  const header = encodeMessage(m, false)
  sentBytes += header.length
  req.write(header)
  // A snapshot saved to disk is streamed from its file (its data is not kept in memory: pageOut).
  const file = m.snapshot && pagedOutFile(m.snapshot)
  if (file !== undefined) {
    void pumpFile(file, m.snapshot!)
    return
  }
  const chunks = dataChunks(m.snapshot, ctx.limits.snapshotChunkChars)
  const pump = (): void => {
    for (let r = chunks.next(); !r.done; r = chunks.next()) {
      const buf = Buffer.from(r.value, 'utf8')
      sentBytes += buf.length
      if (!req.write(buf)) {
        req.once('drain', pump)
        return
      }
    }
    req.end()
  }
  async function pumpFile(file: string, snap: Snapshot): Promise<void> {
    try {
      for await (const buf of snapshotDataChunks(file, snap.metadata, ctx.limits.snapshotChunkChars)) {
        if (done) return
        sentBytes += buf.length
        if (!req.write(buf)) await drainedOrClosed(req)
      }
      if (!done) req.end()
    } catch (e) {
      // A damaged or unreadable file: the stream is cut, so the follower never applies it.
      ctx.log.warn({ peer: peer.id, file, err: (e as Error).message }, 'snapshot file unreadable')
      req.destroy(e as Error)
    }
  }
  pump()
}

function drainedOrClosed(req: ClientRequest): Promise<void> {
  return new Promise((resolve) => {
    const go = (): void => {
      req.off('drain', go)
      req.off('close', go)
      resolve()
    }
    req.once('drain', go)
    req.once('close', go)
  })
}

/**
 * The snapshot data in pieces of at most `size` characters, each encoded to UTF-8 on its own (a
 * surrogate pair is never split). Taken from the snapshot's own pieces when it has them: slicing
 * a string built by concatenation would first copy all of it into one flat string (for a big
 * store, a long pause and a second copy of the snapshot in memory).
 */
export function* dataChunks(snap: Snapshot | undefined, size: number): Generator<string> {
  if (snap === undefined) return
  for (const piece of snap.pieces ?? [snap.data]) {
    let pos = 0
    while (pos < piece.length) {
      let end = Math.min(pos + size, piece.length)
      const last = piece.charCodeAt(end - 1)
      if (end < piece.length && last >= 0xd800 && last <= 0xdbff) end--
      yield piece.slice(pos, end)
      pos = end
    }
  }
}
