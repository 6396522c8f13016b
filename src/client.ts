// The public Client: etcd v2 keys operations, cluster/stats endpoints and watches over the
// transport. It validates arguments, builds requests and classifies each as read / guarded /
// write for the retry rules; it does no networking of its own.

import { HttpError, KeyNotFoundError, OutcomeUnknownError, RaftInternalError, ValidationError } from './errors.js'
import { checkIndex, checkPrevValue, checkTtl, decodeKeysResponse, errorFromResult, keyPath, params, parseJson } from './keys-codec.js'
import { unrefTimer } from './runtime.js'
import { Transport, type HttpRequest, type HttpResult, type Safety } from './transport.js'
import type {
  CallOptions, ClientOptions, CompareAndDeleteOptions, CompareAndSwapOptions, CreateOptions, DeleteOptions,
  GetOptions, JSONResponse, LeaderStats, Member, Node, Response, SelfStats, SetOptions, StoreStats, VersionInfo,
  WatchOptions,
} from './types.js'
import { Watch, type WatchHost } from './watch.js'

/** How long one watch long-poll may stay open before it is re-issued (guards against dead peers). */
const LONG_POLL_MS = 5 * 60_000

/**
 * A fetch-based etcd v2 client for raftkv and etcd (2.x, or 3.x with --enable-v2).
 * Works in Node 18+, browsers and edge runtimes. Every method accepts `{ signal, timeout }`.
 */
export class Client {
  private readonly transport: Transport
  private readonly watches = new Set<Watch>()
  private syncTimer: ReturnType<typeof setTimeout> | undefined
  private closed = false

  /** Statistics endpoints (spec STATS). */
  readonly stats: {
    /** `/v2/stats/self` of the member that answers. */
    self(opts?: CallOptions): Promise<SelfStats>
    /** `/v2/stats/leader`; HttpError 403 on a non-leader member. */
    leader(opts?: CallOptions): Promise<LeaderStats>
    /** `/v2/stats/store` of the member that answers. */
    store(opts?: CallOptions): Promise<StoreStats>
  }

  constructor(options: ClientOptions) {
    this.transport = new Transport(options, options.auth)
    this.stats = {
      self: (o) => this.getJsonEndpoint<SelfStats>('/v2/stats/self', o),
      leader: (o) => this.getJsonEndpoint<LeaderStats>('/v2/stats/leader', o),
      store: (o) => this.getJsonEndpoint<StoreStats>('/v2/stats/store', o),
    }
    if (options.autoSync) {
      const every = options.autoSync === true ? 5 * 60_000 : options.autoSync.intervalMs
      const tick = (): void => {
        this.sync().catch(() => {}).finally(() => {
          if (!this.closed) this.syncTimer = unrefTimer(tick, every)
        })
      }
      this.syncTimer = unrefTimer(tick, 0)
    }
  }

  /** The endpoints in the order the next request tries them (last good one first). */
  get endpoints(): string[] {
    return this.transport.endpoints
  }

  /** Replaces the endpoint list with the client URLs from `/v2/members`; returns the new list. */
  async sync(opts?: CallOptions): Promise<string[]> {
    const members = await this.members(opts)
    const urls = members.flatMap((m) => m.clientURLs)
    if (urls.length > 0) this.transport.setEndpoints(urls)
    return this.transport.endpoints
  }

  /** Stops autoSync and ends every open watch. The client must not be used afterwards. */
  close(): void {
    this.closed = true
    if (this.syncTimer !== undefined) clearTimeout(this.syncTimer)
    for (const w of [...this.watches]) w.close()
  }

  // ---- keys ----------------------------------------------------------------------------------

  /** Reads a key or directory. @throws KeyNotFoundError (100), NotDirError (104). */
  async get(key: string, opts: GetOptions = {}): Promise<Response> {
    const q = params({ recursive: opts.recursive, sorted: opts.sorted, quorum: opts.quorum })
    return this.keys({ method: 'GET', path: keyPath(key), query: q, safety: 'read' }, opts)
  }

  /** Reads a file and parses its value as JSON. @throws KeyNotFoundError, ValidationError (no/invalid JSON). */
  async getJSON<T = unknown>(key: string, opts: GetOptions = {}): Promise<JSONResponse<T>> {
    const res = await this.get(key, opts)
    if (res.node.value === undefined) throw new ValidationError(`${res.node.key} is a directory, not a JSON value`)
    try {
      return { ...res, data: JSON.parse(res.node.value) as T }
    } catch (err) {
      throw new ValidationError(`${res.node.key} does not hold JSON: ${(err as Error).message}`)
    }
  }

  /**
   * Writes a key (PUT). Without conditions this is `set`: creates or replaces (action `set`).
   * `prevExist: false` = create, `prevExist: true` = update, `prevValue`/`prevIndex` =
   * compareAndSwap; `dir: true` makes a directory; `refresh: true` changes only the TTL (value
   * must be ''). A TTL is removed unless `ttl` is given again (spec TTL-4).
   * @throws NodeExistsError, KeyNotFoundError, CompareFailedError, NotFileError, NotDirError,
   *   RootReadOnlyError, OutcomeUnknownError.
   */
  async set(key: string, value: string, opts: SetOptions = {}): Promise<Response> {
    if (typeof value !== 'string') throw new ValidationError('value must be a string (use setJSON for objects)')
    const ttl = checkTtl(opts.ttl)
    const prevValue = checkPrevValue(opts.prevValue)
    const prevIndex = checkIndex(opts.prevIndex, 'prevIndex')
    if (opts.prevExist === false && (prevValue !== undefined || prevIndex !== undefined)) {
      throw new ValidationError('prevExist: false (create) cannot be combined with prevValue/prevIndex')
    }
    if (opts.refresh) {
      if (ttl === undefined) throw new ValidationError('refresh needs a ttl')
      if (value !== '') throw new ValidationError('refresh cannot change the value; pass an empty value')
      if (opts.dir) throw new ValidationError('refresh cannot be combined with dir')
    }
    const form = params({
      value: opts.dir || opts.refresh ? undefined : value,
      ttl,
      dir: opts.dir,
      prevExist: opts.prevExist === undefined ? undefined : String(opts.prevExist),
      prevValue,
      prevIndex,
      refresh: opts.refresh,
    })
    const guarded = prevValue !== undefined || prevIndex !== undefined || opts.prevExist === false
    // A refresh only moves the expiry: repeating it is harmless, so it is retried like a read.
    const safety: Safety = opts.refresh && opts.prevExist === true ? 'read' : guarded ? 'guarded' : 'write'
    return this.keys({ method: 'PUT', path: keyPath(key), form, safety }, opts)
  }

  /** `set(key, JSON.stringify(value), opts)`. */
  async setJSON(key: string, value: unknown, opts: SetOptions = {}): Promise<Response> {
    const text = JSON.stringify(value)
    if (text === undefined) throw new ValidationError('value cannot be serialized as JSON')
    return this.set(key, text, opts)
  }

  /** Creates a key that must not exist (prevExist=false). @throws NodeExistsError (105). */
  async create(key: string, value: string, opts: CreateOptions = {}): Promise<Response> {
    return this.set(key, value, { ttl: opts.ttl, dir: opts.dir, signal: opts.signal, timeout: opts.timeout, prevExist: false })
  }

  /** Replaces the value of an existing key (prevExist=true); omitting ttl removes the TTL. @throws KeyNotFoundError (100). */
  async update(key: string, value: string, opts: Omit<CreateOptions, 'dir'> = {}): Promise<Response> {
    return this.set(key, value, { ttl: opts.ttl, signal: opts.signal, timeout: opts.timeout, prevExist: true })
  }

  /** Writes only if the current value / modifiedIndex match. @throws CompareFailedError (101), KeyNotFoundError. */
  async compareAndSwap(key: string, value: string, opts: CompareAndSwapOptions): Promise<Response> {
    if (opts?.prevValue === undefined && opts?.prevIndex === undefined) {
      throw new ValidationError('compareAndSwap needs prevValue or prevIndex')
    }
    return this.set(key, value, { ttl: opts.ttl, signal: opts.signal, timeout: opts.timeout, prevValue: opts.prevValue, prevIndex: opts.prevIndex } as SetOptions)
  }

  /**
   * Deletes a key; directories need `dir` (empty) or `recursive`. With prevValue/prevIndex this
   * is compareAndDelete. @throws KeyNotFoundError, NotFileError (102), DirNotEmptyError (108), CompareFailedError.
   */
  async delete(key: string, opts: DeleteOptions = {}): Promise<Response> {
    const prevValue = checkPrevValue(opts.prevValue)
    const prevIndex = checkIndex(opts.prevIndex, 'prevIndex')
    const q = params({ dir: opts.dir, recursive: opts.recursive, prevValue, prevIndex })
    const safety: Safety = prevValue !== undefined || prevIndex !== undefined ? 'guarded' : 'write'
    return this.keys({ method: 'DELETE', path: keyPath(key), query: q, safety }, opts)
  }

  /** Deletes a file only if value / modifiedIndex match. @throws CompareFailedError (101), NotFileError. */
  async compareAndDelete(key: string, opts: CompareAndDeleteOptions): Promise<Response> {
    if (opts?.prevValue === undefined && opts?.prevIndex === undefined) {
      throw new ValidationError('compareAndDelete needs prevValue or prevIndex')
    }
    return this.delete(key, opts)
  }

  /** Creates a directory that must not exist. @throws NodeExistsError (105). */
  async mkdir(key: string, opts: Omit<CreateOptions, 'dir'> = {}): Promise<Response> {
    return this.set(key, '', { ttl: opts.ttl, signal: opts.signal, timeout: opts.timeout, dir: true, prevExist: false })
  }

  /** Removes a directory (`recursive` for a non-empty one). @throws DirNotEmptyError (108), NotDirError... */
  async rmdir(key: string, opts: CallOptions & { recursive?: boolean } = {}): Promise<Response> {
    return this.delete(key, { dir: true, recursive: opts.recursive, signal: opts.signal, timeout: opts.timeout })
  }

  /**
   * The children of a directory, sorted by key unless `sorted: false` (hidden `_` keys are not
   * listed). `recursive` nests grandchildren. @throws KeyNotFoundError, or ValidationError on a file.
   */
  async list(key: string, opts: GetOptions = {}): Promise<Node[]> {
    const res = await this.get(key, { ...opts, sorted: opts.sorted ?? true })
    if (!res.node.dir) throw new ValidationError(`${res.node.key} is not a directory`)
    return res.node.nodes ?? []
  }

  /**
   * Creates an in-order key in directory `dir` (POST): its name is the new index as 20 digits, so
   * sorted listings are FIFO (spec ORD). Never retried once sent (not idempotent).
   */
  async post(dir: string, value: string, opts: CreateOptions = {}): Promise<Response> {
    const form = params({ value: opts.dir ? undefined : value, ttl: checkTtl(opts.ttl), dir: opts.dir })
    return this.keys({ method: 'POST', path: keyPath(dir), form, safety: 'write' }, opts)
  }

  /**
   * Resets the TTL of an existing key or directory without changing its value and without a
   * watch event (refresh=true + prevExist=true, spec TTL-5). @throws KeyNotFoundError.
   */
  async refresh(key: string, ttl: number, opts: CallOptions = {}): Promise<Response> {
    return this.set(key, '', { ttl, refresh: true, prevExist: true, signal: opts.signal, timeout: opts.timeout })
  }

  /**
   * Watches a key (or, with `recursive`, a subtree). The iterator yields every change exactly once,
   * in index order, starting at `waitIndex` or after the current index. If the server's history
   * no longer covers the next index it yields a `resync` event with the current state.
   */
  watch(key: string, opts: WatchOptions = {}): Watch {
    const path = keyPath(key)
    if (opts.waitIndex !== undefined) checkIndex(opts.waitIndex, 'waitIndex')
    const host: WatchHost = {
      waitOnce: (_k, waitIndex, recursive, signal) =>
        this.transport.call(
          { method: 'GET', path, safety: 'read', signal, longPollMs: LONG_POLL_MS,
            query: params({ wait: true, waitIndex: String(waitIndex), recursive }) },
          (res) => res,
        ),
      read: async (k, recursive, signal) => {
        const res = await this.transport.call(
          { method: 'GET', path: keyPath(k), query: params({ recursive, sorted: recursive }), safety: 'read', signal },
          (r) => r,
        )
        if (res.status >= 300) {
          const err = errorFromResult(res)
          if (err instanceof KeyNotFoundError) return { node: undefined, etcdIndex: err.index }
          throw err
        }
        const visible = res.headers.get('x-etcd-index') !== null
        return { node: decodeKeysResponse(res).node, etcdIndex: visible ? Number(res.headers.get('x-etcd-index')) : undefined }
      },
      currentIndex: async (k, signal) => {
        // Store errors carry the current index in their body: ask for a child that cannot exist
        // (104 below a file, 100 otherwise).
        const probe = `${k.replace(/\/+$/, '')}/_raftkv-index-probe-${Math.random().toString(36).slice(2)}`
        return this.transport.call({ method: 'GET', path: keyPath(probe), safety: 'read', signal }, (r) => {
          const err = errorFromResult(r)
          if (r.status >= 300 && 'index' in err && err.index > 0) return err.index
          throw new HttpError(r.status, `cannot learn the current index from ${r.endpoint}`)
        })
      },
      onClose: (w) => this.watches.delete(w),
    }
    const w = new Watch(host, '/' + key.split('/').filter((x) => x !== '').join('/'), opts)
    this.watches.add(w)
    return w
  }

  // ---- cluster -------------------------------------------------------------------------------

  /** All members (spec MEM-1). */
  async members(opts: CallOptions = {}): Promise<Member[]> {
    const body = await this.getJsonEndpoint<{ members: Member[] }>('/v2/members', opts)
    return body.members ?? []
  }

  /** The current leader (spec MEM-2). @throws HttpError 503 during an election. */
  async leader(opts: CallOptions = {}): Promise<Member> {
    return this.getJsonEndpoint<Member>('/v2/members/leader', opts)
  }

  /** Adds a member with these peer URLs; returns it (name '' until it starts). @throws HttpError 409 / 400. */
  async addMember(peerURLs: string[] | string, opts: CallOptions = {}): Promise<Member> {
    const list = Array.isArray(peerURLs) ? peerURLs : [peerURLs]
    return this.transport.call(
      { method: 'POST', path: '/v2/members', json: { peerURLs: list }, safety: 'write', signal: opts.signal, timeout: opts.timeout },
      (res) => {
        if (res.status !== 201 && res.status !== 200) throw writeError(res)
        return parseJson(res.body) as Member
      },
    )
  }

  /** Removes a member by hex id. @throws HttpError 404 (no such member) / 410 (removed earlier). */
  async removeMember(id: string, opts: CallOptions = {}): Promise<void> {
    if (!/^[0-9a-f]+$/i.test(id)) throw new ValidationError(`member id must be hex, got ${JSON.stringify(id)}`)
    return this.transport.call(
      { method: 'DELETE', path: `/v2/members/${id}`, safety: 'write', signal: opts.signal, timeout: opts.timeout },
      (res) => {
        if (res.status !== 204 && res.status !== 200) throw writeError(res)
      },
    )
  }

  /** `/version` of the member that answers. */
  async version(opts: CallOptions = {}): Promise<VersionInfo> {
    return this.getJsonEndpoint<VersionInfo>('/version', opts)
  }

  /** True if the answering member reports `{"health":"true"}` (it has a leader and quorum). */
  async health(opts: CallOptions = {}): Promise<boolean> {
    return this.transport.call({ method: 'GET', path: '/health', safety: 'read', signal: opts.signal, timeout: opts.timeout }, (res) => {
      const body = parseJson(res.body) as { health?: unknown } | undefined
      if (res.status === 200 || res.status === 503) return body?.health === 'true' || body?.health === true
      throw errorFromResult(res)
    })
  }

  // ---- internals -----------------------------------------------------------------------------

  private keys(req: Omit<HttpRequest, 'signal' | 'timeout'>, opts: CallOptions): Promise<Response> {
    const isWrite = req.method !== 'GET'
    return this.transport.call({ ...req, signal: opts.signal, timeout: opts.timeout }, (res) => {
      try {
        return decodeKeysResponse(res)
      } catch (err) {
        // Raft timed out: the proposal may still be applied later (spec KEYS-22).
        if (isWrite && req.safety !== 'read' && err instanceof RaftInternalError) {
          throw new OutcomeUnknownError(`${req.method} ${req.path}: ${err.message}`, res.endpoint, err)
        }
        throw err
      }
    })
  }

  private getJsonEndpoint<T>(path: string, opts: CallOptions = {}): Promise<T> {
    return this.transport.call({ method: 'GET', path, safety: 'read', signal: opts.signal, timeout: opts.timeout }, (res) => {
      if (res.status !== 200) throw errorFromResult(res)
      const body = parseJson(res.body)
      if (body === undefined) throw new HttpError(res.status, `${path} from ${res.endpoint} is not JSON`)
      return body as T
    })
  }
}

/** Errors of member writes: a 5xx may mean the change is still pending. */
function writeError(res: HttpResult): Error {
  const err = errorFromResult(res)
  if (res.status >= 500) return new OutcomeUnknownError(err.message, res.endpoint, err)
  return err
}
