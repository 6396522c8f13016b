// ClientV3: the etcd v3 API over the JSON gateway (`POST /v3/...`) with fetch only. It builds
// requests, classifies each as read / guarded / write for the retry rules, and adds the auth
// token; endpoints, failover, timeouts and retries are the shared Transport's.

import { AbortError, HttpError, OutcomeUnknownError, TimeoutError, ValidationError } from '../errors.js'
import { parseJson } from '../keys-codec.js'
import { ensureAbortController, isBrowser, newAbortController, unrefTimer } from '../runtime.js'
import { Transport, type HttpResult, type Safety } from '../transport.js'
import type { CallOptions } from '../types.js'
import {
  decodeDelete, decodeHeader, decodeKeepAlive, decodeLeaseGrant, decodeLeases, decodeMemberList, decodePut, decodeRange, decodeStatus,
  decodeTimeToLive, decodeTxn, encodeDelete, encodePut, encodeRange, encodeTxn, i64, txnWrites, type Json,
} from './codec.js'
import {
  InvalidAuthTokenError, LeaseNotFoundError, ServerUnavailableError, errorFromV3Result, readErrorBody, v3Error,
} from './errors.js'
import type { KeyValue } from './kv.js'
import type {
  AuthenticateResponse, Bytes, ClientV3Options, DeleteOptions, DeleteResponse, Int64, KeepAliveOptions,
  LeaseGrantResponse, LeaseKeepAliveResponse, LeaseKeeper, LeaseTimeToLiveResponse, MemberListResponse, PutOptions,
  PutResponse, RangeOptions, RangeResponse, ResponseHeader, StatusResponse, TxnOptions, TxnRequest, TxnResponse,
  WatchOptions,
} from './types.js'
import { WatchV3, type WatchV3Host } from './watch.js'

/**
 * A fetch-based etcd v3 client for etcd 3.4+ (the gRPC JSON gateway, no gRPC). Works in Node,
 * browsers and edge runtimes. Every call accepts `{ signal, timeout }`; failover, deadline and
 * retries follow the same rules as the v2 {@link Client}: reads are retried on any endpoint; a
 * write whose answer is lost fails with OutcomeUnknownError unless marked `idempotent`; a txn
 * guarded by compares is retried only with `retry.guardedWrites`.
 */
export class ClientV3 {
  private readonly transport: Transport
  private readonly prefix: string
  private readonly auth: { username: string; password: string } | undefined
  /** The current token, or the authenticate call in flight. */
  private token: Promise<string> | undefined
  private readonly watches = new Set<WatchV3>()
  private readonly keepers = new Set<LeaseKeeper>()

  constructor(options: ClientV3Options) {
    this.transport = new Transport(options)
    this.prefix = (options.apiPrefix ?? '/v3').replace(/\/+$/, '')
    this.auth = options.auth
  }

  /** The endpoints in the order the next request tries them (last good one first). */
  get endpoints(): string[] {
    return this.transport.endpoints
  }

  /** Ends every open watch and stops every keep-alive (leases are not revoked). */
  close(): void {
    for (const w of [...this.watches]) w.close()
    for (const k of [...this.keepers]) k.close()
  }

  // ---- KV ------------------------------------------------------------------------------------

  /**
   * Reads a key, or a range with `prefix`/`rangeEnd`/`fromKey`. Linearizable unless
   * `serializable`. @throws CompactedError, FutureRevisionError (with `revision`).
   */
  async range(key: Bytes, opts: RangeOptions & CallOptions = {}): Promise<RangeResponse> {
    return this.rpc('/kv/range', encodeRange(key, opts), 'read', opts, decodeRange)
  }

  /** The key-value of one key, or undefined if it does not exist. */
  async get(key: Bytes, opts: Pick<RangeOptions, 'revision' | 'serializable' | 'keysOnly'> & CallOptions = {}): Promise<KeyValue | undefined> {
    const res = await this.range(key, { ...opts, prefix: false, rangeEnd: undefined, fromKey: false })
    return res.kvs[0]
  }

  /** Every key-value whose key starts with `prefix`, sorted by key. */
  async getPrefix(prefix: Bytes, opts: Omit<RangeOptions, 'prefix' | 'rangeEnd' | 'fromKey'> & CallOptions = {}): Promise<KeyValue[]> {
    const res = await this.range(prefix, { ...opts, prefix: true })
    return res.kvs
  }

  /**
   * Writes a key. Not retried once sent unless `idempotent`.
   * @throws LeaseNotFoundError (unknown `lease`), InvalidArgumentError, OutcomeUnknownError.
   */
  async put(key: Bytes, value: Bytes, opts: PutOptions = {}): Promise<PutResponse> {
    return this.rpc('/kv/put', encodePut(key, value, opts), opts.idempotent ? 'read' : 'write', opts, decodePut)
  }

  /** `put(key, JSON.stringify(value), opts)`. */
  async putJSON(key: Bytes, value: unknown, opts: PutOptions = {}): Promise<PutResponse> {
    const text = JSON.stringify(value)
    if (text === undefined) throw new ValidationError('value cannot be serialized as JSON')
    return this.put(key, text, opts)
  }

  /** Deletes a key, or a range with `prefix`/`rangeEnd`/`fromKey`. Not retried once sent unless `idempotent`. */
  async delete(key: Bytes, opts: DeleteOptions = {}): Promise<DeleteResponse> {
    return this.rpc('/kv/deleterange', encodeDelete(key, opts), opts.idempotent ? 'read' : 'write', opts, decodeDelete)
  }

  /**
   * Runs a transaction. A read-only txn is retried like a read. A writing txn with compares is
   * "guarded": retried after a lost answer only with `retry.guardedWrites` (a retry of an applied
   * txn then sees its own effect and takes the failure branch); without compares it is a plain
   * write. `idempotent: true` retries it like a read.
   */
  async txn(req: TxnRequest, opts: TxnOptions = {}): Promise<TxnResponse> {
    const body = encodeTxn(req)
    const safety: Safety = opts.idempotent || !txnWrites(req) ? 'read' : (req.compare ?? []).length > 0 ? 'guarded' : 'write'
    return this.rpc('/kv/txn', body, safety, opts, decodeTxn)
  }

  /** Compacts the store's history up to `revision` (watches and reads at older revisions then fail / resync). */
  async compact(revision: Int64, opts: CallOptions & { physical?: boolean } = {}): Promise<ResponseHeader> {
    const body: Json = { revision: i64(revision, 'revision') }
    if (opts.physical) body.physical = true
    // Compacting twice to the same revision is harmless (the second fails with CompactedError).
    return this.rpc('/kv/compaction', body, 'read', opts, (r) => decodeHeader(r.header))
  }

  // ---- leases --------------------------------------------------------------------------------

  /**
   * Grants a lease of `ttl` seconds (the server may raise it to its minimum). With `id` (not 0)
   * the lease gets that ID and the call is retried like a guarded write.
   */
  async grantLease(ttl: number, opts: CallOptions & { id?: Int64 } = {}): Promise<LeaseGrantResponse> {
    if (!Number.isSafeInteger(ttl) || ttl <= 0) throw new ValidationError(`ttl must be a positive integer number of seconds, got ${ttl}`)
    const body: Json = { TTL: String(ttl) }
    if (opts.id !== undefined) body.ID = i64(opts.id, 'lease id')
    return this.rpc('/lease/grant', body, body.ID !== undefined && body.ID !== '0' ? 'guarded' : 'write', opts, decodeLeaseGrant)
  }

  /**
   * Revokes a lease and deletes its keys. Retried like a read (revoking twice is harmless), so
   * when an answer is lost the retry may report LeaseNotFoundError although the revoke happened.
   * @throws LeaseNotFoundError if the lease does not exist (never granted, expired, revoked).
   */
  async revokeLease(id: Int64, opts: CallOptions = {}): Promise<ResponseHeader> {
    return this.rpc('/lease/revoke', { ID: i64(id, 'lease id') }, 'read', opts, (r) => decodeHeader(r.header))
  }

  /** Renews a lease once. @throws LeaseNotFoundError if it expired or was revoked. */
  async keepAliveOnce(id: Int64, opts: CallOptions = {}): Promise<LeaseKeepAliveResponse> {
    // A stream RPC: the gateway answers one {"result": ...} line per request line.
    return this.rpc('/lease/keepalive', { ID: i64(id, 'lease id') }, 'read', opts, (r, res) => {
      const line = parseJson(res.body.split('\n').find((l) => l.trim() !== '') ?? '')
      const parsed = readErrorBody(line)
      if (parsed) throw v3Error(parsed.grpcCode, parsed.message, res.status)
      const ka = decodeKeepAlive((line as Json | undefined)?.result ?? r)
      // etcd answers TTL 0 (left out) for a lease it does not know.
      if (ka.ttl <= 0) throw new LeaseNotFoundError(5, 'etcdserver: requested lease not found', res.status)
      return ka
    }, true)
  }

  /**
   * Keeps a lease alive in the background (every third of its TTL by default) until `close()`,
   * or until the lease is lost: the server says it is gone (LeaseNotFoundError), or no renewal
   * succeeded for a whole TTL counted from when the last good one was sent (TimeoutError). The
   * returned keeper's `done` tells which; `onLost` gets the error.
   */
  keepAlive(id: Int64, opts: KeepAliveOptions = {}): LeaseKeeper {
    const leaseId = BigInt(i64(id, 'lease id'))
    let stopped = false
    let timer: ReturnType<typeof setTimeout> | undefined
    let resolveDone!: (v: 'closed' | 'lost') => void
    const done = new Promise<'closed' | 'lost'>((r) => { resolveDone = r })
    let lastTtl = 0
    let lastError: unknown
    // Fires when no renewal succeeded for a whole TTL: the server has let the lease go by then.
    let lossTimer: ReturnType<typeof setTimeout> | undefined
    const inflight = { abort: (): void => {} }
    const keeper: LeaseKeeper = {
      id: leaseId,
      done,
      get lastTtl() { return lastTtl },
      close: () => finish('closed'),
    }
    const finish = (how: 'closed' | 'lost', err?: unknown): void => {
      if (stopped) return
      stopped = true
      clearTimeout(timer)
      clearTimeout(lossTimer)
      inflight.abort()
      this.keepers.delete(keeper)
      if (how === 'lost') opts.onLost?.(err)
      resolveDone(how)
    }
    const tick = async (): Promise<void> => {
      await ensureAbortController()
      if (stopped) return
      const ctl = newAbortController()
      inflight.abort = () => ctl.abort()
      try {
        const sentAt = Date.now()
        const res = await this.keepAliveOnce(leaseId, { signal: ctl.signal, timeout: Math.max(1000, (lastTtl || 3) * 1000 / 3) })
        if (stopped) return
        lastTtl = res.ttl
        // Counted from when the request left: the server renewed at some point after that.
        clearTimeout(lossTimer)
        lossTimer = unrefTimer(() => {
          finish('lost', new TimeoutError(`lease ${leaseId} was not renewed within its ${res.ttl} s TTL`, lastError))
        }, Math.max(0, sentAt + res.ttl * 1000 - Date.now()))
      } catch (err) {
        if (stopped) return
        if (err instanceof LeaseNotFoundError) return finish('lost', err)
        lastError = err
      }
      if (stopped) return
      const every = opts.intervalMs ?? Math.max(500, ((lastTtl || 3) * 1000) / 3)
      timer = unrefTimer(() => void tick(), every)
    }
    this.keepers.add(keeper)
    void tick()
    return keeper
  }

  /** Remaining and granted TTL of a lease; with `keys`, the keys attached to it. ttl is -1 for an unknown lease. */
  async leaseTimeToLive(id: Int64, opts: CallOptions & { keys?: boolean } = {}): Promise<LeaseTimeToLiveResponse> {
    const body: Json = { ID: i64(id, 'lease id') }
    if (opts.keys) body.keys = true
    return this.rpc('/lease/timetolive', body, 'read', opts, decodeTimeToLive)
  }

  /** IDs of every lease alive. */
  async leases(opts: CallOptions = {}): Promise<bigint[]> {
    return (await this.rpc('/lease/leases', {}, 'read', opts, decodeLeases)).leases
  }

  // ---- watch ---------------------------------------------------------------------------------

  /**
   * Watches a key (or a range with `prefix`/`rangeEnd`/`fromKey`). The iterator yields every
   * change once, in revision order, from `startRevision` or from the watch's creation. After a
   * disconnect it resumes at the last revision + 1 on any endpoint; if that revision has been
   * compacted it yields a `resync` event with the current state and continues after it.
   */
  watch(key: Bytes, opts: WatchOptions = {}): WatchV3 {
    let usedToken: string | undefined
    const host: WatchV3Host = {
      open: (body, signal) => this.withToken({ signal }, (headers) => {
        usedToken = headers?.authorization
        return this.transport.call(
          { method: 'POST', path: this.prefix + '/watch', json: body, safety: 'read', signal, stream: true,
            // Ask the member to end the stream when it loses its leader ("hasleader" metadata),
            // so a watch never sits on a member cut off from the cluster. Not from browsers:
            // etcd's CORS answer allows no such header.
            headers: isBrowser() ? headers : { ...headers, 'grpc-metadata-hasleader': 'true' } },
          (res) => {
            if (res.status >= 300) throw errorFromV3Result(res)
            return res
          },
        )
      }),
      renewToken: async () => {
        if (!this.auth || usedToken === undefined) return false
        await this.currentToken({}, usedToken)
        return true
      },
      range: (k, o, signal) => this.range(k, { ...o, signal }),
      onClose: (w) => this.watches.delete(w),
    }
    const w = new WatchV3(host, key, opts)
    this.watches.add(w)
    return w
  }

  // ---- cluster, maintenance, auth -----------------------------------------------------------

  /** Every member of the cluster. */
  async memberList(opts: CallOptions = {}): Promise<MemberListResponse> {
    return this.rpc('/cluster/member/list', {}, 'read', opts, decodeMemberList)
  }

  /** Status of the member that answers (version, db size, leader, raft index). */
  async status(opts: CallOptions = {}): Promise<StatusResponse> {
    return this.rpc('/maintenance/status', {}, 'read', opts, decodeStatus)
  }

  /**
   * Exchanges a user name and password for a token. The client does this by itself when
   * created with `auth`; call it directly to check credentials.
   * @throws AuthFailedError, AuthNotEnabledError.
   */
  async authenticate(username: string, password: string, opts: CallOptions = {}): Promise<AuthenticateResponse> {
    return this.rpc('/auth/authenticate', { name: username, password }, 'read', opts, (r) => {
      const token = (r as Json).token
      if (typeof token !== 'string' || token === '') throw new HttpError(502, 'authenticate answered without a token')
      return { header: decodeHeader(r.header), token }
    }, false, true)
  }

  // ---- internals -----------------------------------------------------------------------------

  /** The token to send (authenticating first if needed); `stale` forces a new one if it is still current. */
  private async currentToken(opts: CallOptions, stale?: string): Promise<string> {
    const auth = this.auth!
    const current = this.token
    if (current && stale !== undefined) {
      const t = await current.catch(() => undefined)
      if (t === stale && this.token === current) this.token = undefined
    }
    if (!this.token) {
      const p = this.authenticate(auth.username, auth.password, opts).then((r) => r.token)
      this.token = p
      p.catch(() => { if (this.token === p) this.token = undefined })
    }
    return this.token
  }

  /** Runs `send` with the auth header; once more with a new token if the server says the token is invalid. */
  private async withToken<T>(opts: CallOptions, send: (headers: Record<string, string> | undefined) => Promise<T>): Promise<T> {
    if (!this.auth) return send(undefined)
    const token = await this.currentToken(opts)
    try {
      return await send({ authorization: token })
    } catch (err) {
      // etcd checks the token before proposing anything: nothing was applied, repeating is safe.
      if (!(err instanceof InvalidAuthTokenError)) throw err
      return send({ authorization: await this.currentToken(opts, token) })
    }
  }

  /**
   * One unary call. `decode` gets the parsed JSON body of a 2xx answer. Errors become typed
   * errors; a server-side "unavailable" (raft timeout, leader change) on a write whose outcome is
   * unknown becomes OutcomeUnknownError.
   */
  private rpc<T>(
    path: string, body: Json, safety: Safety, opts: CallOptions, decode: (json: Json, res: HttpResult) => T,
    lines = false, noToken = false,
  ): Promise<T> {
    if (opts.signal?.aborted) return Promise.reject(new AbortError())
    const send = (headers: Record<string, string> | undefined): Promise<T> => this.transport.call(
      { method: 'POST', path: this.prefix + path, json: body, safety, signal: opts.signal, timeout: opts.timeout, headers },
      (res) => {
        if (res.status >= 300) {
          const err = errorFromV3Result(res)
          if (safety !== 'read' && err instanceof ServerUnavailableError) {
            throw new OutcomeUnknownError(`${path}: ${err.message}`, res.endpoint, err)
          }
          throw err
        }
        const json = lines ? {} : parseJson(res.body)
        if (!lines && (typeof json !== 'object' || json === null)) {
          throw new HttpError(res.status, `${path} from ${res.endpoint} is not JSON: ${res.body.slice(0, 200)}`)
        }
        if (!lines) {
          const parsed = readErrorBody(json)
          if (parsed && parsed.grpcCode !== 0) throw v3Error(parsed.grpcCode, parsed.message, res.status)
        }
        return decode(json as Json, res)
      },
    )
    return noToken ? send(undefined) : this.withToken(opts, send)
  }
}

