// HTTP transport of the client: endpoint failover, per-request timeouts, the overall deadline and
// jittered retries (p-retry). It decides what is safe to repeat; it does not know etcd's JSON
// (callers interpret the answer and throw typed errors). No Node built-ins.

import pRetry from 'p-retry'
import { AbortError, OutcomeUnknownError, RaftkvError, TimeoutError, UnavailableError, isRetryable } from './errors.js'
import { base64Utf8, ensureAbortController, linkSignal, newAbortController, resolveDefaultFetch } from './runtime.js'
import type { FetchLike, RetryOptions, TransportOptions } from './types.js'

/**
 * How a request may be repeated after a failure whose outcome is unknown:
 * - `read`: reads and idempotent writes (TTL refresh): fail over and retry freely;
 * - `guarded`: conditional writes (prevIndex / prevValue / prevExist=false): only with
 *   `retry.guardedWrites`;
 * - `write`: everything else: only if the request never reached a server.
 */
export type Safety = 'read' | 'guarded' | 'write'

export interface HttpRequest {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE'
  /** Path with leading slash, already percent-encoded, e.g. `/v2/keys/a%20b`. */
  path: string
  query?: Record<string, string>
  /** Sent as application/x-www-form-urlencoded. */
  form?: Record<string, string>
  /** Sent as application/json. */
  json?: unknown
  /** Headers of this request (on top of the client's). */
  headers?: Record<string, string>
  /**
   * Streamed answer (v3 watch): a 2xx answer is returned as soon as its headers arrive, with the
   * unread body in `stream`; it stays open until `signal` aborts. `timeout` covers the headers only.
   */
  stream?: boolean
  safety: Safety
  signal?: AbortSignal
  timeout?: number
  /**
   * Long poll (watch): the timeout covers only the wait for response headers; the body may take
   * up to `longPollMs`, after which the request ends like an empty watch answer.
   */
  longPollMs?: number
}

/** A raw HTTP answer from one endpoint. */
export interface HttpResult {
  status: number
  headers: { get(name: string): string | null }
  body: string
  endpoint: string
  /** The unread body of a 2xx answer to a `stream` request (see FetchResponseLike.body). */
  stream?: unknown
}

/** Error codes (Node, undici, node-fetch) meaning the request was never delivered to a server. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT', 'ERR_INVALID_URL', 'ERR_INVALID_PROTOCOL',
])

/** True if the error chain shows the connection was never established. */
export function isNotSentError(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 5) return false
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown }
  if (typeof e.code === 'string' && NOT_SENT_CODES.has(e.code)) return true
  if (Array.isArray(e.errors) && e.errors.length > 0 && e.errors.every((x) => isNotSentError(x, depth + 1))) return true
  return isNotSentError(e.cause, depth + 1)
}

type AttemptFailure = { sent: boolean; reason: string; error: unknown }

const DEFAULT_RETRY: Required<Omit<RetryOptions, 'guardedWrites'>> = { retries: 3, minTimeout: 100, maxTimeout: 2000, factor: 2 }

/** Sends requests to a list of endpoints with failover and retries. One per Client. */
export class Transport {
  private endpointList: string[]
  /** Index into endpointList of the last endpoint that answered. */
  private preferred = 0
  private fetchImpl: FetchLike | undefined
  private readonly timeoutMs: number
  private readonly deadlineMs: number
  private readonly retry: RetryOptions | false
  private readonly baseHeaders: Record<string, string>
  private readonly fetchOptions: Record<string, unknown> | undefined

  /** @param basicAuth v2 auth: sent as `Authorization: Basic ...` on every request. */
  constructor(opts: TransportOptions, basicAuth?: { username: string; password: string }) {
    this.endpointList = normalizeEndpoints(opts.endpoints)
    this.fetchImpl = opts.fetch
    this.timeoutMs = opts.timeout ?? 10_000
    this.deadlineMs = opts.deadline ?? 30_000
    this.retry = opts.retry === false ? false : { ...DEFAULT_RETRY, ...(opts.retry ?? {}) }
    this.baseHeaders = { ...(opts.headers ?? {}) }
    this.fetchOptions = opts.fetchOptions
    if (basicAuth) this.baseHeaders.authorization = `Basic ${base64Utf8(`${basicAuth.username}:${basicAuth.password}`)}`
  }

  /** The current endpoint list, the preferred (last good) one first. */
  get endpoints(): string[] {
    const n = this.endpointList.length
    return Array.from({ length: n }, (_, i) => this.endpointList[(this.preferred + i) % n]!)
  }

  /** Replaces the endpoint list (autoSync); keeps the preferred endpoint if still present. */
  setEndpoints(list: string[]): void {
    const next = normalizeEndpoints(list)
    const current = this.endpointList[this.preferred]
    this.endpointList = next
    const i = current === undefined ? -1 : next.indexOf(current)
    this.preferred = i >= 0 ? i : 0
  }

  /**
   * Sends `req` and hands each answer to `interpret`, which returns the result or throws a typed
   * error. Retryable failures (see {@link isRetryable}) of safe requests are retried with jittered
   * backoff until `retry.retries` or the deadline is used up.
   * @throws AbortError, TimeoutError, UnavailableError, OutcomeUnknownError, or what `interpret` throws.
   */
  async call<T>(req: HttpRequest, interpret: (res: HttpResult) => T): Promise<T> {
    await ensureAbortController()
    const fetchImpl = this.fetchImpl ?? (this.fetchImpl = await resolveDefaultFetch())
    if (req.signal?.aborted) throw new AbortError()
    // One controller for the whole call: fires on the caller's signal or the deadline.
    const callCtl = newAbortController()
    let stop: 'user' | 'deadline' | undefined
    const unlink = linkSignal(req.signal, () => { stop ??= 'user'; callCtl.abort() })
    const deadlineTimer = req.longPollMs === undefined
      ? setTimeout(() => { stop ??= 'deadline'; callCtl.abort() }, this.deadlineMs)
      : undefined
    const ctx = { fetchImpl, callSignal: callCtl.signal, stop: () => stop }
    const retry = this.retry
    const safeToRepeat = (err: unknown): boolean =>
      isRetryable(err) && (req.safety === 'read' || err instanceof UnavailableError)
    try {
      const once = async (): Promise<T> => interpret(await this.round(req, ctx))
      if (retry === false) return await once()
      return await pRetry(once, {
        retries: retry.retries,
        minTimeout: retry.minTimeout,
        maxTimeout: retry.maxTimeout,
        factor: retry.factor,
        randomize: true,
        signal: callCtl.signal,
        shouldRetry: ({ error }) => safeToRepeat(error) && stop === undefined,
      })
    } catch (err) {
      const why = stop
      if (why === 'user') throw err instanceof AbortError ? err : new AbortError('operation aborted', err)
      if (why === 'deadline' && !(err instanceof OutcomeUnknownError) && !(err instanceof TimeoutError)) {
        // A typed server answer that arrived just before the deadline is still the answer.
        if (err instanceof RaftkvError && !isRetryable(err)) throw err
        throw new TimeoutError(`no answer within the ${this.deadlineMs} ms deadline`, err)
      }
      throw err
    } finally {
      if (deadlineTimer !== undefined) clearTimeout(deadlineTimer)
      unlink()
    }
  }

  /** One pass over the endpoints, starting with the last good one. */
  private async round(
    req: HttpRequest,
    ctx: { fetchImpl: FetchLike; callSignal: AbortSignal; stop: () => 'user' | 'deadline' | undefined },
  ): Promise<HttpResult> {
    const failures: string[] = []
    let lastError: unknown
    const start = this.preferred
    const list = this.endpointList
    for (let i = 0; i < list.length; i++) {
      const idx = (start + i) % list.length
      const endpoint = list[idx]!
      const result = await this.attempt(endpoint, req, ctx)
      if ('status' in result) {
        if (this.endpointList === list) this.preferred = idx
        return result
      }
      const stop = ctx.stop()
      if (stop === 'user') throw new AbortError('operation aborted', result.error)
      const repeatable = !result.sent || req.safety === 'read' ||
        (req.safety === 'guarded' && this.retry !== false && this.retry.guardedWrites === true)
      if (!repeatable) {
        throw new OutcomeUnknownError(
          `${req.method} ${req.path} may or may not have been applied (${result.reason})`, endpoint, result.error)
      }
      if (stop === 'deadline') throw new TimeoutError(`deadline passed (${result.reason})`, result.error)
      failures.push(`${endpoint}: ${result.reason}`)
      lastError = result.error
    }
    throw new UnavailableError(`no endpoint answered: ${failures.join('; ')}`, failures, lastError)
  }

  /** One HTTP exchange with one endpoint; never throws. */
  private async attempt(
    endpoint: string,
    req: HttpRequest,
    ctx: { fetchImpl: FetchLike; callSignal: AbortSignal },
  ): Promise<HttpResult | AttemptFailure> {
    const ctl = newAbortController()
    let why: 'timeout' | 'call' | 'poll' | undefined
    const unlink = linkSignal(ctx.callSignal, () => { why ??= 'call'; ctl.abort() })
    const timeoutMs = req.timeout ?? this.timeoutMs
    let timer = setTimeout(() => { why ??= 'timeout'; ctl.abort() }, timeoutMs)
    const headers: Record<string, string> = { ...this.baseHeaders, ...req.headers }
    let body: string | undefined
    if (req.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      body = new URLSearchParams(req.form).toString()
    } else if (req.json !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(req.json)
    }
    const qs = req.query && Object.keys(req.query).length ? `?${new URLSearchParams(req.query).toString()}` : ''
    const url = endpoint + req.path + qs
    try {
      const res = await ctx.fetchImpl(url, { ...this.fetchOptions, method: req.method, headers, body, signal: ctl.signal })
      if (req.stream && res.status >= 200 && res.status < 300) {
        // The stream outlives this call: it is closed through the request's own signal.
        linkSignal(req.signal, () => ctl.abort())
        return { status: res.status, headers: res.headers, body: '', endpoint, stream: res.body }
      }
      if (req.longPollMs !== undefined) {
        clearTimeout(timer)
        timer = setTimeout(() => { why ??= 'poll'; ctl.abort() }, req.longPollMs)
      }
      let text: string
      try {
        text = await res.text()
      } catch (err) {
        // The long poll ran out: the same as a server ending the watch without an event.
        if (why === 'poll') return { status: 200, headers: res.headers, body: '', endpoint }
        throw err
      }
      return { status: res.status, headers: res.headers, body: text, endpoint }
    } catch (err) {
      if (why === 'call') return { sent: true, reason: 'aborted', error: err }
      if (why === 'timeout') return { sent: true, reason: `no answer within ${timeoutMs} ms`, error: new TimeoutError(`no answer within ${timeoutMs} ms`, err) }
      if (isNotSentError(err)) return { sent: false, reason: describe(err), error: err }
      return { sent: true, reason: describe(err), error: err }
    } finally {
      clearTimeout(timer)
      unlink()
    }
  }
}

function describe(err: unknown): string {
  let e: unknown = err
  for (let i = 0; i < 4 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') return code
    e = (e as { cause?: unknown }).cause
  }
  return err instanceof Error ? err.message : String(err)
}

/** Validates and trims endpoint URLs (no trailing slash). */
export function normalizeEndpoints(input: string[] | string): string[] {
  const list = (Array.isArray(input) ? input : [input]).map((e) => e.trim().replace(/\/+$/, '')).filter(Boolean)
  if (list.length === 0) throw new TypeError('at least one endpoint is required')
  for (const e of list) {
    if (!/^https?:\/\/[^/]+$/.test(e)) throw new TypeError(`endpoint must be http(s)://host:port, got ${JSON.stringify(e)}`)
  }
  return [...new Set(list)]
}
