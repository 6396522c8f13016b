// Keys-API request parsing: parameters from the query string and form body (PARAM-1, PARAM-2),
// their validation in etcd's order (PARAM-3..9) and the translation into a store Command (ACT-2 is
// left to the store). Pure: no I/O, no store access; errors are StoreErrors with index 0.
import type { Command } from '../store/types.js'
import { StoreError } from '../store/errors.js'
import type { Params } from './form.js'
import { keyFromPath } from './path.js'

/** Longest key accepted, in UTF-8 bytes (etcd has no limit; documented in README "Limits"). */
export const MAX_KEY_BYTES = 8192
/**
 * Deepest key a write may create, in path segments (`/a/b` has 2). Reading a directory back
 * renders and encodes one nesting level per segment; beyond about 2000 levels that exhausts the
 * stack, so deeper writes are refused instead of breaking reads of the store (etcd itself drops
 * requests for keys longer than about 4 KiB, which caps its depth near 2000).
 */
export const MAX_KEY_DEPTH = 1024

/** Number of segments of a cleaned key ('/' has none). */
function keyDepth(key: string): number {
  let n = 0
  for (let i = key.indexOf('/'); i >= 0 && i < key.length - 1; i = key.indexOf('/', i + 1)) n++
  return n
}

/** Largest `ttl` accepted: beyond it etcd's nanosecond arithmetic overflows (TTL-3). */
export const MAX_TTL_SECONDS = 9_223_372_036

/** HTTP methods the keys endpoint serves (GEN-4 order). */
export type KeyMethod = 'HEAD' | 'GET' | 'PUT' | 'POST' | 'DELETE'

/** A validated keys request. Reads carry their flags; writes carry the store command. */
export interface KeyRequest {
  method: KeyMethod
  key: string
  recursive: boolean
  sorted: boolean
  quorum: boolean
  wait: boolean
  stream: boolean
  /** waitIndex; 0 = current index + 1 (WATCH-2). */
  waitIndex: number
  noValueOnSuccess: boolean
  /** Present for PUT, POST and DELETE. */
  command?: Command
}

/** Go strconv.ParseBool (PARAM-3). Returns undefined for anything else, the empty string included. */
export function parseGoBool(s: string): boolean | undefined {
  switch (s) {
    case '1': case 't': case 'T': case 'TRUE': case 'true': case 'True':
      return true
    case '0': case 'f': case 'F': case 'FALSE': case 'false': case 'False':
      return false
    default:
      return undefined
  }
}

const UINT64_MAX = 18446744073709551615n

/** Go strconv.ParseUint(s, 10, 64) (PARAM-4). Values above 2^53 lose precision (documented). */
export function parseGoUint(s: string): number | undefined {
  if (s.length === 0 || s.length > 20) return undefined
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 48 || c > 57) return undefined
  }
  if (s.length === 20 && BigInt(s) > UINT64_MAX) return undefined
  return Number(s)
}

function boolParam(p: Params, name: string): boolean {
  const v = p[name]
  if (v === undefined) return false
  const b = parseGoBool(v)
  if (b === undefined) throw new StoreError(209, `invalid value for "${name}"`, 0)
  return b
}

function indexParam(p: Params, name: string): number {
  const v = p[name]
  if (v === undefined) return 0
  const n = parseGoUint(v)
  if (n === undefined) throw new StoreError(203, `invalid value for "${name}"`, 0)
  return n
}

/**
 * Validates a keys request in PARAM-9 order and builds it. `rest` is the decoded path after
 * `/v2/keys`; `params` holds body values first, then query values (PARAM-2). Throws StoreError
 * (index 0) for the first failed check.
 */
export function parseKeyRequest(method: KeyMethod, rest: string, p: Params): KeyRequest {
  const prevIndex = indexParam(p, 'prevIndex')
  const waitIndex = indexParam(p, 'waitIndex')
  const recursive = boolParam(p, 'recursive')
  const sorted = boolParam(p, 'sorted')
  const wait = boolParam(p, 'wait')
  const dir = boolParam(p, 'dir')
  const quorum = boolParam(p, 'quorum')
  const stream = boolParam(p, 'stream')
  if (wait && method !== 'GET') throw new StoreError(209, '"wait" can only be used with GET requests', 0)
  const prevValue = p.prevValue
  if (prevValue === '') throw new StoreError(201, '"prevValue" cannot be empty', 0)
  const noValueOnSuccess = boolParam(p, 'noValueOnSuccess')
  let ttlSeconds: number | null = null
  const ttlRaw = p.ttl
  if (ttlRaw !== undefined && ttlRaw !== '') {
    const n = parseGoUint(ttlRaw)
    if (n === undefined || n > MAX_TTL_SECONDS) throw new StoreError(202, 'invalid value for "ttl"', 0)
    ttlSeconds = n
  }
  let prevExist: boolean | undefined
  if (p.prevExist !== undefined) {
    prevExist = parseGoBool(p.prevExist)
    if (prevExist === undefined) throw new StoreError(209, 'invalid value for prevExist', 0)
  }
  let refresh = false
  if (p.refresh !== undefined) {
    const r = parseGoBool(p.refresh)
    if (r === undefined) throw new StoreError(209, 'invalid value for refresh', 0)
    refresh = r
    if (refresh) {
      if (p.value !== undefined && p.value !== '') throw new StoreError(211, 'A value was provided on a refresh', 0)
      if (ttlSeconds === null) throw new StoreError(212, 'No TTL value set', 0)
    }
  }
  const key = keyFromPath(rest)
  if (key.length > MAX_KEY_BYTES / 3 && Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new StoreError(209, `key is longer than ${MAX_KEY_BYTES} bytes`, 0)
  }
  // A POST creates one level below `key`. Each level takes at least two characters: cheap skip.
  if ((method === 'PUT' || method === 'POST') && key.length >= 2 * MAX_KEY_DEPTH - 1) {
    if (keyDepth(key) + (method === 'POST' ? 1 : 0) > MAX_KEY_DEPTH) {
      throw new StoreError(209, `key is deeper than ${MAX_KEY_DEPTH} levels`, 0)
    }
  }
  const req: KeyRequest = { method, key, recursive, sorted, quorum, wait, stream, waitIndex, noValueOnSuccess }
  const value = p.value ?? ''
  switch (method) {
    case 'PUT': {
      const cmd: Command = { op: 'set', key, value }
      if (dir) cmd.dir = true
      if (ttlSeconds !== null) cmd.ttlSeconds = ttlSeconds
      if (refresh) cmd.refresh = true
      if (prevExist !== undefined) cmd.prevExist = prevExist
      if (prevValue !== undefined) cmd.prevValue = prevValue
      if (prevIndex !== 0) cmd.prevIndex = prevIndex
      if (noValueOnSuccess) cmd.noValueOnSuccess = true
      req.command = cmd
      break
    }
    case 'POST': {
      const cmd: Command = { op: 'post', key, value }
      if (dir) cmd.dir = true
      if (ttlSeconds !== null) cmd.ttlSeconds = ttlSeconds
      if (noValueOnSuccess) cmd.noValueOnSuccess = true
      req.command = cmd
      break
    }
    case 'DELETE': {
      const cmd: Command = { op: 'delete', key }
      if (dir) cmd.dir = true
      if (recursive) cmd.recursive = true
      if (prevValue !== undefined) cmd.prevValue = prevValue
      if (prevIndex !== 0) cmd.prevIndex = prevIndex
      req.command = cmd
      break
    }
  }
  return req
}
