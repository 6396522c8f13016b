// The seam between the HTTP layer and consensus: the Backend interface every client-facing handler
// uses, and SingleMemberBackend, a one-member implementation whose proposals commit at once.
// The Raft-backed implementation replaces SingleMemberBackend behind the same interface; the HTTP
// layer must never learn how commits happen. No HTTP here.
import { Store, StoreError, type StoreEvent } from './store/index.js'
import {
  MemberChangeRefusedError, MemberNotFoundError, StoppedError, UnexpectedResultError,
} from './cluster/errors.js'
import type { Command } from './store/types.js'
import type { AuthMutation, AuthResult, AuthState } from './auth/auth-state.js'
import { clusterId as computeClusterId, formatId, memberId as computeMemberId } from './ids.js'

/** A member as the members API shows it (MEM-1); `id` in wire form (hex, no leading zeros). */
export interface MemberInfo {
  id: string
  /** Empty until the member has started (MEM-1). */
  name: string
  peerURLs: string[]
  clientURLs: string[]
}

/** `/v2/stats/self` (STATS-1), fields in etcd's order; rates omitted when zero. */
export interface SelfStats {
  name: string
  id: string
  state: 'StateLeader' | 'StateFollower' | 'StateCandidate' | 'StatePreCandidate'
  startTime: string
  leaderInfo: { leader: string; uptime: string; startTime: string }
  recvAppendRequestCnt: number
  recvPkgRate?: number
  recvBandwidthRate?: number
  sendAppendRequestCnt: number
  sendPkgRate?: number
  sendBandwidthRate?: number
}

/** One follower's entry in `/v2/stats/leader` (STATS-2). */
export interface FollowerStats {
  latency: { current: number; average: number; standardDeviation: number; minimum: number; maximum: number }
  counts: { fail: number; success: number }
}

/** `/v2/stats/leader` (STATS-2). */
export interface LeaderStats {
  leader: string
  followers: Record<string, FollowerStats>
}

/**
 * The key space as the HTTP layer sees it: reads, watches, counters and the current index. Writes
 * go through Backend.propose (the store is changed only by applying committed entries).
 */
export type StoreView = Pick<Store, 'get' | 'list' | 'watch' | 'stats' | 'index'>

/**
 * What the HTTP layer needs from a member. Writes go propose -> commit -> apply -> resolve; reads
 * go straight to `store` (plain GET, watches) or after `linearizableRead()` (quorum GET, health).
 */
export interface Backend {
  /** The applied key space. Read it; never apply to it directly. */
  readonly store: StoreView
  /**
   * Replicates `cmd`; resolves once the entry is committed and applied on this member, with what
   * `store.apply` returned (an event, or a StoreError for a failed condition). The proposer's
   * clock travels in the entry so every member applies the same time (NODE-6, TTL-6).
   * Rejects with a RequestFailedError (server/cluster/errors.ts) on timeout / shutdown (KEYS-22).
   */
  propose(cmd: Command): Promise<StoreEvent | StoreError>
  /** Resolves when this member has applied everything committed before the call (KEYS-9). Rejects with a RequestFailedError. */
  linearizableRead(): Promise<void>
  /** Raft commit index (X-Raft-Index, HDR-3). */
  raftIndex(): number
  /** Current raft term (X-Raft-Term, HDR-3). */
  raftTerm(): number
  /** Cluster id in wire form (X-Etcd-Cluster-Id, HDR-1). */
  clusterId(): string
  /** This member's id in wire form. */
  memberId(): string
  /** All members, sorted by id (MEM-1). */
  members(): MemberInfo[]
  /** Wire-form id of the known leader, undefined during an election (MEM-2). */
  leaderId(): string | undefined
  /** STATS-1. */
  selfStats(): SelfStats
  /** STATS-2; undefined when this member is not the current leader (-> 403). */
  leaderStats(): LeaderStats | undefined
  /** MEM-4: adds a member; rejects with a member error or a RequestFailedError (server/cluster/errors.ts). */
  addMember(peerURLs: string[]): Promise<MemberInfo>
  /** MEM-5: removes member `id` (wire form as given by the client). */
  removeMember(id: string): Promise<void>
  /** MEM-6: replaces the peer URLs of member `id`. */
  updateMember(id: string, peerURLs: string[]): Promise<void>
  /** Stops timers and fails pending proposals with StoppedError. */
  close(): Promise<void>
  /**
   * The replicated v2 auth data as applied on this member (server/auth). Optional: without it
   * the auth layer keeps a member-local copy (fine for a one-member backend).
   */
  authState?(): AuthState
  /** Replicates an auth change (passwords already hashed); resolves with its outcome once applied here. Rejects with a RequestFailedError. */
  proposeAuth?(m: AuthMutation): Promise<AuthResult>
}

/** Options of the single-member backend. */
export interface SingleMemberOptions {
  name: string
  /** Advertised peer URLs (used for the member id and in /v2/members). */
  peerURLs: string[]
  /** Advertised client URLs (/v2/members, /v2/machines). May be filled in after listen(). */
  clientURLs: string[]
  /** Mixed into member and cluster ids like etcd's --initial-cluster-token (MEM-8). */
  clusterToken: string
  /** TTL sweep period (TTL-6); etcd uses 500 ms. */
  expirySweepMs?: number
  /** Clock in ms since the epoch; injectable for tests. */
  now?: () => number
}

/** RFC 3339 with trimmed fractional seconds, UTC (Go RFC3339Nano). */
export function rfc3339(ms: number): string {
  const iso = new Date(ms).toISOString() // 2026-11-25T15:35:31.240Z -> ...31.24Z
  return iso.replace(/\.(\d*?)0*Z$/, (_m, f: string) => (f ? '.' + f : '') + 'Z')
}

/** Go's time.Duration.String() for a non-negative number of milliseconds (e.g. `12m31.17s`). */
export function goDuration(ms: number): string {
  if (ms <= 0) return '0s'
  if (ms < 1) return `${Math.round(ms * 1000)}µs`
  if (ms < 1000) return `${trimFloat(ms)}ms`
  let s = ms / 1000
  const h = Math.floor(s / 3600)
  s -= h * 3600
  const m = Math.floor(s / 60)
  s -= m * 60
  return (h ? `${h}h` : '') + (h || m ? `${m}m` : '') + `${trimFloat(s)}s`
}

function trimFloat(x: number): string {
  return x.toFixed(6).replace(/\.?0+$/, '')
}

/**
 * A one-member cluster: a proposal is committed and applied synchronously (no log is retained),
 * and the member is always the leader. A sweep proposes `expire` every 500 ms while TTL keys exist
 * (TTL-6).
 */
export class SingleMemberBackend implements Backend {
  private readonly kv = new Store()
  private commitIndex = 0
  private readonly term = 2
  private readonly id: string
  private readonly cid: string
  private readonly startMs: number
  private readonly now: () => number
  private sweepTimer: NodeJS.Timeout | undefined
  private closed = false

  get store(): StoreView {
    return this.kv
  }

  constructor(private readonly opts: SingleMemberOptions) {
    this.now = opts.now ?? Date.now
    const raw = computeMemberId(opts.peerURLs, opts.clusterToken)
    this.id = formatId(raw)
    this.cid = formatId(computeClusterId([raw]))
    this.startMs = this.now()
    // Like a fresh etcd: the election entry, then three internal store writes that consume etcd
    // indexes (CONS-1): the member's raft attributes, its published attributes, the cluster
    // version. A fresh member therefore reports X-Etcd-Index 3, as etcd does.
    this.commitIndex = 1
    for (let i = 0; i < 3; i++) this.commit({ op: 'internal' })
  }

  /** Updates the advertised client URLs (after binding port 0). */
  setClientURLs(urls: string[]): void {
    this.opts.clientURLs = urls
  }

  propose(cmd: Command): Promise<StoreEvent | StoreError> {
    if (this.closed) return Promise.reject(new StoppedError())
    try {
      const result = this.commit(cmd)
      if (result === null) return Promise.reject(new UnexpectedResultError())
      return Promise.resolve(result)
    } catch (e) {
      return Promise.reject(e)
    }
  }

  /** Commits and applies one entry; the time stamp is taken here, by the proposer. */
  private commit(cmd: Command): StoreEvent | StoreError | null {
    const nowMs = this.now()
    this.commitIndex++
    const result = this.kv.apply(cmd, nowMs)
    this.maybeScheduleSweep()
    return result
  }

  private maybeScheduleSweep(): void {
    if (this.sweepTimer || this.closed || !this.kv.hasTtlKeys()) return
    this.sweepTimer = setInterval(() => {
      if (this.closed) return
      this.commit({ op: 'expire' })
      if (!this.kv.hasTtlKeys() && this.sweepTimer) {
        clearInterval(this.sweepTimer)
        this.sweepTimer = undefined
      }
    }, this.opts.expirySweepMs ?? 500)
    this.sweepTimer.unref()
  }

  linearizableRead(): Promise<void> {
    if (this.closed) return Promise.reject(new StoppedError())
    // etcd sends quorum reads through the log; the index moves like it does there (HDR-3).
    this.commitIndex++
    return Promise.resolve()
  }

  raftIndex(): number {
    return this.commitIndex
  }

  raftTerm(): number {
    return this.term
  }

  clusterId(): string {
    return this.cid
  }

  memberId(): string {
    return this.id
  }

  members(): MemberInfo[] {
    return [{ id: this.id, name: this.opts.name, peerURLs: [...this.opts.peerURLs], clientURLs: [...this.opts.clientURLs] }]
  }

  leaderId(): string | undefined {
    return this.closed ? undefined : this.id
  }

  selfStats(): SelfStats {
    const start = rfc3339(this.startMs)
    return {
      name: this.opts.name,
      id: this.id,
      state: 'StateLeader',
      startTime: start,
      leaderInfo: { leader: this.id, uptime: goDuration(this.now() - this.startMs), startTime: start },
      recvAppendRequestCnt: 0,
      sendAppendRequestCnt: 0,
    }
  }

  leaderStats(): LeaderStats | undefined {
    return { leader: this.id, followers: {} }
  }

  addMember(_peerURLs: string[]): Promise<MemberInfo> {
    return Promise.reject(new MemberChangeRefusedError('a single-member backend cannot add members'))
  }

  removeMember(id: string): Promise<void> {
    return Promise.reject(new MemberNotFoundError(id))
  }

  updateMember(id: string, peerURLs: string[]): Promise<void> {
    if (id.replace(/^0+/, '').toLowerCase() !== this.id) return Promise.reject(new MemberNotFoundError(id))
    this.opts.peerURLs = [...peerURLs]
    return Promise.resolve()
  }

  close(): Promise<void> {
    this.closed = true
    if (this.sweepTimer) clearInterval(this.sweepTimer)
    this.sweepTimer = undefined
    return Promise.resolve()
  }
}
