// The client-facing request handler: CORS (GEN-5), path decoding and cleaning with 301 (GEN-2,
// GEN-3), the route table (GEN-1) with method checks (GEN-4), and a catch-all so no request can
// crash the process. A plain (req, res) function: it never listens; server/index.ts does.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Backend } from '../server.js'
import type { Watcher } from '../store/index.js'
import { serveKeys, type KeyAccessCheck, type KeysContext } from './keys-handler.js'
import { serveMembers } from './members.js'
import { DEFAULT_MAX_REQUEST_BYTES } from './body.js'
import { serveHealth, serveMachines, serveMetrics, serveVersion } from './misc.js'
import { serveLeaderStats, serveSelfStats, serveStoreStats } from './stats.js'
import { BadPathError, NonUtf8PathError, cleanPath, decodePath, escapePath, htmlEscape, needsCleaning } from './path.js'
import { writeInternalError, writeKeyError, writeMessageError, writeMethodNotAllowed, writeNotFound } from './write-error.js'
import { StoreError } from '../store/index.js'
import { wasRefused } from './front-door.js'

/** Options of the client handler. */
export interface HandlerOptions {
  /** CORS origins (GEN-5): `['*']` = any; empty/undefined = no CORS headers. */
  cors?: readonly string[]
  /** AUTH-13/14 hook for keys requests; false -> 401 errorCode 110. Absent = auth off. */
  checkKeyAccess?: KeyAccessCheck
  /** AUTH-4/MEM-9 hook for non-GET /v2/members requests; false -> 401 Insufficient credentials. */
  checkRootAccess?: (req: IncomingMessage) => boolean | Promise<boolean>
  /**
   * Extra routes tried before the 404 (e.g. the v2 auth API). Gets the cleaned, decoded path;
   * returns true when it answered the request.
   */
  extraRoutes?: (req: IncomingMessage, res: ServerResponse, path: string, rawQuery: string) => boolean | Promise<boolean>
  /** GET /metrics: renders this member's registry (server/metrics); absent = the built-in leader gauges. */
  metrics?: (res: ServerResponse) => void | Promise<void>
  /** `/dashboard` and `/dashboard/...` (server/dashboard); absent = 404 (--dashboard=false). */
  dashboard?: (req: IncomingMessage, res: ServerResponse, path: string, rawQuery: string) => void | Promise<void>
  /** Told about unexpected failures (bugs) that were answered with a 500; for logging. Must not throw. */
  onError?: (err: unknown, req: IncomingMessage) => void
  /** Largest client request body (--max-request-bytes); default DEFAULT_MAX_REQUEST_BYTES (10 MiB). */
  maxRequestBytes?: number
}

/** The handler plus shutdown support for long-lived watch responses. */
export interface ClientHandler {
  (req: IncomingMessage, res: ServerResponse): void
  /** Ends every open watch response (their watchers are removed). */
  closeWatches(): void
}

const KEYS_ALLOW = 'HEAD,GET,PUT,POST,DELETE'
const MEMBERS_ALLOW = 'GET,POST,DELETE,PUT'

function allowed(list: string, method: string): boolean {
  // Method names are upper-case tokens; a substring test against the comma list would accept
  // "GE", so compare whole entries.
  return (',' + list + ',').includes(',' + method + ',')
}

function setCors(res: ServerResponse, origin: string): void {
  res.setHeader('Access-Control-Allow-Origin', origin)
  res.setHeader('Access-Control-Allow-Methods', 'POST, GET, OPTIONS, PUT, DELETE')
  res.setHeader('Access-Control-Allow-Headers', 'accept, content-type, authorization')
}

function redirect(res: ServerResponse, method: string, cleaned: string, rawQuery: string | undefined): void {
  const location = escapePath(cleaned) + (rawQuery ? '?' + rawQuery : '')
  res.statusCode = 301
  res.setHeader('Location', location)
  if (method === 'GET' || method === 'HEAD') {
    const body = '<a href="' + htmlEscape(location) + '">Moved Permanently</a>.\n\n'
    res.setHeader('Content-Type', 'text/html; charset=utf-8')
    res.setHeader('Content-Length', Buffer.byteLength(body))
    res.end(body)
  } else {
    res.end()
  }
}

/** Builds the client handler over a backend. */
export function createHandler(backend: Backend, opts: HandlerOptions = {}): ClientHandler {
  const corsList = opts.cors ?? []
  const corsAll = corsList.includes('*')
  const corsSet = new Set(corsList)
  const maxRequestBytes = opts.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES
  const keysCtx: KeysContext = { backend, checkKeyAccess: opts.checkKeyAccess, watches: new Set<Watcher>(), onError: opts.onError, maxRequestBytes }

  function fail(req: IncomingMessage, res: ServerResponse, isKeys: boolean, e: unknown): void {
    // Last line of defence: never throws, never leaves the client hanging.
    try {
      opts.onError?.(e, req)
    } catch {
      // a broken logger must not take the request down with it
    }
    if (res.headersSent) {
      res.destroy()
      return
    }
    try {
      if (isKeys) {
        const body = '{"errorCode":300,"message":"Raft Internal Error","cause":"Internal Server Error","index":0}\n'
        res.statusCode = 500
        res.setHeader('X-Etcd-Cluster-Id', backend.clusterId())
        res.setHeader('Content-Type', 'application/json')
        res.setHeader('X-Etcd-Index', '0')
        res.end(body)
      } else {
        writeInternalError(res)
      }
    } catch {
      res.destroy()
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse, method: string, path: string, rawQuery: string): Promise<void> {
    // Keys first: it is the hot path.
    if (path.startsWith('/v2/keys') && (path.length === 8 || path.charCodeAt(8) === 47)) {
      if (!allowed(KEYS_ALLOW, method)) return writeMethodNotAllowed(res, KEYS_ALLOW)
      return serveKeys(keysCtx, req, res, path.slice(8), rawQuery)
    }
    if (path.startsWith('/v2/members') && (path.length === 11 || path.charCodeAt(11) === 47)) {
      if (!allowed(MEMBERS_ALLOW, method)) return writeMethodNotAllowed(res, MEMBERS_ALLOW)
      if (method !== 'GET' && opts.checkRootAccess && !(await opts.checkRootAccess(req))) {
        return writeMessageError(res, 401, 'Insufficient credentials')
      }
      return serveMembers(req, res, backend, path.slice(11), maxRequestBytes)
    }
    switch (path) {
      case '/v2/machines':
        if (method !== 'GET' && method !== 'HEAD') return writeMethodNotAllowed(res, 'GET,HEAD')
        return serveMachines(res, backend)
      case '/v2/stats/self':
      case '/v2/stats/leader':
      case '/v2/stats/store':
      case '/version':
      case '/health':
        if (method !== 'GET') return writeMethodNotAllowed(res, 'GET')
        if (path === '/version') return serveVersion(res)
        if (path === '/health') return serveHealth(res, backend)
        if (path === '/v2/stats/self') return serveSelfStats(res, backend)
        if (path === '/v2/stats/leader') return serveLeaderStats(res, backend)
        return serveStoreStats(res, backend)
      case '/metrics':
        return opts.metrics ? opts.metrics(res) : serveMetrics(res, backend)
    }
    if (opts.dashboard && path.startsWith('/dashboard') && (path.length === 10 || path.charCodeAt(10) === 47)) {
      return opts.dashboard(req, res, path, rawQuery)
    }
    if (opts.extraRoutes && (await opts.extraRoutes(req, res, path, rawQuery))) return
    writeNotFound(res)
  }

  const handler = ((req: IncomingMessage, res: ServerResponse): void => {
    let isKeys = false
    try {
      const method = req.method ?? 'GET'
      let url = req.url ?? '/'
      if (url.charCodeAt(0) !== 47) {
        // absolute-form request target (proxies): keep only path and query
        try {
          const u = new URL(url)
          url = u.pathname + u.search
        } catch {
          url = '/'
        }
      }
      const q = url.indexOf('?')
      const rawPath = q < 0 ? url : url.slice(0, q)
      const rawQuery = q < 0 ? '' : url.slice(q + 1)
      let path: string
      try {
        path = decodePath(rawPath)
      } catch (e) {
        if (e instanceof NonUtf8PathError) {
          // Keys are compared byte for byte: refuse what cannot be kept as it was sent.
          if (rawPath.startsWith('/v2/keys') && (rawPath.length === 8 || rawPath.charCodeAt(8) === 47)) {
            writeKeyError(res, new StoreError(209, 'key is not valid UTF-8', 0), method === 'HEAD', backend.clusterId())
          } else {
            writeMessageError(res, 400, 'path is not valid UTF-8')
          }
          return
        }
        if (!(e instanceof BadPathError)) throw e
        // Go's server rejects an unparsable request URI before any handler (CORS included).
        const body = '400 Bad Request'
        res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close', 'Content-Length': body.length })
        res.end(body)
        return
      }
      if (corsAll) setCors(res, '*')
      else if (corsSet.size > 0) {
        const origin = req.headers.origin
        if (origin !== undefined && corsSet.has(origin)) setCors(res, origin)
      }
      if (method === 'OPTIONS') {
        res.statusCode = 200
        res.end()
        return
      }
      if (needsCleaning(path)) return redirect(res, method, cleanPath(path), rawQuery)
      isKeys = path.startsWith('/v2/keys')
      const p = route(req, res, method, path, rawQuery)
      if (p) p.catch((e: unknown) => fail(req, res, isKeys, e))
    } catch (e) {
      fail(req, res, isKeys, e)
    }
  }) as ClientHandler

  handler.closeWatches = () => {
    for (const w of keysCtx.watches) w.remove()
    keysCtx.watches.clear()
  }
  return handler
}

/**
 * `clientError` listener for the client listeners: Node's default answers, except that bytes
 * after a request sent with `Connection: close` (a body the client did not announce) are ignored
 * so the in-flight response still completes, as Go's server does.
 */
export function onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'HPE_CLOSED_CONNECTION') return
  if (wasRefused(socket)) {
    // The front door answered (and closes) already; the rest of the bytes are not a request.
    socket.end()
    return
  }
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy()
    return
  }
  const status =
    err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request'
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`)
}
