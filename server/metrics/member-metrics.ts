// Prometheus metrics of one member (etcd's names where an equivalent exists), on a registry of its
// own: several members can run in one process (tests), so nothing here touches prom-client's
// global default registry. Most values are read at scrape time from counters the server already
// keeps (store stats, Raft status, transport stats); only the client request path, WAL syncs,
// leader changes, failed proposals and snapshot saves push values, through the hooks below.
// Must not: do I/O, or allocate per request beyond prom-client's cached label children.

import type { ServerResponse } from 'node:http'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { Backend } from '../server.js'
import type { PeerLinkStats } from '../transport/transport.js'
import type { StoreStats } from '../store/types.js'
import { formatId } from '../ids.js'

/** What the Raft member reports to the metrics (structurally RaftBackend's `metrics` option). */
export interface RaftMetricsHooks {
  /** The known leader changed to `lead` (NONE/'' while there is none). */
  leaderChanged(lead: string): void
  /** `n` proposals failed (timed out, dropped, or the member stopped). */
  proposalsFailed(n: number): void
  /** A snapshot was written to disk in `seconds`. */
  snapshotSaved(seconds: number): void
}

/** Raft numbers read at scrape time. */
export interface RaftStatusSource {
  status(): { commit: number; applied: number; term: number }
  pendingProposals?(): number
}

/** Where the scrape-time values come from; set once the member is up (see attach()). */
export interface MetricsSources {
  backend: Backend
  raft?: RaftStatusSource
  /** Per-peer transport counters (HttpTransport.allStats). */
  peers?: () => PeerLinkStats[]
}

/** One sample of the rate history the dashboard draws (cumulative counts at `t`). */
export interface RateSample {
  t: number
  reads: number
  writes: number
}

export interface MemberMetricsOptions {
  /** process_* / nodejs_* collectors (default true). */
  defaultMetrics?: boolean
  /** Rate history and RTT sampling period (default 1000 ms). */
  sampleMs?: number
  /** Samples kept for the dashboard's charts (default 600 = 10 min at 1 s). */
  historySize?: number
}

const WRITE_ACTIONS: readonly [string, keyof StoreStats, keyof StoreStats][] = [
  ['set', 'setsSuccess', 'setsFail'],
  ['create', 'createSuccess', 'createFail'],
  ['update', 'updateSuccess', 'updateFail'],
  ['delete', 'deleteSuccess', 'deleteFail'],
  ['compareAndSwap', 'compareAndSwapSuccess', 'compareAndSwapFail'],
  ['compareAndDelete', 'compareAndDeleteSuccess', 'compareAndDeleteFail'],
]

/** Methods a keys request is counted under; QGET = GET with quorum=true (as etcd). */
const HTTP_METHODS = ['GET', 'QGET', 'HEAD', 'PUT', 'POST', 'DELETE'] as const

/**
 * process_* / nodejs_* belong to the process, not to a member: one registry for them per process
 * (never prom-client's global default one), created on first use and appended to every member's
 * scrape. Per-member default collectors would leave a GC observer and an event-loop monitor behind
 * for every member a test process ever started.
 */
let processRegistry: Registry | undefined
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

/** Minimal child types (prom-client's cached label children). */
interface ObserveChild { observe(v: number): void }

/** The metrics of one member. Create before the member boots, attach() once it is up. */
export class MemberMetrics {
  /** This member's registry; serve() renders it (plus the process-wide process_* metrics). */
  readonly registry = new Registry()
  private src: MetricsSources | undefined
  private readonly history: RateSample[] = []
  private readonly historySize: number
  private readonly timer: NodeJS.Timeout
  private readonly rttSeen = new Map<string, number>()
  private lastLead = ''

  private readonly leaderChanges: Counter
  private readonly proposalsFailedTotal: Counter
  private readonly walFsync: Histogram
  private readonly snapSave: Histogram
  private readonly peerRtt: Histogram<'To'>

  private readonly httpDuration: Histogram<'method'>
  /** Request counts by method (and by method + code for failures): plain numbers on the hot path, handed to prom-client at scrape time. */
  private readonly receivedBy = new Map<string, number>()
  private readonly durationBy = new Map<string, ObserveChild>()
  private readonly failedBy = new Map<string, { method: string; code: string; n: number }>()

  /** Hooks for RaftBackendOptions.metrics. */
  readonly raftHooks: RaftMetricsHooks

  constructor(opts: MemberMetricsOptions = {}) {
    const registers = [this.registry]
    const self = this
    const sampleMs = opts.sampleMs ?? 1000
    this.historySize = opts.historySize ?? 600

    new Gauge({
      name: 'etcd_server_has_leader', help: 'Whether or not a leader exists. 1 is existence, 0 is not.', registers,
      collect() { this.set(self.src?.backend.leaderId() !== undefined ? 1 : 0) },
    })
    new Gauge({
      name: 'etcd_server_is_leader', help: 'Whether or not this member is a leader. 1 if is, 0 otherwise.', registers,
      collect() {
        const b = self.src?.backend
        const lead = b?.leaderId()
        this.set(b && lead !== undefined && lead === b.memberId() ? 1 : 0)
      },
    })
    this.leaderChanges = new Counter({ name: 'etcd_server_leader_changes_seen_total', help: 'The number of leader changes seen.', registers })
    // etcd exports these two as gauges holding the commit / applied index, despite the _total.
    new Gauge({
      name: 'etcd_server_proposals_committed_total', help: 'The total number of consensus proposals committed.', registers,
      collect() { this.set(self.src?.raft?.status().commit ?? self.src?.backend.raftIndex() ?? 0) },
    })
    new Gauge({
      name: 'etcd_server_proposals_applied_total', help: 'The total number of consensus proposals applied.', registers,
      collect() { this.set(self.src?.raft?.status().applied ?? self.src?.backend.raftIndex() ?? 0) },
    })
    new Gauge({
      name: 'etcd_server_proposals_pending', help: 'The current number of pending proposals to commit.', registers,
      collect() { this.set(self.src?.raft?.pendingProposals?.() ?? 0) },
    })
    this.proposalsFailedTotal = new Counter({ name: 'etcd_server_proposals_failed_total', help: 'The total number of failed proposals seen.', registers })
    new Gauge({
      name: 'etcd_server_term', help: 'The current Raft term of this member.', registers,
      collect() { this.set(self.src?.raft?.status().term ?? self.src?.backend.raftTerm() ?? 0) },
    })

    // Buckets as etcd: 1 ms .. ~1 s for fsyncs, 10 ms .. ~10 s for snapshot saves.
    this.walFsync = new Histogram({
      name: 'etcd_disk_wal_fsync_duration_seconds', help: 'The latency distributions of fsync called by WAL.', registers,
      buckets: exponential(0.001, 2, 14),
    })
    new Counter({
      name: 'etcd_disk_wal_write_bytes_total', help: 'Total number of bytes written in WAL.', registers,
      collect() { this.reset(); this.inc(self.walBytes) },
    })
    this.snapSave = new Histogram({
      name: 'etcd_debugging_snap_save_total_duration_seconds', help: 'The total latency distributions of save called by snapshot.', registers,
      buckets: exponential(0.001, 2, 14),
    })

    this.peerRtt = new Histogram({
      name: 'etcd_network_peer_round_trip_time_seconds', help: 'Round-Trip-Time histogram between peers (sampled once per second from the transport).', registers,
      labelNames: ['To'], buckets: exponential(0.0001, 2, 16),
    })
    new Counter({
      name: 'etcd_network_peer_sent_bytes_total', help: 'The total number of bytes sent to peers.', registers, labelNames: ['To'],
      collect() {
        this.reset()
        for (const p of self.peerList()) this.inc({ To: formatId(p.id) }, p.bytesSent)
      },
    })
    new Counter({
      name: 'etcd_network_peer_received_bytes_total', help: 'The total number of bytes received from peers.', registers, labelNames: ['From'],
      collect() {
        this.reset()
        for (const p of self.peerList()) this.inc({ From: formatId(p.id) }, p.bytesReceived)
      },
    })
    new Gauge({
      name: 'etcd_network_active_peers', help: 'The current number of active peer connections.', registers,
      collect() { this.set(self.peerList().filter((p) => p.active).length) },
    })

    // v2 store, read at scrape time from the /v2/stats/store counters.
    new Counter({
      name: 'etcd_debugging_store_reads_total', help: 'Total number of reads action by (get/getRecursive), local to this member.', registers, labelNames: ['action'],
      collect() { const s = self.storeStats(); this.reset(); this.inc({ action: 'get' }, s ? s.getsSuccess : 0) },
    })
    new Counter({
      name: 'etcd_debugging_store_reads_failed_total', help: 'Failed read actions by (get/getRecursive), local to this member.', registers, labelNames: ['action'],
      collect() { const s = self.storeStats(); this.reset(); this.inc({ action: 'get' }, s ? s.getsFail : 0) },
    })
    new Counter({
      name: 'etcd_debugging_store_writes_total', help: 'Total number of writes (e.g. set/compareAndDelete) seen by this member.', registers, labelNames: ['action'],
      collect() {
        const s = self.storeStats()
        this.reset()
        for (const [action, ok] of WRITE_ACTIONS) this.inc({ action }, s ? (s[ok] as number) : 0)
      },
    })
    new Counter({
      name: 'etcd_debugging_store_writes_failed_total', help: 'Failed write actions (e.g. set/compareAndDelete) seen by this member.', registers, labelNames: ['action'],
      collect() {
        const s = self.storeStats()
        this.reset()
        for (const [action, , fail] of WRITE_ACTIONS) this.inc({ action }, s ? (s[fail] as number) : 0)
      },
    })
    new Counter({
      name: 'etcd_debugging_store_expires_total', help: 'Total number of expired keys.', registers,
      collect() { const s = self.storeStats(); this.reset(); this.inc(s ? s.expireCount : 0) },
    })
    new Counter({
      name: 'etcd_debugging_store_watch_requests_total', help: 'Total number of incoming watch requests (new or reestablished).', registers,
      collect() { this.reset(); this.inc(self.watchRequests) },
    })
    new Gauge({
      name: 'etcd_debugging_store_watchers', help: 'Count of currently active watchers.', registers,
      collect() { this.set(self.storeStats()?.watchers ?? 0) },
    })

    // Client requests to /v2/keys (etcd's v2 HTTP metrics).
    new Counter({
      name: 'etcd_http_received_total', help: 'Counter of requests received into the system (successfully parsed and authd).', registers, labelNames: ['method'],
      collect() {
        this.reset()
        for (const [method, n] of self.receivedBy) this.inc({ method }, n)
      },
    })
    new Counter({
      name: 'etcd_http_failed_total', help: 'Counter of handle failures of requests (non-watches), by method (GET/PUT etc.) and code (400, 500 etc.).', registers, labelNames: ['method', 'code'],
      collect() {
        this.reset()
        for (const f of self.failedBy.values()) this.inc({ method: f.method, code: f.code }, f.n)
      },
    })
    this.httpDuration = new Histogram({
      name: 'etcd_http_successful_duration_seconds', help: 'Bucketed histogram of processing time (s) of successfully handled requests (non-watches), by method (GET/PUT etc.).', registers,
      labelNames: ['method'], buckets: exponential(0.0005, 2, 13),
    })
    for (const m of HTTP_METHODS) {
      this.durationBy.set(m, this.httpDuration.labels(m))
    }

    this.withProcess = opts.defaultMetrics !== false

    this.raftHooks = {
      leaderChanged: (lead) => {
        // As etcd: counted whenever a leader becomes known that differs from the previous soft
        // state's (so losing the leader and finding it again counts); losing one alone does not.
        if (lead !== '' && lead !== this.lastLead) this.leaderChanges.inc()
        this.lastLead = lead
      },
      proposalsFailed: (n) => { if (n > 0) this.proposalsFailedTotal.inc(n) },
      snapshotSaved: (seconds) => this.snapSave.observe(seconds),
    }
    this.timer = setInterval(() => this.sample(), sampleMs)
    this.timer.unref()
  }

  private walBytes = 0
  private watchRequests = 0
  private readonly withProcess: boolean

  /** WAL onSync option: one completed write + fdatasync. */
  readonly walSynced = (info: { ms: number; bytes: number; records: number }): void => {
    this.walFsync.observe(info.ms / 1000)
    this.walBytes += info.bytes
  }

  /** Connects the scrape-time sources once the member is up. */
  attach(src: MetricsSources): void {
    this.src = src
    this.sample()
  }

  /** A client request to /v2/keys arrived (`method` already QGET for quorum reads). */
  received(method: string, watch = false): void {
    if (watch) this.watchRequests++
    this.receivedBy.set(method, (this.receivedBy.get(method) ?? 0) + 1)
  }

  /** A non-watch keys request succeeded after `seconds`. */
  succeeded(method: string, seconds: number): void {
    const h = this.durationBy.get(method)
    if (h) h.observe(seconds)
    else this.httpDuration.observe({ method }, seconds)
  }

  /** A keys request was answered with an error status. */
  failed(method: string, code: number): void {
    const key = method + code
    const f = this.failedBy.get(key)
    if (f) f.n++
    else this.failedBy.set(key, { method, code: String(code), n: 1 })
  }

  /** Read/write counts sampled every second, oldest first (for the dashboard's charts). */
  rateHistory(): readonly RateSample[] {
    return this.history
  }

  /** Writes the Prometheus text exposition of this member. */
  async serve(res: ServerResponse): Promise<void> {
    let body = await this.registry.metrics()
    if (this.withProcess) body += '\n' + (await processMetrics().metrics())
    res.writeHead(200, { 'Content-Type': this.registry.contentType, 'Content-Length': Buffer.byteLength(body) })
    res.end(body)
  }

  /** Stops the sampler. */
  close(): void {
    clearInterval(this.timer)
  }

  private sample(): void {
    const s = this.storeStats()
    if (s) {
      let writes = s.expireCount
      for (const [, ok, fail] of WRITE_ACTIONS) writes += (s[ok] as number) + (s[fail] as number)
      this.history.push({ t: Date.now(), reads: s.getsSuccess + s.getsFail, writes })
      if (this.history.length > this.historySize) this.history.splice(0, this.history.length - this.historySize)
    }
    // One RTT observation per peer per period in which it answered (the transport keeps only the
    // latest round trip and running aggregates).
    for (const p of this.peerList()) {
      if (p.success === (this.rttSeen.get(p.id) ?? 0)) continue
      this.rttSeen.set(p.id, p.success)
      this.peerRtt.observe({ To: formatId(p.id) }, p.latency.current / 1000)
    }
  }

  private peerList(): PeerLinkStats[] {
    return this.src?.peers?.() ?? []
  }

  private storeStats(): StoreStats | undefined {
    return this.src?.backend.store.stats()
  }
}

function exponential(start: number, factor: number, count: number): number[] {
  const out: number[] = []
  for (let i = 0, v = start; i < count; i++, v *= factor) out.push(Number(v.toPrecision(6)))
  return out
}
