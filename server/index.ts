// startServer(): one raftkv member serving the v2 client API, for the CLI, tests and apps.
// Binds the client listeners and wires the HTTP handler to a Backend (single-member until the
// Raft-backed backend is plugged in via `backend`). Owns the sockets; owns no consensus logic.
import { readFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { bindAddress, parseArgs, type BindAddress, type ServerConfig } from './config.js'
import { SingleMemberBackend, type Backend } from './server.js'
import { createHandler, type ClientHandler, type HandlerOptions } from './http/handler.js'

export { SingleMemberBackend, ProposalError, MemberChangeError } from './server.js'
export type { Backend, MemberInfo, SelfStats, LeaderStats } from './server.js'
export { createHandler } from './http/handler.js'
export type { ServerConfig } from './config.js'

/**
 * Options of startServer: any ServerConfig field (defaults are etcd 2.x's, see server/config.ts),
 * plus test/embedding hooks. URL lists may use port 0; the real ports are reported back.
 */
export interface StartOptions extends Partial<Omit<ServerConfig, 'listenClient' | 'listenPeer'>> {
  /** Use this backend instead of a fresh single-member one (the Raft-backed server plugs in here). */
  backend?: Backend
  /** Extra handler hooks (auth). */
  handler?: Pick<HandlerOptions, 'checkKeyAccess' | 'extraRoutes'>
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
  /** Ends watches, closes listeners and connections, stops the backend. Idempotent. */
  close(): Promise<void>
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

function withPort(url: string, port: number): string {
  const u = new URL(url)
  u.port = String(port)
  return u.toString().replace(/\/$/, '')
}

/** Starts a member and resolves once every client listener is bound. */
export async function startServer(options: StartOptions = {}): Promise<RunningServer> {
  const { backend: givenBackend, handler: hooks, ...overrides } = options
  const defaults = parseArgs([], {})
  const config: ServerConfig = { ...defaults, ...overrides } as ServerConfig
  if (overrides.name !== undefined && overrides.dataDir === undefined) config.dataDir = `${config.name}.etcd`
  config.listenClient = config.listenClientUrls.map((u) => bindAddress(u))

  const servers: http.Server[] = []
  const bound: string[] = []
  const single = givenBackend
    ? undefined
    : new SingleMemberBackend({
        name: config.name,
        peerURLs: config.initialAdvertisePeerUrls,
        clientURLs: [],
        clusterToken: config.initialClusterToken,
      })
  const backend: Backend = givenBackend ?? single!
  const handler = createHandler(backend, { cors: config.cors, ...hooks })

  try {
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
          handler,
        )
      } else {
        server = http.createServer(handler)
      }
      // Long-poll watches have no server timeout (WATCH-9); keep idle keep-alive sockets a while.
      server.keepAliveTimeout = 65_000
      server.headersTimeout = 66_000
      server.requestTimeout = 0
      servers.push(server)
      const port = await listen(server, addr)
      bound.push(withPort(addr.url, port))
    }
  } catch (e) {
    for (const s of servers) s.close()
    await backend.close()
    throw e
  }

  // Advertise what was asked for; a listen URL with port 0 is advertised with its real port.
  const advertised = overrides.advertiseClientUrls && overrides.advertiseClientUrls.length > 0 ? overrides.advertiseClientUrls : bound
  config.advertiseClientUrls = advertised
  single?.setClientURLs(advertised)

  let closing: Promise<void> | undefined
  return {
    clientUrls: bound,
    url: bound[0]!,
    config,
    backend,
    handler,
    close() {
      closing ??= (async () => {
        handler.closeWatches()
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
      })()
      return closing
    },
  }
}
