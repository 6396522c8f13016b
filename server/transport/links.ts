// What the senders of the HTTP transport share: the wire constants, a peer and its channels, the
// options after defaults, and the few transport services a sender calls back into (SenderContext).
// The senders themselves live in pipeline.ts (one request per batch), stream.ts (one long-lived
// request per channel) and snapshot-sender.ts; http-transport.ts owns the peers and routes to them.

import http, { type ClientRequest } from 'node:http'
import https from 'node:https'
import type { Duplex } from 'node:stream'
import type { Logger } from '../log.js'
import type { Message, NodeId } from '../raft/types.js'
import type { PeerCounters } from './peer-counters.js'

/** Routes the transport mounts on the peer server. */
export const RAFT_MSG_PATH = '/raft/msg'
export const RAFT_SNAPSHOT_PATH = '/raft/snapshot'
/** One long-lived POST per peer and channel: the body is an endless sequence of frames. */
export const RAFT_STREAM_PATH = '/raft/stream'
/**
 * The protocol a stream's opener asks to switch to (`Upgrade:` on RAFT_STREAM_PATH): after `101`
 * both ends move the same frames over the bare socket, without HTTP chunking. A peer that does not
 * switch answers as to a plain stream request and the opener keeps the chunked body.
 */
export const STREAM_UPGRADE_PROTOCOL = 'raftkv-stream/1'

/** Headers on every peer request (etcd's names). Ids are hex without leading zeros. */
export const HEADER_CLUSTER_ID = 'X-Etcd-Cluster-ID'
export const HEADER_FROM = 'X-Server-From'
export const HEADER_TO = 'X-Raft-To'

export type ChannelName = 'msg' | 'app'

/** The open stream of a channel (streaming mode), accepted once the peer answered 200 or 101. */
export interface Stream {
  req: ClientRequest
  /** The bare socket once the peer switched protocols (101); frames then go straight to it. */
  socket: Duplex | undefined
  accepted: boolean
}

/** Ends a stream whichever way it runs (a switched socket no longer belongs to its request). */
export function closeStream(s: Stream): void {
  s.req.destroy()
  s.socket?.destroy()
}

/** One ordered flow of batches to a peer over one connection. */
export interface Channel {
  name: ChannelName
  queue: Message[]
  inFlight: ClientRequest | undefined
  scheduled: boolean
  retryTimer: NodeJS.Timeout | undefined
  failures: number
  /** Keep-alive agents by URL scheme (a peer's URLs may change scheme via updatePeer). */
  agents: AgentPair
  stream: Stream | undefined
  /** Agents of the streams (no keep-alive: a stream owns its connection until it ends). */
  streamAgents: AgentPair
}

export interface Peer {
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

/** Lazily created agents, one per scheme, so a request always gets an agent of its protocol. */
export class AgentPair {
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

/** Sender limits, defaults applied (see HttpTransportOptions for each). */
export interface SenderLimits {
  maxBatchBytes: number
  requestTimeoutMs: number
  snapshotIdleTimeoutMs: number
  snapshotChunkChars: number
  maxStreamBufferBytes: number
}

/** The transport services a sender uses; implemented by HttpTransport. */
export interface SenderContext {
  readonly log: Logger
  readonly limits: SenderLimits
  /** Streams ask the peer to switch to STREAM_UPGRADE_PROTOCOL (bare socket, no chunking). */
  readonly streamUpgrade: boolean
  /** False once the transport stopped or the peer was removed/replaced: drop the outcome. */
  isCurrent(peer: Peer): boolean
  counters(peer: Peer): PeerCounters
  headers(peer: Peer, contentLength?: number): http.OutgoingHttpHeaders
  /** Send what the channel holds (per batch or on its stream, whichever the peer speaks). */
  flush(peer: Peer, ch: Channel): void
  /** A request failed: drop the queue, tell Raft, back off, rotate URLs. */
  failed(peer: Peer, ch: Channel, url: string, reason: string, status?: number, detail?: string): void
  unreachable(id: NodeId): void
  snapshotDone(id: NodeId, ok: boolean): void
}

/** The URL a peer is spoken to at now, and the module that speaks its scheme. */
export function currentUrl(peer: Peer): { url: string; mod: typeof http | typeof https } {
  const url = peer.urls[peer.urlIndex % peer.urls.length]!
  return { url, mod: url.startsWith('https:') ? https : http }
}

/**
 * A peer may reset the connection while a body is still uploading after it already answered; Node
 * then emits the write error on the socket, where nobody listens, and it would crash the process.
 * The request's own 'error'/'close' handlers already account for the failure.
 */
export function guardSocket(req: ClientRequest): void {
  const ignore = (): void => {}
  req.on('socket', (socket) => {
    socket.on('error', ignore)
    req.once('close', () => socket.off('error', ignore))
  })
}
