// The HTTP(S) server on --listen-peer-urls: a tiny exact-path router that the transport mounts
// its /raft routes on and the server may extend (/members for joining members, /version...).
// Owns the sockets only; knows nothing about Raft.

import { readFileSync } from 'node:fs'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import type { BindAddress, TlsConfig } from '../config.js'
import type { Logger } from '../log.js'

/** A route handler. A thrown error or rejected promise answers 500 (if nothing was sent yet). */
export type PeerRouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>

export interface PeerServerOptions {
  /** Where to listen; port 0 picks a free port (see urls after start()). */
  listen: readonly BindAddress[]
  /** Needed when any listen address is https (--peer-cert-file etc.). */
  tls?: TlsConfig
  log?: Logger
}

interface Route {
  method: string
  path: string
  prefix: boolean
  handler: PeerRouteHandler
}

/** Peer-port HTTP server with a route table; usable without listening through handle(). */
export class PeerServer {
  private readonly routes: Route[] = []
  private readonly servers: http.Server[] = []
  private bound: string[] = []
  private stopping: Promise<void> | undefined

  constructor(private readonly options: PeerServerOptions) {}

  /**
   * Add a route. `path` matches exactly, or as a prefix when `prefix` is true (then the longest
   * prefix wins). Routes may be added before or after start().
   */
  route(method: string, path: string, handler: PeerRouteHandler, opts: { prefix?: boolean } = {}): void {
    this.routes.push({ method: method.toUpperCase(), path, prefix: opts.prefix ?? false, handler })
  }

  /** Peer URLs actually bound (port 0 replaced), in listen order; empty before start(). */
  get urls(): string[] {
    return [...this.bound]
  }

  /** Dispatch one request: 404 for an unknown path, 405 (with Allow) for a known path and wrong method. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0]!
    const candidates = this.routes.filter((r) => (r.prefix ? path.startsWith(r.path) : path === r.path))
    if (candidates.length === 0) {
      sendText(res, 404, '404 page not found\n')
      return
    }
    const longest = Math.max(...candidates.map((r) => r.path.length))
    const atPath = candidates.filter((r) => r.path.length === longest)
    const route = atPath.find((r) => r.method === req.method)
    if (!route) {
      res.setHeader('Allow', [...new Set(atPath.map((r) => r.method))].join(', '))
      sendText(res, 405, 'Method Not Allowed\n')
      return
    }
    const fail = (e: unknown): void => {
      this.options.log?.error({ err: e, path }, 'peer route failed')
      if (!res.headersSent) sendText(res, 500, 'Internal Server Error\n')
      else res.destroy()
    }
    try {
      const p = route.handler(req, res)
      if (p && typeof p.then === 'function') p.catch(fail)
    } catch (e) {
      fail(e)
    }
  }

  /** Bind every listen address; rejects (and closes what was bound) if one fails. */
  async start(): Promise<void> {
    try {
      for (const addr of this.options.listen) {
        const server = addr.tls ? https.createServer(this.tlsOptions(), this.handle) : http.createServer(this.handle)
        // Peers keep connections open between batches; outlive the client agents' idle timeout.
        server.keepAliveTimeout = 120_000
        server.headersTimeout = 121_000
        server.requestTimeout = 0 // snapshot uploads may take long; the sender bounds idle time
        this.servers.push(server)
        const port = await new Promise<number>((resolve, reject) => {
          server.once('error', reject)
          server.listen(addr.port, addr.host, () => {
            server.off('error', reject)
            resolve((server.address() as AddressInfo).port)
          })
        })
        const u = new URL(addr.url)
        u.port = String(port)
        this.bound.push(u.toString().replace(/\/$/, ''))
      }
    } catch (e) {
      await this.stop()
      throw e
    }
  }

  /** Close listeners and all connections. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve())
            s.closeAllConnections()
          }),
      ),
    ).then(() => undefined)
    return this.stopping
  }

  private tlsOptions(): https.ServerOptions {
    const tls = this.options.tls
    if (!tls || tls.certFile === '' || tls.keyFile === '') throw new Error('https peer URL needs --peer-cert-file and --peer-key-file')
    return {
      cert: readFileSync(tls.certFile),
      key: readFileSync(tls.keyFile),
      ...(tls.trustedCaFile !== '' ? { ca: readFileSync(tls.trustedCaFile) } : {}),
      requestCert: tls.clientCertAuth,
      rejectUnauthorized: tls.clientCertAuth,
    }
  }
}

/** Plain-text answer with Content-Length (Go's http.Error shape). */
export function sendText(res: ServerResponse, status: number, body: string): void {
  res.statusCode = status
  res.setHeader('Content-Type', 'text/plain; charset=utf-8')
  res.setHeader('X-Content-Type-Options', 'nosniff')
  res.setHeader('Content-Length', Buffer.byteLength(body))
  res.end(body)
}
