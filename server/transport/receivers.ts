// The receiving side of the HTTP transport: the three /raft routes on the peer port. Each request
// is admitted first (cluster id, addressee, removed sender; refusals answered before any body is
// read), then decoded and its messages handed to the member one at a time.

import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { formatId, parseId } from '../ids.js'
import type { Logger } from '../log.js'
import { MessageType, type Message, type NodeId } from '../raft/types.js'
import { CodecError, FrameDecoder, messageFromArray } from './codec.js'
import { HEADER_CLUSTER_ID, HEADER_FROM, HEADER_TO, STREAM_UPGRADE_PROTOCOL } from './links.js'
import type { PeerCounters } from './peer-counters.js'
import { sendText } from './peer-server.js'

export interface ReceiverOptions {
  id: NodeId
  clusterId: NodeId
  log: Logger
  /** Largest message request body accepted from a peer. */
  maxReceiveBytes: number
  /** False before start() and after stop(): requests get 503. */
  running(): boolean
  /** A sender in this set gets 410 Gone. */
  isRemoved?: (id: NodeId) => boolean
  /** The sender's counters, if it is a known peer. */
  counters(from: NodeId): PeerCounters | undefined
  /** The member's message handler. */
  onMessage(m: Message): void
}

/** An admission refusal: the status and plain-text body to answer with. */
interface Refusal {
  status: number
  body: string
}

export class Receivers {
  /** Refusals already logged (per sender and reason), bounded. */
  private readonly refusedSenders = new Set<string>()

  constructor(private readonly o: ReceiverOptions) {}

  /** Checks cluster id, addressee and removal; answers and returns undefined when refused. */
  private admit(req: IncomingMessage, res: ServerResponse): NodeId | undefined {
    const verdict = this.check(req)
    if (typeof verdict === 'object') {
      sendText(res, verdict.status, verdict.body)
      return undefined
    }
    return verdict
  }

  /** The admission rules shared by every route: the sender's id, or the refusal to answer. */
  private check(req: IncomingMessage): NodeId | Refusal {
    const { log } = this.o
    const self = formatId(this.o.id)
    const cluster = formatId(this.o.clusterId)
    if (!this.o.running()) return { status: 503, body: 'transport not running\n' }
    const cid = header(req, HEADER_CLUSTER_ID)
    const fromText = header(req, HEADER_FROM)
    const from = parseId(fromText)
    if (parseId(cid) !== this.o.clusterId) {
      if (this.firstTime(`${fromText}/${cid}`)) {
        log.error(
          { remoteClusterId: cid, localClusterId: cluster, from: fromText, address: req.socket.remoteAddress },
          'refused peer request from a member of another cluster (cluster ID mismatch)',
        )
      }
      return { status: 412, body: `cluster ID mismatch: local=${cluster} remote=${cid || '(none)'}\n` }
    }
    if (from === undefined) return { status: 400, body: `missing or invalid ${HEADER_FROM} header\n` }
    const to = parseId(header(req, HEADER_TO))
    if (to !== undefined && to !== this.o.id) {
      if (this.firstTime(`to/${fromText}`)) {
        log.error({ from: fromText, to: header(req, HEADER_TO), local: self, address: req.socket.remoteAddress }, 'refused peer request addressed to another member id (412)')
      }
      return { status: 412, body: `to ID mismatch: local=${self} remote=${header(req, HEADER_TO)}\n` }
    }
    if (this.o.isRemoved?.(from)) {
      if (this.firstTime(`removed/${fromText}`)) {
        log.warn({ from: fromText, address: req.socket.remoteAddress }, 'refused peer request from a removed member (410: told it is out)')
      }
      return { status: 410, body: 'the member has been permanently removed from the cluster\n' }
    }
    return from
  }

  /** True the first time a refusal key is seen; the set stays bounded even under a flood (headers are the sender's word). */
  private firstTime(key: string): boolean {
    if (this.refusedSenders.has(key)) return false
    if (this.refusedSenders.size >= 1024) this.refusedSenders.clear()
    this.refusedSenders.add(key)
    return true
  }

  /** POST /raft/msg: one batch of frames; 204 once decoded, then delivered. */
  receiveBatch(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader(HEADER_CLUSTER_ID, formatId(this.o.clusterId))
    const from = this.admit(req, res)
    if (from === undefined) {
      req.resume()
      return
    }
    const { log } = this.o
    const limit = this.o.maxReceiveBytes
    let chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > limit) {
        // Keep reading (and discarding) so the sender gets the answer instead of a reset.
        chunks = []
        return
      }
      chunks.push(c)
    })
    req.on('end', () => {
      if (size > limit) {
        log.warn({ from, bytes: size, limit }, 'batch from peer too large; refused')
        sendText(res, 413, `batch of ${size} bytes exceeds ${limit}\n`)
        return
      }
      let msgs: Message[]
      try {
        const d = new FrameDecoder()
        msgs = d.push(Buffer.concat(chunks, size))
        if (!d.isEmpty()) throw new CodecError('truncated frame')
      } catch (e) {
        log.warn({ from, err: e }, 'undecodable batch from peer')
        sendText(res, 400, `bad batch: ${(e as Error).message}\n`)
        return
      }
      const c = this.o.counters(from)
      if (c) {
        c.bytesReceived += size
        c.messagesReceived += msgs.length
      }
      res.statusCode = 204
      res.end()
      this.deliver(from, msgs)
    })
  }

  /**
   * POST /raft/stream: refused (412/410/...) before anything is read, else 200 at once and then
   * every frame delivered as soon as it is complete; the answer ends only when the stream does.
   */
  receiveStream(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader(HEADER_CLUSTER_ID, formatId(this.o.clusterId))
    const from = this.admit(req, res)
    if (from === undefined) {
      req.resume()
      return
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' })
    res.flushHeaders()
    req.socket.setNoDelay(true)
    const sink = this.streamSink(from, () => {
      req.destroy()
      res.destroy()
    })
    req.on('data', sink.data)
    req.on('end', () => {
      if (!sink.closed()) res.end()
    })
    req.on('error', () => {})
  }

  /**
   * POST /raft/stream asking `Upgrade: raftkv-stream/1`: the same admission, answered on the raw
   * socket (a refusal is a plain HTTP answer, then the socket ends); admitted, `101 Switching
   * Protocols` and from then on the socket carries the same frames without HTTP chunking.
   * `head` holds the bytes that arrived with the request headers (already frames).
   */
  receiveUpgradedStream(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {})
    const clusterHeader = `${HEADER_CLUSTER_ID}: ${formatId(this.o.clusterId)}\r\n`
    const verdict = this.check(req)
    if (typeof verdict === 'object') {
      const body = Buffer.from(verdict.body)
      socket.end(
        `HTTP/1.1 ${verdict.status} ${STATUS_CODES[verdict.status] ?? ''}\r\n${clusterHeader}` +
          `Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n` +
          `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${verdict.body}`,
      )
      return
    }
    const from = verdict
    socket.write(`HTTP/1.1 101 Switching Protocols\r\n${clusterHeader}Connection: Upgrade\r\nUpgrade: ${STREAM_UPGRADE_PROTOCOL}\r\n\r\n`)
    if ('setNoDelay' in socket && typeof socket.setNoDelay === 'function') socket.setNoDelay(true)
    const sink = this.streamSink(from, () => socket.destroy())
    if (head.length > 0) sink.data(head)
    socket.on('data', sink.data)
    // The sender closed its side: the stream is over (it reconnects if it still has a reason to).
    socket.on('end', () => socket.end())
  }

  /** Decodes one stream's bytes and delivers its messages; `close` ends the stream for good. */
  private streamSink(from: NodeId, close: () => void): { data: (c: Buffer) => void; closed: () => boolean } {
    const decoder = new FrameDecoder()
    let closed = false
    const stop = (): void => {
      closed = true
      close()
    }
    const data = (c: Buffer): void => {
      if (closed) return
      // Stopped meanwhile, or the sender was removed since it connected: end the stream; its
      // reconnect is then refused (410 tells a removed member it is out).
      if (!this.o.running() || this.o.isRemoved?.(from)) {
        stop()
        return
      }
      let msgs: Message[]
      try {
        msgs = decoder.push(c)
      } catch (e) {
        this.o.log.warn({ from, err: e }, 'undecodable message stream from peer; closed')
        stop()
        return
      }
      const counters = this.o.counters(from)
      if (counters) {
        counters.bytesReceived += c.length
        counters.messagesReceived += msgs.length
      }
      if (msgs.length > 0) this.deliver(from, msgs)
    }
    return { data, closed: () => closed }
  }

  /** POST /raft/snapshot: a header frame, then raw snapshot data; 204 once all of it arrived. */
  receiveSnapshot(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader(HEADER_CLUSTER_ID, formatId(this.o.clusterId))
    const from = this.admit(req, res)
    if (from === undefined) {
      req.resume()
      return
    }
    const decoder = new FrameDecoder()
    let head: Message | undefined
    const data: Buffer[] = []
    let size = 0
    let bad: Error | undefined
    // The header frame is the only frame; the bytes after it are raw snapshot data.
    req.on('data', (c: Buffer) => {
      size += c.length
      if (bad) return
      if (head) {
        data.push(c)
        return
      }
      try {
        decoder.append(c)
        const f = decoder.nextFrame()
        if (f === undefined) return
        head = messageFromArray(JSON.parse(f.toString('utf8')))
        const rest = decoder.takeRest()
        if (rest.length > 0) data.push(rest)
      } catch (e) {
        bad = e as Error
      }
    })
    req.on('end', () => {
      if (bad || !head || head.type !== MessageType.Snap || !head.snapshot) {
        this.o.log.warn({ from, err: bad }, 'bad snapshot stream from peer')
        sendText(res, 400, `bad snapshot stream${bad ? ': ' + bad.message : ''}\n`)
        return
      }
      head.snapshot.data = Buffer.concat(data).toString('utf8')
      const c = this.o.counters(from)
      if (c) {
        c.bytesReceived += size
        c.messagesReceived++
      }
      this.o.log.info({ from, index: head.snapshot.metadata.index, bytes: size }, 'snapshot received')
      res.statusCode = 204
      res.end()
      this.deliver(from, [head])
    })
  }

  private deliver(from: NodeId, msgs: Message[]): void {
    for (const m of msgs) {
      // A peer speaks only for itself; anything else is a bug or an impostor.
      if (m.from !== from || m.to !== this.o.id) {
        this.o.log.warn({ from, msgFrom: m.from, msgTo: m.to, type: m.type }, 'message with mismatched from/to dropped')
        continue
      }
      try {
        this.o.onMessage(m)
      } catch (e) {
        this.o.log.error({ err: e, from, type: m.type }, 'message handler threw')
      }
    }
  }
}

function header(req: IncomingMessage, name: string): string {
  const v = req.headers[name.toLowerCase()]
  return (Array.isArray(v) ? v[0] : v) ?? ''
}
