// startServer(): one raftkv member serving the v2 client API, for the CLI, tests and apps.
// Boots the Raft member (WAL, snapshots, peer transport: server/cluster/start-member.ts), binds the
// client listeners and wires the HTTP handler to it. Owns the sockets; owns no consensus logic.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { bindAddress, parseArgs, type BindAddress, type ServerConfig } from './config.js'
import type { Backend } from './server.js'
import { startRaftMember, type MemberStart } from './cluster/start-member.js'
import { StorageFailedError } from './cluster/errors.js'
import { lockDataDir, lockWalDir, type DataDirLock } from './data-dir-lock.js'
import { checkTlsFiles, listenError } from './startup-error.js'
import { PeerServer } from './transport/peer-server.js'
import type { RaftBackend } from './cluster/raft-backend.js'
import { silentLogger, type Logger } from './log.js'
import { createHandler, onClientError, type ClientHandler, type HandlerOptions } from './http/handler.js'
import { frontDoor, guardConnections } from './http/front-door.js'
import { isClientFault } from './http/body.js'
import { createAuth } from './auth/auth-service.js'
import { MemberMetrics } from './metrics/member-metrics.js'
import { instrumentHandler } from './metrics/http-metrics.js'
import { createDashboard } from './dashboard/serve.js'
import type { PeerLinkStats } from './transport/transport.js'

export { SingleMemberBackend, type StoreView } from './server.js'
export {
  RequestFailedError, StoppedError, RequestTimeoutError, StorageFailedError, UnexpectedResultError,
  MemberNotFoundError, MemberRemovedError, MemberExistsError, PeerURLExistsError, MemberChangeRefusedError,
} from './cluster/errors.js'
export type { Backend, MemberInfo, SelfStats, LeaderStats } from './server.js'
export { createHandler } from './http/handler.js'
export type { ServerConfig } from './config.js'

/**
 * Options of startServer: any ServerConfig field (defaults are etcd 2.x's, see server/config.ts),
 * plus test/embedding hooks. URL lists may use port 0; the real ports are reported back.
 */
export interface StartOptions extends Partial<Omit<ServerConfig, 'listenClient' | 'listenPeer'>> {
  /** Serve this backend instead of booting a Raft member (HTTP-layer tests, custom embedding). */
  backend?: Backend
  /** Server log; default silent (the CLI passes its structured logger). */
  logger?: Logger
  /**
   * Called when the member stops on its own: 'removed' from the cluster (it is closing), or
   * 'fatal': a WAL or snapshot write failed, and its listeners are closed and its watches ended
   * already (the CLI exits 1; ready() and backend calls are refused with StorageFailedError).
   */
  onStop?: (reason: 'removed' | 'fatal') => void
  /** Extra handler hooks (auth). */
  handler?: Pick<HandlerOptions, 'checkKeyAccess' | 'checkRootAccess' | 'extraRoutes'>
}

/** A running member. */
export interface RunningServer {
  /** Client URLs actually bound (port 0 replaced by the real port), in listen order. */
  clientUrls: string[]
  /** The first client URL, handy for tests. */
  url: string
  /** The effective configuration. */
  config: ServerConfig
  backend: Backend
  /** The (req, res) handler, also usable without the listeners. */
  handler: ClientHandler
  /**
   * Resolves once the member serves linearizable requests: a leader is known, this member's
   * attributes are published (name and client URLs in /v2/members) and a quorum read completed.
   * Rejects after `timeoutMs`, and at once with StorageFailedError once a storage failure stopped
   * the member. A member of a cluster without quorum never becomes ready.
   */
  ready(timeoutMs?: number): Promise<void>
  /** Ends watches, closes listeners and connections, stops the backend. Idempotent. */
  close(): Promise<void>
}

/** Polls the backend until it can serve like a started etcd member (see RunningServer.ready). */
async function waitBackendReady(backend: Backend, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const self = backend.members().find((m) => m.id === backend.memberId())
    if (backend.leaderId() !== undefined && self !== undefined && self.name !== '' && self.clientURLs.length > 0) {
      const left = deadline - Date.now()
      let timer: NodeJS.Timeout | undefined
      const ok = await Promise.race([
        backend.linearizableRead().then(() => true, () => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(left, 0)))),
      ])
      clearTimeout(timer)
      if (ok) return
    }
    if (Date.now() >= deadline) throw new Error(`member not ready after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function listen(server: http.Server, addr: BindAddress): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e)
    server.once('error', onError)
    server.listen(addr.port, addr.host, () => {
      server.off('error', onError)
      resolve((server.address() as AddressInfo).port)
    })
  })
}

/** The listen URL a bind error is about (the error carries the address and port). */
function failedUrl(addrs: readonly BindAddress[], e: unknown): string {
  const err = e as { address?: string; port?: number }
  return (addrs.find((a) => a.port === err.port && a.host === err.address) ?? addrs.find((a) => a.port === err.port) ?? addrs[0])?.url ?? ''
}

function withPort(url: string, port: number): string {
  const u = new URL(url)
  u.port = String(port)
  return u.toString().replace(/\/$/, '')
}

/** Starts a member and resolves once every client listener is bound. */
export async function startServer(options: StartOptions = {}): Promise<RunningServer> {
  const { backend: givenBackend, handler: hooks, logger, onStop, ...overrides } = options
  const log = logger ?? silentLogger()
  const defaults = parseArgs([], {})
  const config: ServerConfig = { ...defaults, ...overrides } as ServerConfig
  // Embedded use: no data dir given -> a private temporary one, removed on close; no peer listen
  // URLs given -> an ephemeral loopback port (a one-member cluster needs no fixed peer port).
  // The CLI always passes both (etcd's defaults: <name>.etcd, :2380).
  let tempDataDir: string | undefined
  if (overrides.dataDir === undefined && !givenBackend) {
    tempDataDir = mkdtempSync(join(tmpdir(), `raftkv-${config.name}-`))
    config.dataDir = tempDataDir
  }
  // As etcd: the default initial cluster is this member alone, under its own name.
  if (overrides.initialCluster === undefined) config.initialCluster = [{ name: config.name, peerUrls: [...config.initialAdvertisePeerUrls] }]
  config.listenClient = config.listenClientUrls.map((u) => bindAddress(u))
  config.listenPeer =
    overrides.listenPeerUrls === undefined && overrides.initialCluster === undefined
      ? [bindAddress('http://127.0.0.1:0', 'listen-peer-urls')]
      : config.listenPeerUrls.map((u) => bindAddress(u, 'listen-peer-urls'))

  const servers: http.Server[] = []
  const bound: string[] = []
  let closeServer: () => Promise<void> = async () => {}
  // A storage failure stops the member on its own: listeners closed, watches ended, then
  // onStop('fatal'). `fatal` is what ready() and later calls are refused with.
  let fatal: Error | undefined
  let serving: () => void = () => {}
  const isServing = new Promise<void>((resolve) => (serving = resolve))
  let refuseReady: (e: Error) => void = () => {}
  const fatalSignal = new Promise<never>((_, reject) => (refuseReady = reject))
  fatalSignal.catch(() => {})
  const onFatal = (err: unknown): void => {
    if (fatal) return
    fatal = new StorageFailedError(err)
    refuseReady(fatal)
    void (async () => {
      await isServing // a failure during start-up: stop once the listeners exist
      // Bounded: a disk that hangs must not keep a failed member around.
      await Promise.race([closeServer().catch(() => undefined), new Promise((r) => setTimeout(r, 5000).unref())])
      onStop?.('fatal')
    })()
  }
  // One registry per member (several members may share a process); created before the member so
  // the WAL and the Raft loop report into it from the first write.
  const metrics = new MemberMetrics()
  // Start-up order: TLS files readable, data dir checked and locked, every listener bound, and only
  // then the data dir is read and bootstrapped. A failed start leaves the dir as it found it.
  checkTlsFiles(config)
  const locks: DataDirLock[] = []
  let peerServer: PeerServer | undefined
  let started: MemberStart | undefined
  // Client requests that arrive while the member boots wait for the handler.
  type Serve = (req: http.IncomingMessage, res: http.ServerResponse) => void
  let serve: Serve | undefined
  let handlerReady!: (h: Serve) => void
  const handlerPromise = new Promise<Serve>((resolve) => (handlerReady = resolve))
  const early: Serve = (req, res) => (serve ? serve(req, res) : void handlerPromise.then((h) => h(req, res)))
  const abandon = async (): Promise<void> => {
    for (const s of servers) {
      s.close()
      s.closeAllConnections()
    }
    await started?.backend.close().catch(() => undefined)
    await peerServer?.stop()
    for (const l of locks.reverse()) await l.release({ restore: true })
  }
  try {
    if (!givenBackend) {
      locks.push(await lockDataDir(config.dataDir, 'data-dir'))
      if (config.walDir) locks.push(await lockWalDir(config.walDir))
      peerServer = new PeerServer({ listen: config.listenPeer, tls: config.peerTls, log })
      try {
        await peerServer.start()
      } catch (e) {
        throw listenError('listen-peer-urls', failedUrl(config.listenPeer, e), e)
      }
    }
    for (const addr of config.listenClient) {
      let server: http.Server
      if (addr.tls) {
        const tls = config.clientTls
        server = https.createServer(
          {
            cert: readFileSync(tls.certFile),
            key: readFileSync(tls.keyFile),
            ...(tls.trustedCaFile ? { ca: readFileSync(tls.trustedCaFile) } : {}),
            requestCert: tls.clientCertAuth,
            rejectUnauthorized: tls.clientCertAuth,
          },
          early,
        )
      } else {
        server = http.createServer(early)
      }
      // Long-poll watches have no server timeout (WATCH-9); keep idle keep-alive sockets a while.
      // (requestTimeout keeps Node's default: it bounds receiving a request, not a watch response.)
      server.keepAliveTimeout = 65_000
      server.headersTimeout = 66_000
      server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
        // Requests Node's parser cannot read, and timeouts: the client's doing, logged without a stack.
        if (err.code !== 'HPE_CLOSED_CONNECTION') log.debug({ code: err.code, reason: (err as { reason?: string }).reason }, 'malformed request or client timeout')
        onClientError(err, socket)
      })
      guardConnections(server, (why) => log.debug({ why }, 'malformed request refused'))
      servers.push(server)
      try {
        const port = await listen(server, addr)
        bound.push(withPort(addr.url, port))
      } catch (e) {
        throw listenError('listen-client-urls', addr.url, e)
      }
    }
    started = givenBackend
      ? undefined
      : await startRaftMember(config, log, config.advertiseClientUrls, {
          onRemoved: () => {
            void closeServer()
            onStop?.('removed')
          },
          onFatal,
          metrics,
          peerServer,
        })
  } catch (e) {
    await abandon()
    throw e
  }
  const member = started?.backend
  const raft: RaftBackend | undefined = member
  const backend: Backend = givenBackend ?? member!
  const transport = started?.transport
  const peers = transport ? (): PeerLinkStats[] => transport.allStats() : undefined
  metrics.attach({ backend, raft, peers })
  // The v2 auth API and its access checks (server/auth), unless the embedder brings its own hooks.
  const auth = createAuth(backend, { clientCertAuth: config.clientTls.clientCertAuth, maxRequestBytes: config.maxRequestBytes })
  const handler = createHandler(backend, {
    cors: config.cors,
    maxRequestBytes: config.maxRequestBytes,
    checkKeyAccess: auth.checkKeyAccess,
    checkRootAccess: auth.checkRootAccess,
    extraRoutes: auth.extraRoutes,
    onError: (err, req) =>
      isClientFault(err)
        ? log.debug({ method: req.method, url: req.url, reason: (err as Error).message }, 'client went away during its request')
        : log.error({ err, method: req.method, url: req.url }, 'unexpected error while serving a client request'),
    metrics: (res) => metrics.serve(res),
    dashboard: config.dashboard === false ? undefined : createDashboard({ backend, raft, peers, metrics }),
    ...hooks,
  })
  // Keys requests are counted for etcd_http_* on the way in (the handler itself stays metric-free);
  // malformed requests are refused and pipelined ones ordered before that (server/http/front-door).
  const served: Serve = frontDoor(instrumentHandler(handler, metrics), (req, why) =>
    log.debug({ method: req.method, url: req.url?.slice(0, 200), why }, 'malformed request refused'),
  )
  serve = served
  handlerReady(served)

  // Advertise what was asked for; a listen URL with port 0 is advertised with its real port, and
  // so is an advertised URL with port 0 (the one listener at its position, or the first).
  const asked = overrides.advertiseClientUrls && overrides.advertiseClientUrls.length > 0 ? overrides.advertiseClientUrls : bound
  const advertised = asked.map((u, i) => (new URL(u).port === '0' ? withPort(u, Number(new URL(bound[Math.min(i, bound.length - 1)]!).port)) : u))
  config.advertiseClientUrls = advertised
  raft?.setClientURLs(advertised)
  // Like etcd, a member is ready for clients once it has published its client URLs. A lone member
  // does that at once; a cluster member needs a quorum, so it does not block start-up for it.
  try {
    if (raft && raft.voterCount() <= 1) await raft.waitPublished(config.electionTimeoutMs * 5)
  } catch (e) {
    await abandon()
    throw e
  }

  let closing: Promise<void> | undefined
  const running: RunningServer = {
    clientUrls: bound,
    url: bound[0]!,
    config,
    backend,
    handler,
    ready(timeoutMs = 30_000) {
      if (fatal) return Promise.reject(fatal)
      return Promise.race([waitBackendReady(backend, timeoutMs), fatalSignal])
    },
    close() {
      closing ??= (async () => {
        // A leader hands over first so the others need not wait out an election (SIGTERM); not
        // after a storage failure (its Raft loop has stopped: nothing to hand over with).
        const wasLeader = !fatal && raft !== undefined && raft.voterCount() > 1 && raft.leaderId() === raft.memberId()
        if (!fatal) await raft?.transferLeadershipAway()
        if (wasLeader) {
          // The old leader steps down first and learns its successor from the successor's first append.
          const until = Date.now() + config.electionTimeoutMs
          while (Date.now() < until && (raft.leaderId() === undefined || raft.leaderId() === raft.memberId())) {
            await new Promise((resolve) => setTimeout(resolve, 10))
          }
          const now = raft.leaderId()
          if (now !== undefined && now !== raft.memberId()) log.info({ to: now }, 'handed leadership over before stopping')
          else log.warn('leadership hand-over did not complete before stopping; the others will elect a leader')
        }
        handler.closeWatches()
        // Let the ended watch responses flush before the sockets are cut.
        await new Promise((resolve) => setImmediate(resolve))
        await Promise.all(
          servers.map(
            (s) =>
              new Promise<void>((resolve) => {
                s.close(() => resolve())
                s.closeAllConnections()
              }),
          ),
        )
        await backend.close()
        await peerServer?.stop()
        for (const l of locks.reverse()) await l.release()
        metrics.close()
        if (tempDataDir) rmSync(tempDataDir, { recursive: true, force: true })
      })()
      return closing
    },
  }
  closeServer = () => running.close()
  serving()
  return running
}
