// Boots one Raft member from a ServerConfig: decides whether this is a restart (data dir has a
// WAL: the --initial-* flags are ignored, CLI-5), a new cluster (ids derived from
// --initial-cluster and the token, MEM-8, or from --discovery: discovery.ts) or a join
// (`--initial-cluster-state existing`: ask the running members who we are), opens the WAL and
// snapshots (--force-new-cluster rewrites the recovered log first: force-new-cluster.ts), starts
// the peer transport and the RaftBackend. The client listeners are started by server/index.ts around it.
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { readFileSync } from 'node:fs'
import type { ServerConfig } from '../config.js'
import { formatId, initialIds, memberId } from '../ids.js'
import { HttpTransport } from '../transport/http-transport.js'
import type { PeerServer } from '../transport/peer-server.js'
import type { Logger } from '../log.js'
import type { NodeId } from '../raft/types.js'
import { durableStorageExists, openDurableStorage, readDurableMetadata } from '../wal/storage.js'
import { storageFailureOf } from '../wal/errors.js'
import { faultyIo, parseIoFault, type WalIo } from '../wal/io.js'
import { RaftBackend } from './raft-backend.js'
import type { Member } from './membership.js'
import type { MemberMetrics } from '../metrics/member-metrics.js'
import { DiscoveryError, joinDiscoveryCluster } from './discovery.js'
import { forceNewCluster } from './force-new-cluster.js'

/** The peer transport of a member: Raft messages plus the peer-port routes (GET /members). */
function makeHttpTransport(config: ServerConfig, log: Logger, id: NodeId, clusterId: NodeId, hooks: TransportHooks, peerServer?: PeerServer): HttpTransport {
  return new HttpTransport({
    id,
    clusterId,
    ...(peerServer ? { peerServer } : { listen: config.listenPeer }),
    tls: config.peerTls,
    log,
    isRemoved: (peer) => hooks.isRemoved(peer),
    onRemoved: () => hooks.onRemoved(),
  })
}

interface TransportHooks {
  isRemoved(id: NodeId): boolean
  onRemoved(): void
}

export class BootstrapError extends Error {}

export interface MemberStart {
  backend: RaftBackend
  transport: HttpTransport
  id: NodeId
  clusterId: NodeId
}

export async function startRaftMember(
  config: ServerConfig,
  log: Logger,
  clientURLs: string[],
  // peerServer: the peer listeners, already bound by the caller (who then also stops them).
  events: { onRemoved?: () => void; onFatal?: (err: unknown) => void; metrics?: MemberMetrics; peerServer?: PeerServer } = {},
): Promise<MemberStart> {
  const existing = durableStorageExists(config.dataDir, config.walDir || undefined)
  let id: NodeId
  let clusterId: NodeId
  let bootstrap: { id: NodeId; name: string; peerURLs: string[] }[] | undefined
  let knownPeers: { id: NodeId; peerURLs: string[] }[] | undefined
  const durableOpts = {
    walDir: config.walDir ? `${config.walDir}` : undefined,
    maxSnapshots: config.maxSnapshots,
    maxWals: config.maxWals,
    warn: (m: string) => log.warn(m),
    onSync: events.metrics?.walSynced,
    syncMode: config.walSync,
    ...testFaultIo(log),
  }

  if (existing) {
    const meta = readDurableMetadata(config.dataDir, durableOpts.walDir)
    if (!meta) throw new BootstrapError(`cannot read member metadata from the WAL in ${config.dataDir}`)
    id = meta.memberId
    clusterId = meta.clusterId
    log.info({ memberId: id, clusterId }, 'restarting member from its data dir (--initial-* flags ignored)')
  } else if (config.initialClusterState === 'new') {
    // --discovery: the initial cluster comes from the discovery service, and the discovery URL is
    // the cluster token (as etcd), so ids differ between clusters bootstrapped with other tokens.
    const discovered = config.discovery || config.discoverySrv ? await discoverInitialCluster(config, log) : undefined
    const token = config.discovery || config.initialClusterToken
    const ids = initialIds(discovered ?? config.initialCluster, token)
    const self = ids.members.find((m) => m.name === config.name)
    if (!self) throw new BootstrapError(`couldn't find local name "${config.name}" in the initial cluster configuration`)
    const want = [...config.initialAdvertisePeerUrls].sort().join(',')
    if ([...self.peerUrls].sort().join(',') !== want) {
      throw new BootstrapError(
        `--initial-cluster has ${config.name}=${self.peerUrls.join(',')} but missing from --initial-advertise-peer-urls=${config.initialAdvertisePeerUrls.join(',')}`,
      )
    }
    id = self.id
    clusterId = ids.clusterId
    bootstrap = ids.members.map((m) => ({ id: m.id, name: m.name, peerURLs: m.peerUrls }))
    log.info({ memberId: id, clusterId, members: bootstrap.length }, 'bootstrapping a new cluster')
  } else {
    if (config.discovery || config.discoverySrv) {
      throw new BootstrapError('--discovery/--discovery-srv bootstrap a new cluster; they cannot be used with --initial-cluster-state existing')
    }
    const found = await fetchClusterMembers(config)
    const want = [...config.initialAdvertisePeerUrls].sort().join(',')
    const self = found.members.find((m) => [...m.peerURLs].sort().join(',') === want)
    if (!self) {
      throw new BootstrapError(
        `this member (${config.initialAdvertisePeerUrls.join(',')}) is not in the cluster's member list; add it first (etcdctl member add)`,
      )
    }
    id = self.id.padStart(16, '0')
    clusterId = found.clusterId.padStart(16, '0')
    knownPeers = found.members.map((m) => ({ id: m.id.padStart(16, '0'), peerURLs: m.peerURLs }))
    log.info({ memberId: id, clusterId }, 'joining an existing cluster')
  }

  let durable = openDurableStorage(config.dataDir, { ...durableOpts, metadata: { memberId: id, clusterId } })
  if (durable.boot.repaired) log.warn({ repaired: durable.boot.repaired }, 'WAL tail was torn by a crash and has been repaired')
  if (config.forceNewCluster && existing) {
    const forced = await forceNewCluster(
      durable,
      { id, name: config.name, peerURLs: config.initialAdvertisePeerUrls },
      () => openDurableStorage(config.dataDir, durableOpts),
    )
    durable = forced.durable
    if (forced.lastIndex > 0) {
      log.warn(
        { memberId: id, clusterId, removed: forced.removed.map(formatId), lastIndex: forced.lastIndex },
        `--force-new-cluster: committed the whole log and removed ${forced.removed.length} other member(s); restarting as a one-member cluster with the data kept`,
      )
    } else {
      log.warn({ memberId: id }, '--force-new-cluster: this member already is the only voter; nothing to change')
    }
  } else if (config.forceNewCluster) {
    log.warn('--force-new-cluster ignored: the data dir has no WAL to restart from (bootstrapping as usual)')
  }
  const mlog = log.child({ memberId: id })
  let backend: RaftBackend | undefined
  const transport = makeHttpTransport(config, mlog, id, clusterId, {
    isRemoved: (peer) => backend?.isRemovedMember(peer) ?? false,
    onRemoved: () => backend?.markRemoved(),
  }, events.peerServer)
  transport.peerServer.route('GET', '/members', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'x-etcd-cluster-id': formatId(clusterId) })
    res.end(JSON.stringify(backend?.members() ?? []))
  })
  await transport.start()
  backend = new RaftBackend({
    id,
    clusterId,
    name: config.name,
    clientURLs,
    durable,
    transport,
    bootstrap,
    knownPeers,
    clusterToken: config.initialClusterToken,
    heartbeatMs: config.heartbeatIntervalMs,
    electionMs: config.electionTimeoutMs,
    snapshotCount: config.snapshotCount,
    strictReconfigCheck: config.strictReconfigCheck,
    preVote: config.preVote,
    onRemoved: events.onRemoved,
    metrics: events.metrics?.raftHooks,
    log: (level, msg, fields) => mlog[level](fields ?? {}, msg),
    onFatal: (e) => {
      const f = storageFailureOf(e)
      const what = f ? `${f.op} of ${f.file || '(unknown file)'}: ${f.errno || String(e)}` : String(e)
      mlog.fatal({ file: f?.file, op: f?.op, errno: f?.errno, err: e }, `storage failed: ${what}; the member stops (nothing that was not durable was acknowledged)`)
      events.onFatal?.(e)
    },
  })
  return { backend, transport, id, clusterId }
}

/**
 * DISC-1..4: registers at --discovery and waits for the initial cluster. A full cluster exits
 * (raftkv has no proxy mode, so --discovery-fallback=proxy exits too, saying so).
 */
async function discoverInitialCluster(config: ServerConfig, log: Logger): Promise<{ name: string; peerUrls: string[] }[]> {
  if (config.discoverySrv) throw new BootstrapError('--discovery-srv (DNS SRV discovery) is not supported by raftkv; use --discovery or --initial-cluster')
  if (config.discoveryProxy) throw new BootstrapError('--discovery-proxy is not supported by raftkv; the discovery URL must be reachable directly')
  const id = memberId(config.initialAdvertisePeerUrls, config.discovery)
  try {
    return await joinDiscoveryCluster({
      url: config.discovery,
      id,
      name: config.name,
      peerUrls: config.initialAdvertisePeerUrls,
      log: log.child({ component: 'discovery' }),
    })
  } catch (e) {
    if (e instanceof DiscoveryError) {
      const fallback =
        e.code === 'full' && config.discoveryFallback === 'proxy'
          ? ' (--discovery-fallback=proxy: raftkv has no proxy mode, so it exits instead)'
          : ''
      throw new BootstrapError(`${e.message}${fallback}`)
    }
    throw e
  }
}

/** Asks the other initial members (peer URLs) for the member list and cluster id. */
async function fetchClusterMembers(config: ServerConfig): Promise<{ clusterId: string; members: Member[] }> {
  const mine = new Set(config.initialAdvertisePeerUrls)
  const urls = config.initialCluster.flatMap((m) => m.peerUrls).filter((u) => !mine.has(u))
  const errors: string[] = []
  for (const base of urls) {
    try {
      const { status, headers, body } = await get(`${base.replace(/\/$/, '')}/members`, config)
      if (status !== 200) throw new Error(`HTTP ${status}`)
      const list = JSON.parse(body) as Member[]
      const cid = String(headers['x-etcd-cluster-id'] ?? '')
      if (!cid) throw new Error('no cluster id header')
      return { clusterId: cid, members: list }
    } catch (e) {
      errors.push(`${base}: ${(e as Error).message}`)
    }
  }
  throw new BootstrapError(`could not get the member list from any peer in --initial-cluster (${errors.join('; ')})`)
}

function get(url: string, config: ServerConfig): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const tls = config.peerTls
    const isHttps = url.startsWith('https:')
    const opts = isHttps
      ? {
          ca: tls.trustedCaFile ? readFileSync(tls.trustedCaFile) : undefined,
          cert: tls.certFile ? readFileSync(tls.certFile) : undefined,
          key: tls.keyFile ? readFileSync(tls.keyFile) : undefined,
          timeout: 3000,
        }
      : { timeout: 3000 }
    const req = (isHttps ? httpsRequest : httpRequest)(url, opts, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end()
  })
}

/**
 * Test-only hook: RAFTKV_TEST_FAULT, a comma-separated list of
 * `<wal|snap>:<write|fdatasync>:<ERRNO>[:after=N][:when=<file>]`, makes this member's WAL or
 * snapshot writes fail as a full or failing disk does (server/wal/io.ts), so tests can watch a real
 * member process stop. Read here and nowhere else; never set it in production.
 */
function testFaultIo(log: Logger): { io?: WalIo; snapIo?: WalIo } {
  const spec = process.env.RAFTKV_TEST_FAULT
  if (!spec) return {}
  log.warn({ fault: spec }, 'RAFTKV_TEST_FAULT is set: storage faults will be injected (test only)')
  const out: { io?: WalIo; snapIo?: WalIo } = {}
  for (const part of spec.split(',')) {
    const fault = parseIoFault(part)
    if (fault.target === 'wal') out.io = faultyIo(fault, out.io)
    else out.snapIo = faultyIo(fault, out.snapIo)
  }
  return out
}
