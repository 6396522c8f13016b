// The client listeners' front door: what Node's HTTP parser lets through but Go's server (and so
// etcd) refuses is refused here, before any handler runs, so a malformed request never executes:
//  - a request line that is not HTTP/1.0 or HTTP/1.1 (no version = HTTP/0.9, HTTP/2.0 on a plain
//    connection): the connection is closed without an answer, as etcd does;
//  - more than one Host header, or a Host with characters no host may contain: 400 (RFC 7230 §5.4);
//  - a transfer coding other than exactly `chunked`: 501 (Node would decode the chunking and hand
//    the still-coded body on);
//  - a request line longer than etcd reads (4096 bytes with its CRLF; etcd closes the connection):
//    414 URI Too Long (RFC 7230 §3.1.1), so no key is written that etcd could not be asked for.
// It also keeps pipelined requests in order with respect to their effects (RFC 7230 §6.3.2): Node
// runs the handler of every request it parses at once and only orders the responses; here a
// request that follows one still in flight on the same connection waits when either is not a safe
// method. A request with nothing in flight before it (the keep-alive common case) goes straight
// through: the check is one property read.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

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
