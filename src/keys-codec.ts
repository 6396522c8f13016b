// Encoding of keys-API requests and decoding of its answers: key paths, parameters, the node JSON,
// response headers and etcd error bodies. Pure functions, no I/O.

import { EtcdError, HttpError, ValidationError, etcdErrorFrom, isEtcdErrorBody } from './errors.js'
import type { HttpResult } from './transport.js'
import type { Action, Node, Response, ResponseHeaders } from './types.js'

/**
 * `/v2/keys` path for a key: leading slash added, repeated slashes collapsed, each segment
 * percent-encoded (so spaces, `%`, `?`, `#` stay inside the key). `.`/`..` segments are refused:
 * the server would redirect instead of writing (spec GEN-2).
 */
export function keyPath(key: string): string {
  if (typeof key !== 'string') throw new ValidationError('key must be a string')
  const segments = key.split('/').filter((s) => s !== '')
  for (const s of segments) {
    if (s === '.' || s === '..') throw new ValidationError(`key ${JSON.stringify(key)} contains a "${s}" segment`)
  }
  return '/v2/keys' + (segments.length ? '/' + segments.map(encodeURIComponent).join('/') : '/')
}

/** Checks a TTL in seconds (non-negative integer). */
export function checkTtl(ttl: unknown, name = 'ttl'): string | undefined {
  if (ttl === undefined) return undefined
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0) {
    throw new ValidationError(`${name} must be a non-negative integer number of seconds, got ${String(ttl)}`)
  }
  return String(ttl)
}

/** Checks an index (positive integer). */
export function checkIndex(index: unknown, name: string): string | undefined {
  if (index === undefined) return undefined
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 1) {
    throw new ValidationError(`${name} must be a positive integer, got ${String(index)}`)
  }
  return String(index)
}

/** Checks a prevValue (non-empty string; spec PARAM-6). */
export function checkPrevValue(v: unknown): string | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'string' || v === '') throw new ValidationError('prevValue must be a non-empty string')
  return v
}

/** Copies defined entries into a params object. */
export function params(entries: Record<string, string | boolean | undefined>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(entries)) {
    if (v === undefined || v === false) continue
    out[k] = v === true ? 'true' : v
  }
  return out
}

/** Largest modifiedIndex in a node tree. */
function maxIndex(n: Node): number {
  return Math.max(n.modifiedIndex, ...(n.nodes ?? []).map(maxIndex))
}

/**
 * Reads the cluster headers of a keys response. A browser hides them on cross-origin answers
 * unless the server sends Access-Control-Expose-Headers (etcd does not): then etcdIndex falls
 * back to the node's modifiedIndex for writes (equal by spec HDR-2) and to the largest
 * modifiedIndex in the tree for reads (a lower bound); raftIndex/raftTerm are 0, clusterId ''.
 */
export function readHeaders(res: HttpResult, node?: Node, action?: Action): ResponseHeaders {
  const num = (name: string): number => {
    const v = res.headers.get(name)
    return v === null ? 0 : Number(v)
  }
  const hidden = res.headers.get('x-etcd-index') === null && node !== undefined
  return {
    etcdIndex: hidden ? (action === 'get' ? maxIndex(node) : node.modifiedIndex) : num('x-etcd-index'),
    raftIndex: num('x-raft-index'),
    raftTerm: num('x-raft-term'),
    clusterId: res.headers.get('x-etcd-cluster-id') ?? '',
  }
}

/** Turns a wire node into a typed {@link Node} (root: key `/`, indexes 0). */
export function toNode(raw: unknown): Node {
  const r = (raw ?? {}) as Record<string, unknown>
  const node: Node = {
    key: typeof r.key === 'string' ? r.key : '/',
    modifiedIndex: typeof r.modifiedIndex === 'number' ? r.modifiedIndex : 0,
    createdIndex: typeof r.createdIndex === 'number' ? r.createdIndex : 0,
  }
  if (typeof r.value === 'string') node.value = r.value
  if (r.dir === true) node.dir = true
  if (typeof r.expiration === 'string') node.expiration = r.expiration
  if (typeof r.ttl === 'number') node.ttl = r.ttl
  if (Array.isArray(r.nodes)) node.nodes = r.nodes.map(toNode)
  return node
}

/** Parses a JSON body, or undefined if it is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/**
 * Turns an HTTP answer into a typed error: an {@link EtcdError} subclass chosen by errorCode for
 * etcd error bodies, an {@link HttpError} for anything else.
 */
export function errorFromResult(res: HttpResult): EtcdError | HttpError {
  const body = parseJson(res.body)
  if (isEtcdErrorBody(body)) return etcdErrorFrom(body, res.status)
  const message = typeof (body as { message?: unknown })?.message === 'string'
    ? (body as { message: string }).message
    : res.body.trim().slice(0, 200)
  return new HttpError(res.status, `${res.status} from ${res.endpoint}: ${message}`)
}

/** Decodes a successful keys answer or throws the typed error. */
export function decodeKeysResponse(res: HttpResult): Response {
  if (res.status >= 300) throw errorFromResult(res)
  const body = parseJson(res.body) as { action?: Action; node?: unknown; prevNode?: unknown } | undefined
  if (!body || typeof body.action !== 'string') {
    throw new HttpError(res.status, `unexpected answer from ${res.endpoint}: ${res.body.slice(0, 200)}`)
  }
  const node = toNode(body.node)
  const out: Response = { action: body.action, node, ...readHeaders(res, node, body.action) }
  if (body.prevNode !== undefined) out.prevNode = toNode(body.prevNode)
  return out
}
