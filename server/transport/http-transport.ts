// Raft messages between members over HTTP on the peer port, as etcd does. Per peer: a "msg"
// channel (heartbeats, votes, responses) and an "app" channel (all appends), each by default one
// long-lived streamed request carrying frames as they are sent (stream.ts; no reply per batch, see
// README), else one keep-alive connection with at most one batch in flight (pipeline.ts); plus one
// request per snapshot (snapshot-sender.ts). The /raft routes are served by receivers.ts.
// Never blocks the caller and never queues without bound: Raft retransmits what is dropped.

import { readFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import type { BindAddress, TlsConfig } from '../config.js'
import { formatId } from '../ids.js'
import { silentLogger, type Logger } from '../log.js'
import { MessageType, type Message, type NodeId } from '../raft/types.js'
import {
  AgentPair, closeStream, HEADER_CLUSTER_ID, HEADER_FROM, HEADER_TO, RAFT_MSG_PATH, RAFT_SNAPSHOT_PATH, RAFT_STREAM_PATH, STREAM_UPGRADE_PROTOCOL,
  type Channel, type ChannelName, type Peer, type SenderContext, type SenderLimits,
} from './links.js'
import { PeerCounters } from './peer-counters.js'
import { PeerServer } from './peer-server.js'
import { sendBatch } from './pipeline.js'
import { Receivers } from './receivers.js'
import { sendSnapshot } from './snapshot-sender.js'
import { flushStream } from './stream.js'
import type { PeerLinkStats, Transport } from './transport.js'

export { RAFT_MSG_PATH, RAFT_SNAPSHOT_PATH, RAFT_STREAM_PATH, STREAM_UPGRADE_PROTOCOL, HEADER_CLUSTER_ID, HEADER_FROM, HEADER_TO } from './links.js'

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
  /**
   * Streams switch protocols when the peer agrees: the opener asks `Upgrade: raftkv-stream/1` and
   * a peer answering `101` carries the frames on the bare socket (no chunking: less CPU per
   * message); the receiver accepts such requests. false: neither asks nor accepts (a peer then
   * sees plain chunked streams, as from an older member). Default true.
   */
  streamUpgrade?: boolean
  /** Bytes a stream may hold written but not yet on the wire; a batch beyond that is dropped. Default 4 MiB. */
  maxStreamBufferBytes?: number
  /** Reconnect backoff after failures: min doubles per consecutive failure up to max. Defaults 50 / 1000. */
  backoffMinMs?: number
  backoffMaxMs?: number
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
  private readonly limits: SenderLimits
  private readonly maxQueuedMessages: number
  private readonly streaming: boolean
  private readonly backoffMinMs: number
  private readonly backoffMaxMs: number
  private readonly peers = new Map<NodeId, Peer>()
  private readonly counters = new Map<NodeId, PeerCounters>()
  private messageHandler: (m: Message) => void = () => {}
  private unreachableHandler: (id: NodeId) => void = () => {}
  private snapshotHandler: (id: NodeId, ok: boolean) => void = () => {}
  private readonly sender: SenderContext
  private started = false
  private stopped = false

  constructor(private readonly options: HttpTransportOptions) {
    this.id = options.id
    this.clusterId = options.clusterId
    this.log = (options.log ?? silentLogger()).child({ component: 'transport' })
    this.limits = {
      maxBatchBytes: options.maxBatchBytes ?? 4 * 1024 * 1024,
      requestTimeoutMs: options.requestTimeoutMs ?? 5000,
      snapshotIdleTimeoutMs: options.snapshotIdleTimeoutMs ?? 30_000,
      snapshotChunkChars: options.snapshotChunkChars ?? 65_536,
      maxStreamBufferBytes: options.maxStreamBufferBytes ?? 4 * 1024 * 1024,
    }
    this.maxQueuedMessages = options.maxQueuedMessages ?? 4096
    this.streaming = options.streaming ?? true
    this.backoffMinMs = options.backoffMinMs ?? 50
    this.backoffMaxMs = options.backoffMaxMs ?? 1000
    this.sender = {
      log: this.log,
      limits: this.limits,
      streamUpgrade: options.streamUpgrade ?? true,
      isCurrent: (peer) => !this.stopped && this.peers.get(peer.id) === peer,
      counters: (peer) => this.counters.get(peer.id)!,
      headers: (peer, contentLength) => this.headers(peer, contentLength),
      flush: (peer, ch) => this.flush(peer, ch),
      failed: (peer, ch, url, reason, status, detail) => this.failed(peer, ch, url, reason, status, detail),
      unreachable: (id) => this.unreachableHandler(id),
      snapshotDone: (id, ok) => this.snapshotHandler(id, ok),
    }
    const receivers = new Receivers({
      id: this.id,
      clusterId: this.clusterId,
      log: this.log,
      maxReceiveBytes: options.maxReceiveBytes ?? 64 * 1024 * 1024,
      running: () => this.started && !this.stopped,
      isRemoved: options.isRemoved,
      counters: (from) => this.counters.get(from),
      onMessage: (m) => this.messageHandler(m),
    })
    this.ownsServer = options.peerServer === undefined
    this.peerServer = options.peerServer ?? new PeerServer({ listen: options.listen ?? [], tls: options.tls, log: this.log })
    this.peerServer.route('POST', RAFT_MSG_PATH, (req, res) => receivers.receiveBatch(req, res))
    this.peerServer.route('POST', RAFT_SNAPSHOT_PATH, (req, res) => receivers.receiveSnapshot(req, res))
    this.peerServer.route('POST', RAFT_STREAM_PATH, (req, res) => receivers.receiveStream(req, res))
    if (this.sender.streamUpgrade) {
      this.peerServer.upgradeRoute(RAFT_STREAM_PATH, STREAM_UPGRADE_PROTOCOL, (req, socket, head) => {
        if (req.method !== 'POST') {
          socket.on('error', () => {})
          socket.end('HTTP/1.1 405 Method Not Allowed\r\nAllow: POST\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
          return
        }
        receivers.receiveUpgradedStream(req, socket, head)
      })
    }
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
      if (ch.stream) closeStream(ch.stream)
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
      if (ch.stream) closeStream(ch.stream)
      ch.stream = undefined
    }
  }

  /** Known peer ids. */
  peerIds(): NodeId[] {
    return [...this.peers.keys()]
  }

  /** Counters of one peer (a copy), or undefined for an unknown peer. */
  stats(id: NodeId): PeerLinkStats | undefined {
    return this.counters.get(id)?.snapshot()
  }

  /** Counters of every known peer. */
  allStats(): PeerLinkStats[] {
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
        sendSnapshot(this.sender, peer, m)
        continue
      }
      // Every App (even an empty one carrying only a commit index) stays on the append channel so
      // appends to a follower are never reordered among themselves (a reorder reads as a
      // rejection and knocks the follower back to probing); everything else takes the msg channel.
      // Proposals a follower relays to the leader ride the append channel too (a follower sends no
      // appends, so it is idle there): an AppResp on the msg channel then never waits for a
      // proposal batch's round trip, and the leader's commit is not delayed by it.
      const ch = m.type === MessageType.App || m.type === MessageType.Prop ? peer.app : peer.msg
      if (ch.queue.length >= this.maxQueuedMessages) {
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

  /** Sends what the channel holds: on its stream, or per batch to a peer without streams. */
  private flush(peer: Peer, ch: Channel): void {
    if (this.streaming && !peer.noStream) flushStream(this.sender, peer, ch)
    else sendBatch(this.sender, peer, ch)
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
    const delay = Math.min(this.backoffMaxMs, this.backoffMinMs * 2 ** Math.min(ch.failures - 1, 20))
    ch.retryTimer = setTimeout(() => {
      ch.retryTimer = undefined
      this.flush(peer, ch)
    }, delay)
    ch.retryTimer.unref?.()
    this.unreachableHandler(peer.id)
  }
}
