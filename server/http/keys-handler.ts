// The /v2/keys endpoint: parameters -> KeyRequest, then a local read, a watch, a quorum read or a
// proposal through the Backend, and the response in etcd's exact shape (HDR-1..4, ERR-1, WATCH-1,
// WATCH-8). Never applies to the store itself: writes only go through Backend.propose.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Listing, StoreError, type StoreEvent, type Watcher } from '../store/index.js'
import type { Backend } from '../server.js'
import { requestFailure } from './cluster-errors.js'
import { FormError, newParams, parseMediaType, parseQueryInto, type Params } from './form.js'
import { parseKeyRequest, type KeyMethod, type KeyRequest } from './keys.js'
import { MalformedBodyError, readBody } from './body.js'
import { writeKeyError } from './write-error.js'


/** Optional auth hook (AUTH-13/14): `rawKeyPath` is the decoded path after /v2/keys, uncleaned. */
export type KeyAccessCheck = (req: IncomingMessage, rawKeyPath: string, recursive: boolean) => boolean | Promise<boolean>

/** Shared state of the keys endpoint: backend, optional auth hook, open watches (for shutdown). */
export interface KeysContext {
  backend: Backend
  checkKeyAccess?: KeyAccessCheck
  watches: Set<Watcher>
  /** Told about unexpected (non-etcd) errors before they are answered as 500/300. */
  onError?: (err: unknown, req: IncomingMessage) => void
  /** Largest form body parsed (--max-request-bytes, GEN-8): larger ones fail with 210 `http: POST too large`. */
  maxRequestBytes: number
}

const FORM_TYPE = 'application/x-www-form-urlencoded'
/** Parameters whose text is stored or compared as is. */
const TEXT_PARAMS = ['value', 'prevValue'] as const

/**
 * Whether the body of this request holds parameters (PARAM-1): only PUT/POST with a form content
 * type. A malformed Content-Type on PUT/POST fails like Go's ParseForm (210 with mime's text).
 */
function hasFormBody(req: IncomingMessage, method: string): boolean {
  if (method !== 'PUT' && method !== 'POST') return false
  const ct = req.headers['content-type']
  // Go reads a missing or empty Content-Type as application/octet-stream.
  if (ct === undefined || ct === '' || ct === FORM_TYPE) return ct === FORM_TYPE
  const { mediaType, error } = parseMediaType(ct)
  if (error !== undefined) throw new StoreError(210, error, 0)
  return mediaType === FORM_TYPE
}

/**
 * Collects parameters like Go's Request.ParseForm (PARAM-1, PARAM-2, PARAM-8): the form body
 * (`body`, already read, or undefined) first, then the query; the first parse error wins.
 * Throws StoreError 210.
 */
function collectParams(body: string | undefined, rawQuery: string): Params {
  const params = newParams()
  const invalid = new Set<string>()
  let err: string | undefined
  if (body !== undefined) {
    try {
      parseQueryInto(body, params, invalid, true)
    } catch (e) {
      if (!(e instanceof FormError)) throw e
      err = e.message
    }
  }
  try {
    parseQueryInto(rawQuery, params, invalid)
  } catch (e) {
    if (!(e instanceof FormError)) throw e
    err ??= e.message
  }
  if (err !== undefined) throw new StoreError(210, err, 0)
  // Values are compared byte for byte, so text that is not UTF-8 is refused rather than decoded
  // to U+FFFD (two different values would become one). Other parameters fail their own checks.
  for (const name of TEXT_PARAMS) {
    if (invalid.has(name)) throw new StoreError(209, `invalid value for "${name}": not valid UTF-8`, 0)
  }
  return params
}

/** Reads a form body up to `limit` bytes (--max-request-bytes, GEN-8); too large -> 210 and the connection closes, as etcd. */
async function readForm(req: IncomingMessage, res: ServerResponse, limit: number): Promise<string> {
  // latin1: one character per byte, so the form decoder sees the bytes as sent (UTF-8 is checked
  // per parameter after unescaping).
  let body: string | undefined
  try {
    body = await readBody(req, limit, 'latin1')
  } catch (e) {
    // etcd answers a body it cannot read as a failed ParseForm: 210 with Go's reason.
    if (e instanceof MalformedBodyError) throw new StoreError(210, e.message, 0)
    throw e
  }
  if (body === undefined) {
    res.setHeader('Connection', 'close')
    throw new StoreError(210, 'http: POST too large', 0)
  }
  return body
}

/** A successful keys response (HDR-1..4). One writeHead with a flat header list: the hot path. */
function writeEvent(res: ServerResponse, backend: Backend, ev: StoreEvent, noValueOnSuccess: boolean, head: boolean): void {
  writeEventText(res, backend, ev, ev.body(noValueOnSuccess), head)
}

/** What the headers of a keys answer need: a StoreEvent or a Listing. */
interface Answer {
  readonly etcdIndex: number
  readonly status: number
}

function eventHeaders(backend: Backend, ev: Answer): string[] {
  return [
    'X-Etcd-Cluster-Id', backend.clusterId(),
    'Content-Type', 'application/json',
    'X-Etcd-Index', String(ev.etcdIndex),
    'X-Raft-Index', String(backend.raftIndex()),
    'X-Raft-Term', String(backend.raftTerm()),
  ]
}

function writeEventText(res: ServerResponse, backend: Backend, ev: Answer, body: string, head: boolean): void {
  const headers = eventHeaders(backend, ev)
  headers.push('Content-Length', String(Buffer.byteLength(body)))
  res.writeHead(ev.status, headers)
  if (head) res.end()
  else res.end(body)
}

/** Characters of JSON encoded per event-loop turn for a listing. */
export const LISTING_SLICE_CHARS = 64 * 1024

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * A GET answer. A directory listing is produced from the store a slice at a time (Listing: the
 * state at one index, read from the live tree, not a copy of it): one that fits in the first
 * slice goes out whole with Content-Length; a bigger one is sent chunked, each slice made when the
 * socket has taken the previous one, with a turn of the event loop between slices, so heartbeats,
 * writes and small reads go on meanwhile and a slow reader holds at most one slice beyond the
 * socket's buffer.
 */
async function writeGet(res: ServerResponse, backend: Backend, got: StoreEvent | Listing, head: boolean): Promise<void> {
  if (!(got instanceof Listing)) { writeEvent(res, backend, got, false, head); return }
  try {
    const first = got.next(LISTING_SLICE_CHARS)
    if (got.done) { writeEventText(res, backend, got, first + '\n', head); return }
    if (head) {
      // HEAD answers the length of the body a GET would get, without sending it.
      let bytes = Buffer.byteLength(first) + 1
      while (!got.done) {
        await nextTurn()
        if (res.destroyed) return
        bytes += Buffer.byteLength(got.next(LISTING_SLICE_CHARS))
      }
      const headers = eventHeaders(backend, got)
      headers.push('Content-Length', String(bytes))
      res.writeHead(got.status, headers)
      res.end()
      return
    }
    res.writeHead(got.status, eventHeaders(backend, got))
    let piece = first
    for (;;) {
      if (piece.length > 0 && !res.write(piece)) await drained(res)
      if (res.destroyed) return
      if (got.done) break
      await nextTurn()
      if (res.destroyed) return
      piece = got.next(LISTING_SLICE_CHARS)
    }
    res.end('\n')
  } finally {
    // The store keeps what an open listing needs to read the past until it is closed.
    got.close()
  }
}

/** Errors that are not StoreErrors become 500 errorCode 300 with the error text as cause (ERR-1). */
function toStoreError(ctx: KeysContext, req: IncomingMessage, e: unknown): StoreError {
  if (e instanceof StoreError) return e
  const failed = requestFailure(e)
  if (failed) return new StoreError(failed.errorCode, failed.cause, 0)
  try {
    ctx.onError?.(e, req)
  } catch {
    // logging must not change the answer
  }
  return new StoreError(300, e instanceof Error ? e.message : String(e), 0)
}

/**
 * Serves one /v2/keys request. `rest` is the decoded path after `/v2/keys`; the method has been
 * checked against HEAD, GET, PUT, POST, DELETE. Never rejects: every failure becomes an etcd error.
 */
export async function serveKeys(ctx: KeysContext, req: IncomingMessage, res: ServerResponse, rest: string, rawQuery: string): Promise<void> {
  const { backend } = ctx
  const method = req.method as KeyMethod
  const head = method === 'HEAD'
  // X-Etcd-Cluster-Id (HDR-1) is written with each response's other headers.
  let kr: KeyRequest
  try {
    // Reads without a body stay synchronous up to the store (the hot path).
    const body = hasFormBody(req, method) ? await readForm(req, res, ctx.maxRequestBytes) : undefined
    kr = parseKeyRequest(method, rest, collectParams(body, rawQuery))
    if (ctx.checkKeyAccess) {
      // A synchronous answer (auth off, cached password) keeps plain reads off the microtask queue.
      const ok = ctx.checkKeyAccess(req, rest, kr.recursive)
      if (ok !== true && !(await ok)) throw new StoreError(110, 'Insufficient credentials', 0)
    }
  } catch (e) {
    if (!res.headersSent) writeKeyError(res, toStoreError(ctx, req, e), head, backend.clusterId())
    return
  }
  try {
    if (kr.command) {
      const result = await backend.propose(kr.command)
      if (result instanceof StoreError) writeKeyError(res, result, head, backend.clusterId())
      else writeEvent(res, backend, result, kr.noValueOnSuccess, head)
      return
    }
    if (kr.quorum) {
      // WATCH-11: wait=true with quorum=true is a quorum GET, not a watch.
      await backend.linearizableRead()
    } else if (kr.wait) {
      await serveWatch(ctx, res, kr)
      return
    }
    const got = backend.store.list(kr.key, { recursive: kr.recursive, sorted: kr.sorted }, Date.now())
    await writeGet(res, backend, got, head)
  } catch (e) {
    if (!res.headersSent) writeKeyError(res, toStoreError(ctx, req, e), head, backend.clusterId())
    else res.destroy()
  }
}

/**
 * WATCH-1/8: headers flushed at once, then one event (long poll) or every event (stream), each as
 * JSON + `\n`. The watcher is removed when the response ends or the client goes away (WATCH-13).
 */
async function serveWatch(ctx: KeysContext, res: ServerResponse, kr: KeyRequest): Promise<void> {
  const { backend } = ctx
  // The client may have gone while an (async) auth check ran: then 'close' will not fire again.
  if (!res.socket || res.socket.destroyed) return
  const w = backend.store.watch(kr.key, { recursive: kr.recursive, stream: kr.stream, sinceIndex: kr.waitIndex })
  ctx.watches.add(w)
  const onClose = (): void => w.remove()
  res.on('close', onClose)
  try {
    res.writeHead(200, [
      'X-Etcd-Cluster-Id', backend.clusterId(),
      'Content-Type', 'application/json',
      'X-Etcd-Index', String(w.etcdIndex),
      'X-Raft-Index', String(backend.raftIndex()),
      'X-Raft-Term', String(backend.raftTerm()),
    ])
    res.flushHeaders()
    for (;;) {
      const ev = await w.next()
      if (ev === null || res.destroyed) break
      if (!kr.stream) {
        res.end(ev.body()) // event and final chunk in one write
        break
      }
      if (!res.write(ev.body())) await drained(res)
    }
  } finally {
    w.remove()
    ctx.watches.delete(w)
    res.off('close', onClose)
    if (!res.destroyed && !res.writableEnded) res.end()
  }
}

/** Resolves when `res` can take more data or has closed (stream backpressure, WATCH-12). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}
