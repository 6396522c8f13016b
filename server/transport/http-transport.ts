// Raft messages between members over HTTP on the peer port, as etcd does. Per peer: a "msg"
// channel (heartbeats, votes, responses) and an "app" channel (all appends), each by default one
// long-lived streamed request carrying frames as they are sent (no reply per batch; see README),
// else one keep-alive connection with at most one batch in flight; plus one request per snapshot.
// Never blocks the caller and never queues without bound: Raft retransmits what is dropped.

import { readFileSync } from 'node:fs'
import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import https from 'node:https'
import { performance } from 'node:perf_hooks'
import type { BindAddress, TlsConfig } from '../config.js'
import { formatId, parseId } from '../ids.js'
import { silentLogger, type Logger } from '../log.js'
import { MessageType, type Message, type NodeId } from '../raft/types.js'
import { CodecError, encodeMessage, FrameDecoder, messageFromArray } from './codec.js'
import { PeerCounters } from './peer-stats.js'
import { PeerServer, sendText } from './peer-server.js'
import type { PeerStats, Transport } from './transport.js'

/** Routes this transport mounts on the peer server. */
export const RAFT_MSG_PATH = '/raft/msg'
export const RAFT_SNAPSHOT_PATH = '/raft/snapshot'
/** One long-lived POST per peer and channel: the body is an endless sequence of frames. */
export const RAFT_STREAM_PATH = '/raft/stream'

/** Headers on every peer request (etcd's names). Ids are hex without leading zeros. */
export const HEADER_CLUSTER_ID = 'X-Etcd-Cluster-ID'
export const HEADER_FROM = 'X-Server-From'
export const HEADER_TO = 'X-Raft-To'

export interface HttpTransportOptions {
  /** This member's id. */
  id: NodeId
  /** Cluster id; requests carrying another one are refused with 412 (and ours are refused by them). */
  clusterId: NodeId
  /** Peer listen addresses (config.listenPeer). Omit or [] when `peerServer` is started elsewhere. */
  listen?: readonly BindAddress[]
  /** Mount the /raft routes on this server instead of creating one; start()/stop() then leave it alone. */
  peerServer?: PeerServer
  /** Peer TLS (--peer-*): server certificate for https listeners, client certificate for https peers. */
  tls?: TlsConfig
  log?: Logger
  /** A sender in this set gets 410 Gone (a removed member must learn it is out, MEM-5). */
  isRemoved?: (id: NodeId) => boolean
  /** Called when a peer answers 410: this member was removed from the cluster. */
  onRemoved?: () => void
  /** Per peer and channel; further messages are dropped. Default 4096. */
  maxQueuedMessages?: number
  /** Upper bound of one batch request body. Default 4 MiB. */
  maxBatchBytes?: number
  /** Largest message request body accepted from a peer. Default 64 MiB (one big append must fit). */
  maxReceiveBytes?: number
  /** A message request without an answer after this long fails. Default 5000. */
  requestTimeoutMs?: number
  /** A snapshot stream idle for this long fails. Default 30000. */
  snapshotIdleTimeoutMs?: number
  /** Characters of snapshot data per write. Default 65536. */
  snapshotChunkChars?: number
  /**
   * Stream messages: per peer and channel one long-lived chunked POST to RAFT_STREAM_PATH whose body
   * is the frames of every batch, written as soon as send() is called (no reply per batch). false:
   * one POST per batch to RAFT_MSG_PATH, one in flight per channel. A peer answering 404/405 to the
   * stream route (an older member) is spoken to per batch. Default true.
   */
  streaming?: boolean
  /** Bytes a stream may hold written but not yet on the wire; a batch beyond that is dropped. Default 4 MiB. */
  maxStreamBufferBytes?: number
  /** Reconnect backoff after failures: min doubles per consecutive failure up to max. Defaults 50 / 1000. */
  backoffMinMs?: number
  backoffMaxMs?: number
}

type ChannelName = 'msg' | 'app'

/** One ordered stream of batches to a peer over one keep-alive connection. */
interface Channel {
  name: ChannelName
  queue: Message[]
  inFlight: ClientRequest | undefined
  scheduled: boolean
  retryTimer: NodeJS.Timeout | undefined
  failures: number
  /** Keep-alive agents by URL scheme (a peer's URLs may change scheme via updatePeer). */
  agents: AgentPair
  /** The open stream (streaming mode), accepted once the peer answered 200. */
  stream: Stream | undefined
  /** Agents of the streams (no keep-alive: a stream owns its connection until it ends). */
  streamAgents: AgentPair
}

interface Stream {
  req: ClientRequest
  accepted: boolean
}

/** Lazily created agents, one per scheme, so a request always gets an agent of its protocol. */
class AgentPair {
  private http: http.Agent | undefined
  private https: https.Agent | undefined
  constructor(private readonly make: (tls: boolean) => http.Agent) {}
  for(url: string): http.Agent {
    if (url.startsWith('https:')) return (this.https ??= this.make(true) as https.Agent)
    return (this.http ??= this.make(false))
  }
  destroy(): void {
    this.http?.destroy()
    this.https?.destroy()
  }
}

interface Peer {
  id: NodeId
  urls: string[]
  urlIndex: number
  msg: Channel
  app: Channel
  snapshot: ClientRequest | undefined
  snapAgents: AgentPair
  /** Log "cluster ID mismatch" once per peer, not per request. */
  refusedLogged: boolean
  /** The peer has no stream route (answered 404/405): talk to it per batch. */
  noStream: boolean
}

/** Message types that only exist inside one member and must never reach the wire. */
const LOCAL_TYPES = new Set<MessageType>([MessageType.Hup, MessageType.Beat, MessageType.SnapStatus, MessageType.Unreachable])

/** HTTP transport; see Transport for the contract. Construct, register handlers, addPeer(), start(). */
export class HttpTransport implements Transport {
  readonly id: NodeId
  readonly clusterId: NodeId
  /** The peer-port server (created here unless passed in). Add more routes with peerServer.route(). */
  readonly peerServer: PeerServer
  private readonly ownsServer: boolean
  private readonly log: Logger
  private readonly opts: Required<
    Pick<
      HttpTransportOptions,
      | 'maxQueuedMessages'
      | 'maxBatchBytes'
      | 'maxReceiveBytes'
      | 'requestTimeoutMs'
      | 'snapshotIdleTimeoutMs'
      | 'snapshotChunkChars'
      | 'backoffMinMs'
      | 'backoffMaxMs'
      | 'streaming'
      | 'maxStreamBufferBytes'
    >
  >
  private readonly peers = new Map<NodeId, Peer>()
  private readonly counters = new Map<NodeId, PeerCounters>()
  private messageHandler: (m: Message) => void = () => {}
  private unreachableHandler: (id: NodeId) => void = () => {}
  private snapshotHandler: (id: NodeId, ok: boolean) => void = () => {}
  private readonly refusedSenders = new Set<string>()
  private started = false
  private stopped = false

  constructor(private readonly options: HttpTransportOptions) {
    this.id = options.id
    this.clusterId = options.clusterId
    this.log = (options.log ?? silentLogger()).child({ component: 'transport' })
    this.opts = {
      maxQueuedMessages: options.maxQueuedMessages ?? 4096,
      maxBatchBytes: options.maxBatchBytes ?? 4 * 1024 * 1024,
      maxReceiveBytes: options.maxReceiveBytes ?? 64 * 1024 * 1024,
      requestTimeoutMs: options.requestTimeoutMs ?? 5000,
      snapshotIdleTimeoutMs: options.snapshotIdleTimeoutMs ?? 30_000,
      snapshotChunkChars: options.snapshotChunkChars ?? 65_536,
      backoffMinMs: options.backoffMinMs ?? 50,
      backoffMaxMs: options.backoffMaxMs ?? 1000,
      streaming: options.streaming ?? true,
      maxStreamBufferBytes: options.maxStreamBufferBytes ?? 4 * 1024 * 1024,
    }
    this.ownsServer = options.peerServer === undefined
    this.peerServer = options.peerServer ?? new PeerServer({ listen: options.listen ?? [], tls: options.tls, log: this.log })
    this.peerServer.route('POST', RAFT_MSG_PATH, (req, res) => this.receiveBatch(req, res))
    this.peerServer.route('POST', RAFT_SNAPSHOT_PATH, (req, res) => this.receiveSnapshot(req, res))
    this.peerServer.route('POST', RAFT_STREAM_PATH, (req, res) => this.receiveStream(req, res))
  }

  /** Peer URLs the peer server actually bound (port 0 replaced); [] before it started. */
  get urls(): string[] {
    return this.peerServer.urls
  }

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    if (this.ownsServer) await this.peerServer.start()
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    for (const id of [...this.peers.keys()]) this.removePeer(id)
    if (this.ownsServer) await this.peerServer.stop()
  }

  onMessage(fn: (m: Message) => void): void {
    this.messageHandler = fn
  }

  onUnreachable(fn: (id: NodeId) => void): void {
    this.unreachableHandler = fn
  }

  onSnapshotStatus(fn: (id: NodeId, ok: boolean) => void): void {
    this.snapshotHandler = fn
  }

  addPeer(id: NodeId, urls: string[]): void {
    if (id === this.id) return
    if (this.peers.has(id)) this.removePeer(id)
    if (urls.length === 0) throw new TypeError(`addPeer(${id}): no URLs`)
    const peer: Peer = {
      id,
      urls: [...urls],
      urlIndex: 0,
      msg: this.newChannel('msg'),
      app: this.newChannel('app'),
      snapshot: undefined,
      snapAgents: new AgentPair((tls) => this.newAgent(tls, false)),
      refusedLogged: false,
      noStream: false,
    }
    this.peers.set(id, peer)
    if (!this.counters.has(id)) this.counters.set(id, new PeerCounters(id))
  }

  removePeer(id: NodeId): void {
    const peer = this.peers.get(id)
    if (!peer) return
    this.peers.delete(id)
    this.counters.delete(id)
    for (const ch of [peer.msg, peer.app]) {
      ch.queue = []
      if (ch.retryTimer) clearTimeout(ch.retryTimer)
      ch.inFlight?.destroy()
      ch.stream?.req.destroy()
      ch.stream = undefined
      ch.agents.destroy()
      ch.streamAgents.destroy()
    }
    peer.snapshot?.destroy()
    peer.snapAgents.destroy()
  }

  updatePeer(id: NodeId, urls: string[]): void {
    const peer = this.peers.get(id)
    if (!peer) {
      this.addPeer(id, urls)
      return
    }
    if (urls.length === 0) throw new TypeError(`updatePeer(${id}): no URLs`)
    peer.urls = [...urls]
    peer.urlIndex = 0
    peer.noStream = false
    // Open streams go to the old URLs; end them so the next batch opens one to the new ones.
    for (const ch of [peer.msg, peer.app]) {
      ch.stream?.req.destroy()
      ch.stream = undefined
    }
  }

  /** Known peer ids. */
  peerIds(): NodeId[] {
    return [...this.peers.keys()]
  }

  /** Counters of one peer (a copy), or undefined for an unknown peer. */
  stats(id: NodeId): PeerStats | undefined {
    return this.counters.get(id)?.snapshot()
  }

  /** Counters of every known peer. */
  allStats(): PeerStats[] {
    return [...this.counters.values()].map((c) => c.snapshot())
  }

  send(msgs: Message[]): void {
    if (this.stopped) return
    let unreachable: Set<NodeId> | undefined
    for (const m of msgs) {
      if (LOCAL_TYPES.has(m.type)) {
        this.log.warn({ type: m.type, to: m.to }, 'local message type given to the transport; dropped')
        continue
      }
      const peer = this.peers.get(m.to)
      if (!peer) {
        this.log.debug({ type: m.type, to: m.to }, 'message to unknown peer dropped')
        continue
      }
      if (m.type === MessageType.Snap) {
        this.sendSnapshot(peer, m)
        continue
      }
      // Every App (even an empty one carrying only a commit index) stays on the append channel so
      // appends to a follower are never reordered among themselves (a reorder reads as a
      // rejection and knocks the follower back to probing); everything else takes the msg channel.
      // Proposals a follower relays to the leader ride the append channel too (a follower sends no
      // appends, so it is idle there): an AppResp on the msg channel then never waits for a
      // proposal batch's round trip, and the leader's commit is not delayed by it.
      const ch = m.type === MessageType.App || m.type === MessageType.Prop ? peer.app : peer.msg
      if (ch.queue.length >= this.opts.maxQueuedMessages) {
        this.counters.get(peer.id)!.messagesDropped++
        // A full append queue means the peer is not keeping up; let Raft slow down and probe (etcd does the same).
        if (ch.name === 'app') (unreachable ??= new Set()).add(peer.id)
        continue
      }
      ch.queue.push(m)
      this.schedule(peer, ch)
    }
    if (unreachable) for (const id of unreachable) this.unreachableHandler(id)
  }

  // ---- sending ----

  private newAgent(tls: boolean, keepAlive: boolean): http.Agent {
    const agentOpts = { keepAlive, maxSockets: 1, timeout: 60_000 }
    if (tls) {
      const tls = this.options.tls
      return new https.Agent({
        ...agentOpts,
        ...(tls && tls.certFile !== '' ? { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) } : {}),
        ...(tls && tls.trustedCaFile !== '' ? { ca: readFileSync(tls.trustedCaFile) } : {}),
      })
    }
    return new http.Agent(agentOpts)
  }

  private newChannel(name: ChannelName): Channel {
    return {
      name,
      queue: [],
      inFlight: undefined,
      scheduled: false,
      retryTimer: undefined,
      failures: 0,
      agents: new AgentPair((tls) => this.newAgent(tls, true)),
      stream: undefined,
      streamAgents: new AgentPair((tls) => this.newAgent(tls, false)),
    }
  }

  /**
   * Writes what send() queued to the sockets now instead of at the end of the tick: the member
   * calls it before it blocks on its own fdatasync, so followers start their writes meanwhile.
   */
  flushNow(): void {
    if (this.stopped) return
    for (const peer of this.peers.values()) {
      for (const ch of [peer.app, peer.msg]) {
        if (!ch.scheduled) continue
        ch.scheduled = false
        this.flush(peer, ch)
      }
    }
  }

  /** Coalesce: everything sent in this tick goes out in one request (queueMicrotask runs after the caller's loop). */
  private schedule(peer: Peer, ch: Channel): void {
    if (ch.scheduled || ch.inFlight || ch.retryTimer) return
    ch.scheduled = true
    queueMicrotask(() => {
      ch.scheduled = false
      this.flush(peer, ch)
    })
  }

  private headers(peer: Peer, contentLength?: number): http.OutgoingHttpHeaders {
    return {
      'Content-Type': 'application/octet-stream',
      [HEADER_CLUSTER_ID]: formatId(this.clusterId),
      [HEADER_FROM]: formatId(this.id),
      [HEADER_TO]: formatId(peer.id),
      ...(contentLength !== undefined ? { 'Content-Length': contentLength } : {}),
    }
  }

  private flush(peer: Peer, ch: Channel, isRetry = false): void {
    if (this.opts.streaming && !peer.noStream) {
      this.flushStream(peer, ch)
      return
    }
    if (this.stopped || this.peers.get(peer.id) !== peer || ch.inFlight || ch.retryTimer || ch.queue.length === 0) return
    const frames: Buffer[] = []
    let bytes = 0
    let n = 0
    while (n < ch.queue.length) {
      const f = encodeMessage(ch.queue[n]!)
      if (n > 0 && bytes + f.length > this.opts.maxBatchBytes) break
      frames.push(f)
      bytes += f.length
      n++
    }
    const batch = ch.queue.splice(0, n)
    const body = Buffer.concat(frames, bytes)
    const url = peer.urls[peer.urlIndex % peer.urls.length]!
    const startedAt = performance.now()
    const counters = this.counters.get(peer.id)!
    const mod = url.startsWith('https:') ? https : http
    let done = false
    const finish = (ok: boolean, reason: string, status?: number, detail?: string): void => {
      if (done) return
      done = true
      ch.inFlight = undefined
      if (this.peers.get(peer.id) !== peer) return
      if (ok) {
        counters.messagesSent += n
        counters.recordSuccess(performance.now() - startedAt, Date.now())
        if (ch.failures > 0) this.log.info({ peer: peer.id, channel: ch.name }, 'peer reachable again')
        ch.failures = 0
        this.flush(peer, ch)
      } else {
        counters.messagesDropped += n
        this.failed(peer, ch, url, reason, status, detail)
      }
    }
    const req = mod.request(url + RAFT_MSG_PATH, { method: 'POST', agent: ch.agents.for(url), headers: this.headers(peer, body.length) }, (res) => {
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
    req.setTimeout(this.opts.requestTimeoutMs, () => req.destroy(new Error(`no answer within ${this.opts.requestTimeoutMs}ms`)))
    req.on('error', (e: NodeJS.ErrnoException) => {
      // A keep-alive connection the peer closed meanwhile (idle timeout, restart) fails on first
      // use; that says nothing about the peer, so resend once on a fresh connection. Never a batch
      // with proposals: the peer may have taken it before the reset, and a proposal is not
      // idempotent (applied twice = a duplicated write). Raft messages proper are idempotent.
      if (!done && !isRetry && req.reusedSocket && e.code === 'ECONNRESET' && !batch.some((m) => m.type === MessageType.Prop)) {
        done = true
        ch.inFlight = undefined
        if (this.peers.get(peer.id) !== peer) return
        ch.queue.unshift(...batch)
        this.flush(peer, ch, true)
        return
      }
      finish(false, e.message)
    })
    req.on('close', () => finish(false, 'connection closed'))
    req.end(body)
  }

  /**
   * Streaming mode: write everything queued to the channel's open stream at once (opening one if
   * there is none; until the peer accepted it the messages wait in the bounded queue).
   */
  private flushStream(peer: Peer, ch: Channel): void {
    if (this.stopped || this.peers.get(peer.id) !== peer || ch.retryTimer || ch.queue.length === 0) return
    const s = ch.stream ?? this.openStream(peer, ch)
    if (!s.accepted) return
    const counters = this.counters.get(peer.id)!
    const batch = ch.queue
    ch.queue = []
    // Backpressure: bytes Node holds for this request (its own buffer plus the socket's).
    if (s.req.writableLength > this.opts.maxStreamBufferBytes) {
      counters.messagesDropped += batch.length
      // The peer (or the path to it) is not keeping up; let Raft slow down and probe, as with a full queue.
      if (ch.name === 'app') this.unreachableHandler(peer.id)
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

  /** Open a stream to the peer's current URL; frames are written only after the peer answered 200. */
  private openStream(peer: Peer, ch: Channel): Stream {
    const url = peer.urls[peer.urlIndex % peer.urls.length]!
    const mod = url.startsWith('https:') ? https : http
    const counters = this.counters.get(peer.id)!
    const startedAt = performance.now()
    const headers = this.headers(peer)
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
      if (this.stopped || this.peers.get(peer.id) !== peer) return
      if ((status === 404 || status === 405) && !peer.noStream) {
        // An older member without the stream route: fall back to one request per batch.
        peer.noStream = true
        this.log.info({ peer: peer.id, url, status }, 'peer has no message stream route; sending per batch')
        this.flush(peer, ch)
        return
      }
      this.failed(peer, ch, url, reason, status, detail)
    }
    req.on('socket', (socket) => socket.setNoDelay(true))
    guardSocket(req)
    // Bound only the wait for the peer's acceptance; an accepted stream may idle indefinitely.
    const acceptTimer = setTimeout(() => end(`stream not accepted within ${this.opts.requestTimeoutMs}ms`), this.opts.requestTimeoutMs)
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
      if (ch.failures > 0) this.log.info({ peer: peer.id, channel: ch.name }, 'peer reachable again')
      ch.failures = 0
      this.flushStream(peer, ch)
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

  /** A request failed: drop what is queued (Raft resends fresh state), tell Raft, back off, try the next URL. */
  private failed(peer: Peer, ch: Channel, url: string, reason: string, status?: number, detail?: string): void {
    const counters = this.counters.get(peer.id)!
    counters.messagesDropped += ch.queue.length
    ch.queue = []
    const becameInactive = counters.recordFailure()
    if (status === 412) {
      if (!peer.refusedLogged) {
        peer.refusedLogged = true
        this.log.error({ peer: peer.id, url, detail }, 'peer refused our messages (412): it belongs to another cluster or has another id')
      }
    } else if (status === 410) {
      this.log.error({ peer: peer.id, url }, 'peer says this member was removed from the cluster (410)')
      this.options.onRemoved?.()
    } else if (becameInactive || ch.failures === 0) {
      this.log.warn({ peer: peer.id, url, channel: ch.name, reason, status, detail }, 'peer unreachable')
    }
    ch.failures++
    if (peer.urls.length > 1) peer.urlIndex = (peer.urlIndex + 1) % peer.urls.length
    const delay = Math.min(this.opts.backoffMaxMs, this.opts.backoffMinMs * 2 ** Math.min(ch.failures - 1, 20))
    ch.retryTimer = setTimeout(() => {
      ch.retryTimer = undefined
      this.flush(peer, ch)
    }, delay)
    ch.retryTimer.unref?.()
    this.unreachableHandler(peer.id)
  }

  /**
   * One streamed POST per snapshot: a header frame (the message without data), then the data in
   * chunks written as the socket drains. A second snapshot while one is in flight is dropped.
   */
  private sendSnapshot(peer: Peer, m: Message): void {
    if (peer.snapshot) {
      this.log.warn({ peer: peer.id }, 'snapshot already being sent; dropping another')
      this.counters.get(peer.id)!.messagesDropped++
      this.snapshotHandler(peer.id, false)
      return
    }
    const url = peer.urls[peer.urlIndex % peer.urls.length]!
    const mod = url.startsWith('https:') ? https : http
    const counters = this.counters.get(peer.id)!
    const data = m.snapshot?.data ?? ''
    const startedAt = performance.now()
    let sentBytes = 0
    let done = false
    const finish = (ok: boolean, reason: string, status?: number): void => {
      if (done) return
      done = true
      peer.snapshot = undefined
      if (this.peers.get(peer.id) !== peer) return
      counters.bytesSent += sentBytes
      if (ok) {
        counters.messagesSent++
        counters.recordSuccess(performance.now() - startedAt, Date.now())
        this.log.info({ peer: peer.id, index: m.snapshot?.metadata.index, bytes: sentBytes }, 'snapshot sent')
      } else {
        counters.messagesDropped++
        counters.recordFailure()
        this.log.warn({ peer: peer.id, url, reason, status }, 'snapshot send failed')
        this.unreachableHandler(peer.id)
      }
      this.snapshotHandler(peer.id, ok)
    }
    const req = mod.request(url + RAFT_SNAPSHOT_PATH, { method: 'POST', agent: peer.snapAgents.for(url), headers: this.headers(peer) }, (res) => {
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
    req.setTimeout(this.opts.snapshotIdleTimeoutMs, () => req.destroy(new Error('snapshot stream idle')))
    req.on('error', (e) => finish(false, e.message))
    req.on('close', () => finish(false, 'connection closed'))

    const header = encodeMessage(m, false)
    sentBytes += header.length
    req.write(header)
    let pos = 0
    const chunk = this.opts.snapshotChunkChars
    const pump = (): void => {
      while (pos < data.length) {
        let end = Math.min(pos + chunk, data.length)
        // Never split a surrogate pair across chunks: each chunk is encoded to UTF-8 on its own.
        const last = data.charCodeAt(end - 1)
        if (end < data.length && last >= 0xd800 && last <= 0xdbff) end--
        const buf = Buffer.from(data.slice(pos, end), 'utf8')
        pos = end
        sentBytes += buf.length
        if (!req.write(buf)) {
          req.once('drain', pump)
          return
        }
      }
      req.end()
    }
    pump()
  }

  // ---- receiving ----

  /** Check cluster id, addressee and removal; answers and returns undefined when refused. */
  private admit(req: IncomingMessage, res: ServerResponse): NodeId | undefined {
    if (!this.started || this.stopped) {
      sendText(res, 503, 'transport not running\n')
      return undefined
    }
    const cid = header(req, HEADER_CLUSTER_ID)
    const fromText = header(req, HEADER_FROM)
    const from = parseId(fromText)
    if (parseId(cid) !== this.clusterId) {
      const key = `${fromText}/${cid}`
      if (!this.refusedSenders.has(key)) {
        if (this.refusedSenders.size >= 1024) this.refusedSenders.clear() // bounded, even under a flood
        this.refusedSenders.add(key)
        this.log.error(
          { remoteClusterId: cid, localClusterId: formatId(this.clusterId), from: fromText, address: req.socket.remoteAddress },
          'refused peer request from a member of another cluster (cluster ID mismatch)',
        )
      }
      sendText(res, 412, `cluster ID mismatch: local=${formatId(this.clusterId)} remote=${cid || '(none)'}\n`)
      return undefined
    }
    if (from === undefined) {
      sendText(res, 400, `missing or invalid ${HEADER_FROM} header\n`)
      return undefined
    }
    const to = parseId(header(req, HEADER_TO))
    if (to !== undefined && to !== this.id) {
      if (!this.refusedSenders.has(`to/${fromText}`)) {
        if (this.refusedSenders.size >= 1024) this.refusedSenders.clear() // the header is the sender's word: keep it bounded
        this.refusedSenders.add(`to/${fromText}`)
        this.log.error({ from: fromText, to: header(req, HEADER_TO), local: formatId(this.id), address: req.socket.remoteAddress }, 'refused peer request addressed to another member id (412)')
      }
      sendText(res, 412, `to ID mismatch: local=${formatId(this.id)} remote=${header(req, HEADER_TO)}\n`)
      return undefined
    }
    if (this.options.isRemoved?.(from)) {
      if (!this.refusedSenders.has(`removed/${fromText}`)) {
        this.refusedSenders.add(`removed/${fromText}`)
        this.log.warn({ from: fromText, address: req.socket.remoteAddress }, 'refused peer request from a removed member (410: told it is out)')
      }
      sendText(res, 410, 'the member has been permanently removed from the cluster\n')
      return undefined
    }
    return from
  }

  private receiveBatch(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader(HEADER_CLUSTER_ID, formatId(this.clusterId))
    const from = this.admit(req, res)
    if (from === undefined) {
      req.resume()
      return
    }
    const limit = this.opts.maxReceiveBytes
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
        this.log.warn({ from, bytes: size, limit }, 'batch from peer too large; refused')
        sendText(res, 413, `batch of ${size} bytes exceeds ${limit}\n`)
        return
      }
      let msgs: Message[]
      try {
        const d = new FrameDecoder()
        msgs = d.push(Buffer.concat(chunks, size))
        if (!d.isEmpty()) throw new CodecError('truncated frame')
      } catch (e) {
        this.log.warn({ from, err: e }, 'undecodable batch from peer')
        sendText(res, 400, `bad batch: ${(e as Error).message}\n`)
        return
      }
      const c = this.counters.get(from)
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
   * A peer's message stream: refused (412/410/...) before anything is read, else 200 at once and then
   * every frame delivered as soon as it is complete; the answer ends only when the stream does.
   */
  private receiveStream(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader(HEADER_CLUSTER_ID, formatId(this.clusterId))
    const from = this.admit(req, res)
    if (from === undefined) {
      req.resume()
      return
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' })
    res.flushHeaders()
    req.socket.setNoDelay(true)
    const decoder = new FrameDecoder()
    let closed = false
    const close = (): void => {
      closed = true
      req.destroy()
      res.destroy()
    }
    req.on('data', (c: Buffer) => {
      if (closed) return
      // Stopped meanwhile, or the sender was removed since it connected: end the stream; its
      // reconnect is then refused (410 tells a removed member it is out).
      if (this.stopped || this.options.isRemoved?.(from)) {
        close()
        return
      }
      let msgs: Message[]
      try {
        msgs = decoder.push(c)
      } catch (e) {
        this.log.warn({ from, err: e }, 'undecodable message stream from peer; closed')
        close()
        return
      }
      const counters = this.counters.get(from)
      if (counters) {
        counters.bytesReceived += c.length
        counters.messagesReceived += msgs.length
      }
      if (msgs.length > 0) this.deliver(from, msgs)
    })
    req.on('end', () => {
      if (!closed) res.end()
    })
    req.on('error', () => {})
  }

  private receiveSnapshot(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader(HEADER_CLUSTER_ID, formatId(this.clusterId))
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
        this.log.warn({ from, err: bad }, 'bad snapshot stream from peer')
        sendText(res, 400, `bad snapshot stream${bad ? ': ' + bad.message : ''}\n`)
        return
      }
      head.snapshot.data = Buffer.concat(data).toString('utf8')
      const c = this.counters.get(from)
      if (c) {
        c.bytesReceived += size
        c.messagesReceived++
      }
      this.log.info({ from, index: head.snapshot.metadata.index, bytes: size }, 'snapshot received')
      res.statusCode = 204
      res.end()
      this.deliver(from, [head])
    })
  }

  private deliver(from: NodeId, msgs: Message[]): void {
    for (const m of msgs) {
      // A peer speaks only for itself; anything else is a bug or an impostor.
      if (m.from !== from || m.to !== this.id) {
        this.log.warn({ from, msgFrom: m.from, msgTo: m.to, type: m.type }, 'message with mismatched from/to dropped')
        continue
      }
      try {
        this.messageHandler(m)
      } catch (e) {
        this.log.error({ err: e, from, type: m.type }, 'message handler threw')
      }
    }
  }
}

/**
 * A peer may reset the connection while a body is still uploading after it already answered; Node
 * then emits the write error on the socket, where nobody listens, and it would crash the process.
 * The request's own 'error'/'close' handlers already account for the failure.
 */
function guardSocket(req: ClientRequest): void {
  const ignore = (): void => {}
  req.on('socket', (socket) => {
    socket.on('error', ignore)
    req.once('close', () => socket.off('error', ignore))
  })
}

function header(req: IncomingMessage, name: string): string {
  const v = req.headers[name.toLowerCase()]
  return (Array.isArray(v) ? v[0] : v) ?? ''
}
