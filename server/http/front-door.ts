// The client listeners' front door: what Node's HTTP parser lets through but Go's server (and so
// etcd) refuses is refused here, before any handler runs, so a malformed request never executes:
//  - a request line that is not HTTP/1.0 or HTTP/1.1 (no version = HTTP/0.9, HTTP/2.0 on a plain
//    connection): the connection is closed without an answer, as etcd does;
//  - more than one Host header, or a Host with characters no host may contain: 400 (RFC 7230 §5.4);
//  - a transfer coding other than exactly `chunked`: 501 (Node would decode the chunking and hand
//    the still-coded body on);
//  - a request line longer than etcd reads (4096 bytes with its CRLF; etcd closes the connection):
//    414 URI Too Long (RFC 7230 §3.1.1), so no key is written that etcd could not be asked for.
// Two things Node's parser accepts and then hides are checked on the raw bytes before it sees
// them (guardConnections; the scanner is server/http/request-framing.ts): a request line that is
// not exactly `METHOD SP target SP HTTP/d.d` with major version 1 (etcd closes the connection on
// a first request, answers Go's 400/505 on a later one), and a chunk size Go refuses (more than
// 16 hex digits, a line of 4096 bytes: the body read fails, so the endpoint answers as etcd
// does, 210 `Invalid POST form` with Go's reason for the keys API). For that the connection's
// bytes come through JavaScript instead of going straight from the socket into the parser.
// It also keeps pipelined requests in order with respect to their effects (RFC 7230 §6.3.2): Node
// runs the handler of every request it parses at once and only orders the responses; here a
// request that follows one still in flight on the same connection waits when either is not a safe
// method. A request with nothing in flight before it (the keep-alive common case) goes straight
// through: the check is one property read.
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { Duplex } from 'node:stream'
import { Server as TlsServer } from 'node:tls'
import { failBody } from './body.js'
import { FramingScanner, type FramingViolation } from './request-framing.js'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

/** Methods whose requests may run side by side (RFC 7231 §4.2.1). */
function isSafe(method: string | undefined): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || method === 'TRACE'
}

// Go's httpguts.ValidHostHeader: the bytes RFC 3986 allows in a host and port (reg-name, IPv6
// literal, zone); nothing else, no byte above 0x7f either.
const HOST_OK = /^[A-Za-z0-9!$%&'()*+,\-.:;=[\]_~]*$/

/** Why a request is refused before routing, or undefined when it may go on. */
export type Refusal = { close: true } | { status: 400 | 414 | 501; reason: string; body: string }

/** Longest request line etcd accepts, CRLF included. */
export const MAX_REQUEST_LINE = 4096

/** The front-door checks on a parsed request head (exported for tests). */
export function refusal(req: IncomingMessage): Refusal | undefined {
  if (req.httpVersionMajor !== 1 || (req.httpVersionMinor !== 0 && req.httpVersionMinor !== 1)) return { close: true }
  // METHOD SP target SP HTTP/1.x CRLF
  const url = req.url ?? ''
  if (url.length > MAX_REQUEST_LINE - 20 && (req.method ?? '').length + url.length + 12 > MAX_REQUEST_LINE) {
    return { status: 414, reason: 'URI Too Long', body: '414 URI Too Long' }
  }
  const raw = req.rawHeaders
  let hosts = 0
  let host = ''
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    if (name.length === 4 && name.toLowerCase() === 'host') {
      hosts++
      host = raw[i + 1]!
    }
  }
  // Node itself answers an HTTP/1.1 request without Host with 400; HTTP/1.0 may omit it.
  if (hosts > 1) return { status: 400, reason: 'Bad Request', body: '400 Bad Request' }
  if (hosts === 1 && !HOST_OK.test(host)) {
    return { status: 400, reason: 'Bad Request: malformed Host header', body: '400 Bad Request: malformed Host header' }
  }
  const te = req.headers['transfer-encoding']
  if (te !== undefined && te.toLowerCase() !== 'chunked') return { status: 501, reason: 'Not Implemented', body: 'Unsupported transfer encoding' }
  return undefined
}

interface Queued {
  req: IncomingMessage
  res: ServerResponse
  safe: boolean
}

/** Per-connection bookkeeping, created only once a connection pipelines. */
interface ConnState {
  /** Requests started here (pipelined) whose responses have not closed, by safety. */
  running: Set<Queued>
  /** Requests waiting for their turn, in arrival order. */
  waiting: Queued[]
  /** The response that was in flight when pipelining was noticed, until it closes. */
  first: ServerResponse | undefined
  /** Set once a request was refused: nothing after it on this connection runs. */
  refused: boolean
}

const conns = new WeakMap<Socket, ConnState>()
/** Connections whose request was refused: what follows on them is not answered any more. */
const refusedSockets = new WeakSet<object>()

/**
 * Whether a request on this connection was refused. Bytes after it (say the body of a request
 * refused for its transfer coding) are no request: the clientError listener must not answer them.
 */
export function wasRefused(socket: object): boolean {
  return refusedSockets.has(socket)
}

function refuse(res: ServerResponse, r: Refusal): void {
  refusedSockets.add(res.req.socket)
  if ('close' in r) {
    res.req.socket.destroy()
    return
  }
  res.shouldKeepAlive = false
  res.writeHead(r.status, r.reason, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close', 'Content-Length': Buffer.byteLength(r.body) })
  res.end(r.body)
}

/**
 * Wraps the client handler with the front-door checks and in-order pipelining. `onRefused` hears
 * of each refusal (for a debug log line: malformed input is the client's doing, not a bug).
 */
export function frontDoor(handler: Handler, onRefused?: (req: IncomingMessage, why: string) => void): Handler {
  const run = (req: IncomingMessage, res: ServerResponse): void => {
    const r = refusal(req)
    if (r) {
      const st = conns.get(req.socket)
      if (st) st.refused = true
      try {
        onRefused?.(req, 'close' in r ? `HTTP/${req.httpVersion} request line` : `${r.status} ${r.body}`)
      } catch {
        // logging must not change the answer
      }
      refuse(res, r)
      return
    }
    handler(req, res)
  }

  const pump = (socket: Socket, st: ConnState): void => {
    while (st.waiting.length > 0 && !st.refused) {
      const next = st.waiting[0]!
      const busy = st.first !== undefined || st.running.size > 0
      const unsafeRunning = (st.first !== undefined && !isSafe(st.first.req.method)) || [...st.running].some((q) => !q.safe)
      if (busy && (!next.safe || unsafeRunning)) return
      st.waiting.shift()
      start(socket, st, next)
    }
    if (st.refused) st.waiting.length = 0
    if (st.waiting.length === 0 && st.running.size === 0 && st.first === undefined) conns.delete(socket)
  }

  const start = (socket: Socket, st: ConnState, q: Queued): void => {
    st.running.add(q)
    q.res.once('close', () => {
      st.running.delete(q)
      pump(socket, st)
    })
    run(q.req, q.res)
  }

  return (req: IncomingMessage, res: ServerResponse): void => {
    const socket = req.socket
    // Node assigns the socket to a response at once unless an earlier response on the same
    // connection is still being produced: then this request was pipelined behind it.
    if (res.socket !== null && !conns.has(socket)) {
      run(req, res)
      return
    }
    let st = conns.get(socket)
    if (!st) {
      const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined
      st = { running: new Set(), waiting: [], first: inFlight, refused: false }
      conns.set(socket, st)
      const state = st
      if (inFlight) {
        inFlight.once('close', () => {
          state.first = undefined
          pump(socket, state)
        })
      }
      // A connection that goes away takes its waiting requests with it: they never run.
      socket.once('close', () => {
        state.waiting.length = 0
      })
    }
    if (st.refused) {
      res.destroy()
      return
    }
    st.waiting.push({ req, res, safe: isSafe(req.method) })
    pump(socket, st)
  }
}

// ---- the bytes before the parser ----

/** What Go's server writes for a request line it cannot read after an earlier request on the connection. */
const GO_ANSWERS = {
  400: 'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request',
  505: 'HTTP/1.1 505 HTTP Version Not Supported: unsupported protocol version\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n505 HTTP Version Not Supported: unsupported protocol version',
}

interface Guard {
  scanner: FramingScanner
  /** The latest request the parser read on this connection, and its response. */
  req: IncomingMessage | undefined
  res: ServerResponse | undefined
  /** A request line that began in an earlier piece, held back until it is known to be well-formed. */
  line: Buffer[]
  lineBytes: number
}

/** Longest request line held back (Node's default limit for a whole head is 16 KiB). */
const MAX_HELD_LINE = 64 * 1024

const kGuard = Symbol('frontDoorGuard')
type GuardedSocket = Socket & { [kGuard]?: Guard; _handle?: { _consumed?: boolean } | null }

type ByteListener = (chunk: Buffer) => void

/** Runs `fn` once `res` has been handed to the socket whole, or has gone away. */
function afterResponse(res: ServerResponse, fn: () => void): void {
  if (res.writableFinished || res.destroyed) {
    fn()
    return
  }
  let done = false
  const once = (): void => {
    if (done) return
    done = true
    fn()
  }
  res.once('finish', once)
  res.once('close', once)
}

/** Acts on a framing violation, as etcd does. Nothing after the violation reaches the parser. */
function refuseFraming(socket: GuardedSocket, g: Guard, v: FramingViolation): void {
  refusedSockets.add(socket)
  if (socket.destroyed) return
  if (v.kind === 'request-line') {
    // etcd's listener matches the first request line itself and drops the connection; a later
    // one reaches Go's server, which answers 400 (or 505) after the responses before it.
    const res = g.res
    if (g.scanner.heads === 0 || res === undefined) {
      socket.destroy()
      return
    }
    afterResponse(res, () => {
      if (socket.writable && !socket.writableEnded) socket.end(GO_ANSWERS[v.answer])
      socket.destroySoon()
    })
    return
  }
  // Chunking Go refuses: the request's body read fails (the endpoint answers as etcd does),
  // and the connection closes after that answer.
  const req = g.req
  const res = g.res
  if (req === undefined || res === undefined || req.complete) {
    socket.destroy()
    return
  }
  failBody(req, v.cause)
  if (!res.headersSent) res.shouldKeepAlive = false
  afterResponse(res, () => socket.destroySoon())
}

/** Gives the connection back to http's own listeners (after a failure of the check itself), `chunk` included. */
function unguard(socket: GuardedSocket, g: Guard, http: { data: ByteListener; end: () => void }, ours: { data: ByteListener; end: () => void }, chunk: Buffer, err: unknown): void {
  socket.removeListener('data', ours.data)
  socket.removeListener('end', ours.end)
  Duplex.prototype.on.call(socket, 'data', http.data)
  Duplex.prototype.on.call(socket, 'end', http.end)
  delete socket[kGuard]
  process.emitWarning(`request framing check failed, connection left unchecked: ${String(err)}`)
  if (g.lineBytes > 0) releaseLine(g, http.data)
  http.data(chunk)
}

/** Hands the held-back request line to the parser. */
function releaseLine(g: Guard, parse: ByteListener): void {
  const line = g.line.length === 1 ? g.line[0]! : Buffer.concat(g.line, g.lineBytes)
  g.line = []
  g.lineBytes = 0
  parse(line)
}

/** Puts the framing check between a new connection's bytes and the HTTP parser http just gave it. */
function guard(socket: GuardedSocket, onRefused: ((why: string) => void) | undefined): void {
  const parse = socket.listeners('data').find((f) => f.name === 'bound socketOnData') as ByteListener | undefined
  const atEnd = socket.listeners('end').find((f) => f.name === 'bound socketOnEnd') as (() => void) | undefined
  // Not the http module this was written against: leave the connection as Node set it up.
  if (parse === undefined || atEnd === undefined) return
  const g: Guard = { scanner: new FramingScanner(), req: undefined, res: undefined, line: [], lineBytes: 0 }
  socket[kGuard] = g
  socket.removeListener('data', parse)
  socket.removeListener('end', atEnd)
  // Duplex's own `on`: http wraps the socket's to take back a consumed handle.
  const onData = (chunk: Buffer): void => {
    const scanner = g.scanner
    if (scanner.violation !== undefined) return // refused: the rest is not a request
    let n: number
    try {
      n = scanner.scan(chunk)
    } catch (e) {
      // A bug here must not take the server down: the connection goes on unchecked.
      unguard(socket, g, { data: parse, end: atEnd }, { data: onData, end: onEnd }, chunk, e)
      return
    }
    const v = scanner.violation as FramingViolation | undefined // set by scan()
    if (g.lineBytes > 0 && (n > 0 || v === undefined)) {
      // The request line held back from earlier pieces: complete and well-formed by now, or still going.
      if (n === 0) {
        g.line.push(chunk)
        g.lineBytes += chunk.length
        // Longer than any head the parser takes: let it go on and refuse it (431) itself.
        if (g.lineBytes > MAX_HELD_LINE) {
          scanner.releaseLine()
          releaseLine(g, parse)
        }
        return
      }
      releaseLine(g, parse)
    }
    if (n === chunk.length) {
      parse(chunk)
      return
    }
    if (n > 0) parse(chunk.subarray(0, n))
    if (v === undefined) {
      // The start of a request line (kept for the next piece), or a chunk-size line being judged (dropped).
      if (scanner.holdingLine) {
        g.line.push(chunk.subarray(n))
        g.lineBytes = chunk.length - n
      }
      return
    }
    g.line = []
    g.lineBytes = 0
    try {
      onRefused?.(v.kind === 'request-line' ? 'malformed request line' : `chunking: ${v.cause}`)
    } catch {
      // logging must not change the answer
    }
    refuseFraming(socket, g, v)
  }
  const onEnd = (): void => {
    // After a refusal the parser holds part of a message; its end is not a parse error to answer.
    if (g.scanner.violation === undefined) atEnd()
  }
  Duplex.prototype.on.call(socket, 'data', onData)
  Duplex.prototype.on.call(socket, 'end', onEnd)
}

/**
 * Makes the client connections of `server` pass their bytes through the framing check
 * (server/http/request-framing.ts) before Node's parser reads them. Call before listening.
 */
export function guardConnections(server: Server, onRefused?: (why: string) => void): void {
  const event = server instanceof TlsServer ? 'secureConnection' : 'connection'
  // Before http's own listener: a handle marked consumed is not handed to the parser in C++, so
  // the bytes come through JavaScript ('data' events), where the check can see them first.
  server.prependListener(event, (socket: GuardedSocket) => {
    if (socket._handle) socket._handle._consumed = true
  })
  // After it: swap its byte listeners for the checked ones (no byte has arrived yet).
  server.on(event, (socket: GuardedSocket) => guard(socket, onRefused))
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const g = (req.socket as GuardedSocket)[kGuard]
    if (g !== undefined) {
      g.req = req
      g.res = res
    }
  })
}
