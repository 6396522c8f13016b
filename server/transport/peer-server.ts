// The HTTP(S) server on --listen-peer-urls: a tiny exact-path router that the transport mounts
// its /raft routes on and the server may extend (/members for joining members, /version...).
// Owns the sockets only; knows nothing about Raft.

import { readFileSync } from 'node:fs'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import type { BindAddress, TlsConfig } from '../config.js'
import type { Logger } from '../log.js'

/** A route handler. A thrown error or rejected promise answers 500 (if nothing was sent yet). */
export type PeerRouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>

/**
 * A protocol switch handler: owns the bare socket from the request headers on (it answers `101` or
 * a refusal itself); `head` holds the bytes that came after the headers.
 */
export type PeerUpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void

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
  /** Protocol switches by path and then by `Upgrade:` token (lower case). */
  private readonly upgrades = new Map<string, Map<string, PeerUpgradeHandler>>()
  /** Switched sockets: the HTTP server no longer tracks them, stop() must end them. */
  private readonly switched = new Set<Duplex>()
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

  /**
   * Accept `Upgrade: <protocol>` on `path` (e.g. a POST whose body then becomes a bare stream).
   * Servers without any such route handle an upgrade request as an ordinary request (Node does so
   * when nobody listens for 'upgrade'), so registering one is what makes the switch possible.
   */
  upgradeRoute(path: string, protocol: string, handler: PeerUpgradeHandler): void {
    let byProtocol = this.upgrades.get(path)
    if (!byProtocol) this.upgrades.set(path, (byProtocol = new Map()))
    byProtocol.set(protocol.toLowerCase(), handler)
    for (const s of this.servers) if (s.listenerCount('upgrade') === 0) s.on('upgrade', this.handleUpgrade)
  }

  /** A request asking to switch protocols on a server that has upgrade routes. */
  private readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = (req.url ?? '/').split('?')[0]!
    const wanted = String(req.headers.upgrade ?? '').split(',').map((p) => p.trim().toLowerCase())
    const byProtocol = this.upgrades.get(path)
    const handler = wanted.map((p) => byProtocol?.get(p)).find((h) => h !== undefined)
    if (!handler) {
      // Node has already skipped any body; the socket cannot carry an ordinary answer further.
      socket.on('error', () => {})
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 20\r\nConnection: close\r\n\r\nunsupported upgrade\n')
      return
    }
    this.switched.add(socket)
    socket.once('close', () => this.switched.delete(socket))
    try {
      handler(req, socket, head)
    } catch (e) {
      this.options.log?.error({ err: e, path }, 'peer upgrade route failed')
      socket.destroy()
    }
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
        if (this.upgrades.size > 0) server.on('upgrade', this.handleUpgrade)
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
    for (const socket of this.switched) socket.destroy()
    this.switched.clear()
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
