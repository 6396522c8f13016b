// Service discovery on either API: instances register under /services/<service>/<id> (v2: a TTL
// kept alive by refreshes, which make no watch events; v3: a key attached to the instance's own
// lease, renewed every ttl/3), and consumers hold a live, cached view of a service kept current
// by one watch of the service's directory / prefix (added/updated/removed), with pick strategies.
// A crashed instance disappears from every view within its TTL. No Node built-ins.

import { KeyNotFoundError, NodeExistsError, OutcomeUnknownError, type Client, type ClientV3, type KeyValue } from '../src/index.js'
import { isV3, revNumber, type AnyClient } from './api.js'
import { Keeper } from './keepalive.js'
import type { Hold } from './lock-core.js'
import { LeaseHold } from './v3/lease-hold.js'
import { sawRev } from './v3/go-queue.js'
import { removeOwned } from './lock-v2.js'
import {
  Emitter, LockLostError, RecipeError, checkTtl, decodeOwner, encodeOwner, guardFor, joinKey, nonce, now, sleep,
} from './internal.js'

export interface RegisterOptions {
  /** Seconds an instance stays listed after its process stops refreshing (default 10). */
  ttl?: number
  /** Data published with the instance (address, port, version...); JSON. */
  data?: unknown
  /** Root of the registry (default `/services`). */
  prefix?: string
}

/** One registered instance as consumers see it. */
export interface Instance<T = unknown> {
  service: string
  id: string
  key: string
  data: T
  createdIndex: number
  modifiedIndex: number
}

export interface RegistrationEvents extends Record<string, unknown[]> {
  /** The registration expired or could not be refreshed; it is being re-created. */
  lost: [LockLostError]
  /** The instance is registered again after a loss. */
  restored: []
  /** deregister() finished. */
  deregistered: []
}

/** A live registration; keeps itself alive and re-registers after a loss until deregistered. */
export class Registration extends Emitter<RegistrationEvents> {
  readonly key: string
  readonly ttl: number
  private value: string
  private keeper: Hold | undefined
  /** v3: the lease the key is attached to now. */
  private lease: bigint | undefined
  private stopped = false
  private readonly stopCtl = new AbortController()

  /** @internal use {@link register}. */
  constructor(readonly client: AnyClient, readonly service: string, readonly id: string, opts: RegisterOptions) {
    super()
    this.key = joinKey(opts.prefix ?? '/services', service, id)
    this.ttl = checkTtl(opts.ttl ?? 10)
    // v3: the data as JSON (the lease makes the key ours); v2: with a nonce for compare-and-delete.
    this.value = isV3(client) ? JSON.stringify(opts.data ?? null) : encodeOwner({ nonce: nonce(), data: opts.data ?? null })
  }

  /** True while the key is certainly present. */
  isRegistered(): boolean {
    return !this.stopped && this.keeper?.state === 'held'
  }

  /** @internal first registration: a plain set, replacing a stale key of an earlier life of this id. */
  async start(): Promise<void> {
    const client = this.client
    if (isV3(client)) {
      if (!(await this.attachV3(client, true))) throw new RecipeError(`${this.key}: could not register`)
      return
    }
    const sent = now()
    const res = guardFor(client).saw(await client.set(this.key, this.value, { ttl: this.ttl }))
    this.keep(res.node.createdIndex, sent)
  }

  /** Publishes new data for this instance (CAS on our own value, TTL resent). */
  async update(data: unknown): Promise<void> {
    const client = this.client
    if (isV3(client)) {
      const next = JSON.stringify(data ?? null)
      const lease = this.lease ?? 0n
      // Only while the key is still on our lease (not re-registered by another process).
      const res = await client.txn({ compare: [{ key: this.key, target: 'lease', op: '==', lease }], success: [{ put: { key: this.key, value: next, lease } }] })
      if (!res.succeeded) throw new LockLostError(`${this.key}: not registered by this instance now`)
      this.value = next
      return
    }
    const next = encodeOwner({ nonce: decodeOwner(this.value)!.nonce, data })
    try {
      guardFor(client).saw(await client.compareAndSwap(this.key, next, { prevValue: this.value, ttl: this.ttl }))
    } catch (err) {
      // A lost reply: the stored value tells whether the update landed.
      if (!(err instanceof OutcomeUnknownError)) throw err
      const cur = await guardFor(client).get(client, this.key)
      if (cur.node.value !== next) throw err
    }
    this.value = next
    ;(this.keeper as Keeper | undefined)?.setValue(next)
  }

  /** Stops refreshing and removes the key (compare-and-delete on our value). Idempotent. */
  async deregister(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.stopCtl.abort()
    this.keeper?.stop()
    const client = this.client
    if (isV3(client)) {
      // Revoking the lease deletes the key if it is still ours (never another process's).
      if (this.lease !== undefined) await client.revokeLease(this.lease).catch(() => {})
    } else {
      await removeOwned(client, this.key, this.value)
    }
    this.emit('deregistered')
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.deregister()
  }

  private keep(createdIndex: number, sent: number): void {
    this.watchLoss(new Keeper({ client: this.client as Client, key: this.key, ttl: this.ttl, value: this.value, createdIndex, confirmedAt: sent }))
  }

  private watchLoss(k: Hold): void {
    this.keeper = k
    k.on('lost', (err) => {
      if (this.stopped) return
      this.emit('lost', err)
      void this.reregister()
    })
  }

  /**
   * v3: a new lease and the key on it. `replace` (first registration) overwrites a stale key of
   * an earlier life of this id; otherwise only an absent key is written (never another process's).
   * False when another live process holds the id.
   */
  private async attachV3(client: ClientV3, replace: boolean): Promise<boolean> {
    const sent = now()
    const grant = await client.grantLease(this.ttl, { signal: this.stopCtl.signal })
    try {
      const put = { put: { key: this.key, value: this.value, lease: grant.id } }
      const read = { range: { key: this.key } }
      const res = await client.txn(replace
        ? { success: [put, read] }
        : { compare: [{ key: this.key, target: 'create', op: '==', createRevision: 0 }], success: [put, read], failure: [read] })
      sawRev(client, res.header.revision)
      const last = res.responses[res.responses.length - 1]
      const kv = last?.type === 'range' ? last.range.kvs[0] : undefined
      if (!res.succeeded || !kv || kv.lease !== grant.id) {
        await client.revokeLease(grant.id).catch(() => {})
        return false
      }
      this.lease = grant.id
      this.watchLoss(new LeaseHold({ client, lease: grant.id, ttl: this.ttl, key: this.key, createRevision: kv.createRevision, confirmedAt: sent }))
      return true
    } catch (err) {
      await client.revokeLease(grant.id).catch(() => {})
      throw err
    }
  }

  /** Re-creates the key (create-if-absent: never overwrites another process using the same id). */
  private async reregister(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      const sent = now()
      const client = this.client
      if (isV3(client)) {
        try {
          if (await this.attachV3(client, false)) { this.emit('restored'); return }
        } catch {
          if (this.stopped) return
        }
        await sleep(Math.min(this.ttl * 1000, 250 * 2 ** Math.min(attempt, 4)), this.stopCtl.signal).catch(() => {})
        continue
      }
      try {
        const res = guardFor(client).saw(await client.create(this.key, this.value, { ttl: this.ttl, signal: this.stopCtl.signal }))
        this.keep(res.node.createdIndex, sent)
        this.emit('restored')
        return
      } catch (err) {
        if (this.stopped) return
        if (err instanceof NodeExistsError) {
          // Ours after all (a lost reply)? Otherwise another process uses this id: wait for it to go.
          const cur = await guardFor(client).get(client, this.key).catch(() => undefined)
          if (cur?.node.value === this.value) { this.keep(cur.node.createdIndex, sent); this.emit('restored'); return }
        }
        await sleep(Math.min(this.ttl * 1000, 250 * 2 ** Math.min(attempt, 4)), this.stopCtl.signal).catch(() => {})
      }
    }
  }
}

/**
 * Registers `instance` of `service` and keeps it alive until `deregister()`.
 * ```ts
 * const reg = await register(client, 'api', 'api-1', { ttl: 5, data: { url } })
 * ```
 */
export async function register(client: AnyClient, service: string, instance: string, opts: RegisterOptions = {}): Promise<Registration> {
  if (!service || !instance || /\//.test(instance)) throw new RecipeError('service and instance must be non-empty; instance ids cannot contain "/"')
  const r = new Registration(client, service, instance, opts)
  await r.start()
  return r
}

/** A change of a service's instance set. */
export interface ServiceEvent<T = unknown> {
  type: 'added' | 'updated' | 'removed'
  instance: Instance<T>
}

export interface DiscoverOptions {
  prefix?: string
  /** Stops the view (same as close()). */
  signal?: AbortSignal
}

export type PickStrategy = 'round-robin' | 'random'

/**
 * A live view of one service: a cached instance set kept up to date by a recursive watch, the
 * changes as events and as an async iterable, and a picker. Create with {@link discover}.
 */
export class ServiceView<T = unknown> extends Emitter<{ added: [Instance<T>]; updated: [Instance<T>]; removed: [Instance<T>]; change: [ServiceEvent<T>]; error: [unknown] }> implements AsyncIterable<ServiceEvent<T>> {
  /** Resolves when the first listing is loaded (rejects if it fails). */
  readonly ready: Promise<void>
  private readonly map = new Map<string, Instance<T>>()
  private readonly ctl = new AbortController()
  private readonly dir: string
  private rr = 0
  private closed = false
  private readonly wakers = new Set<() => void>()

  /** @internal use {@link discover}. */
  constructor(readonly client: AnyClient, readonly service: string, opts: DiscoverOptions = {}) {
    super()
    this.dir = joinKey(opts.prefix ?? '/services', service)
    opts.signal?.addEventListener('abort', () => this.close(), { once: true })
    let started!: (v: number) => void
    let failed!: (e: unknown) => void
    const first = new Promise<number>((res, rej) => { started = res; failed = rej })
    this.ready = first.then(() => undefined)
    this.ready.catch(() => {})
    void this.run(started, failed)
  }

  /** The instances now, sorted by id. */
  instances(): Instance<T>[] {
    return [...this.map.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  get size(): number {
    return this.map.size
  }

  /** One instance by strategy, or undefined when none is registered. */
  pick(strategy: PickStrategy = 'round-robin'): Instance<T> | undefined {
    const list = this.instances()
    if (list.length === 0) return undefined
    if (strategy === 'random') return list[Math.floor(Math.random() * list.length)]
    return list[this.rr++ % list.length]
  }

  /** Ends the watch and every iterator. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.ctl.abort()
    for (const w of [...this.wakers]) w()
  }

  /** Every change from now on (added/updated/removed), until close(). */
  async *[Symbol.asyncIterator](): AsyncIterator<ServiceEvent<T>> {
    const queue: ServiceEvent<T>[] = []
    let wake: () => void = () => {}
    const waker = (): void => wake()
    this.wakers.add(waker)
    const off = this.on('change', (e) => { queue.push(e); wake() })
    try {
      while (!this.closed || queue.length) {
        if (queue.length) { yield queue.shift()!; continue }
        await new Promise<void>((r) => { wake = r })
      }
    } finally {
      off()
      this.wakers.delete(waker)
    }
  }

  private async run(started: (i: number) => void, failed: (e: unknown) => void): Promise<void> {
    const client = this.client
    if (isV3(client)) return this.runV3(client, started, failed)
    const guard = guardFor(client)
    let from = await this.list(started, failed, async () => {
      try {
        const res = await guard.get(client, this.dir, { sorted: true, signal: this.ctl.signal })
        this.reset((res.node.nodes ?? []).filter((n) => !n.dir))
        return res.etcdIndex + 1
      } catch (err) {
        if (!(err instanceof KeyNotFoundError)) throw err
        return err.index + 1
      }
    }, (i) => i)
    if (from === undefined) return
    while (!this.closed) {
      const w = client.watch(this.dir, { recursive: true, waitIndex: from, signal: this.ctl.signal })
      if (!(await this.follow(w, (ev) => {
        if (ev.type === 'resync') { this.reset((ev.node?.nodes ?? []).filter((n) => !n.dir)); from = ev.etcdIndex + 1; return }
        guard.see(ev.index)
        from = ev.index + 1
        const gone = ev.action === 'delete' || ev.action === 'expire' || ev.action === 'compareAndDelete'
        if (ev.node.key === this.dir) { if (gone) this.reset([]); return }
        if (gone) this.remove(ev.node.key)
        else if (!ev.node.dir) this.upsert(ev.node)
      }))) return
    }
  }

  /** v3: the listing of `dir/`, then a prefix watch from the next revision (resumes itself; a resync replaces the set). */
  private async runV3(client: ClientV3, started: (i: number) => void, failed: (e: unknown) => void): Promise<void> {
    const pfx = this.dir + '/'
    let from = await this.list(started, failed, async () => {
      const res = await client.range(pfx, { prefix: true, signal: this.ctl.signal })
      sawRev(client, res.header.revision)
      this.reset(res.kvs.map(entryOf))
      return res.header.revision + 1n
    }, revNumber)
    if (from === undefined) return
    while (!this.closed) {
      const w = client.watch(pfx, { prefix: true, startRevision: from, signal: this.ctl.signal })
      if (!(await this.follow(w, (ev) => {
        if (ev.type === 'progress') return
        if (ev.type === 'resync') { this.reset(ev.kvs.map(entryOf)); from = ev.revision + 1n; return }
        sawRev(client, ev.revision)
        from = ev.revision + 1n
        if (ev.type === 'delete') this.remove(ev.kv.keyString)
        else this.upsert(entryOf(ev.kv))
      }))) return
    }
  }

  /**
   * Reads the initial listing and reports where the watch starts; a failure is reported to
   * `failed` and as an `error` event, and closes the view (undefined).
   */
  private async list<F>(started: (i: number) => void, failed: (e: unknown) => void, read: () => Promise<F>, index: (from: F) => number): Promise<F | undefined> {
    try {
      const from = await read()
      started(index(from))
      return from
    } catch (err) {
      failed(err)
      this.emit('error', err)
      this.close()
      return undefined
    }
  }

  /** Applies a watch's events until it ends; false once the view is closed. Errors are reported, then retried after a pause. */
  private async follow<E>(w: AsyncIterable<E> & { close(): void }, apply: (ev: E) => void): Promise<boolean> {
    try {
      for await (const ev of w) apply(ev)
    } catch (err) {
      if (this.closed) return false
      this.emit('error', err)
      await sleep(500, this.ctl.signal).catch(() => {})
    } finally {
      w.close()
    }
    return true
  }

  private toInstance(n: StoredInstance): Instance<T> {
    const id = n.key.slice(n.key.lastIndexOf('/') + 1)
    return { service: this.service, id, key: n.key, data: decodeData(n.value, isV3(this.client)) as T, createdIndex: n.createdIndex, modifiedIndex: n.modifiedIndex }
  }

  private upsert(n: StoredInstance): void {
    const inst = this.toInstance(n)
    const prev = this.map.get(inst.id)
    this.map.set(inst.id, inst)
    if (!prev) this.fire({ type: 'added', instance: inst })
    else if (JSON.stringify(prev.data) !== JSON.stringify(inst.data) || prev.createdIndex !== inst.createdIndex) this.fire({ type: 'updated', instance: inst })
  }

  private remove(key: string): void {
    const id = key.slice(key.lastIndexOf('/') + 1)
    const prev = this.map.get(id)
    if (!prev) return
    this.map.delete(id)
    this.fire({ type: 'removed', instance: prev })
  }

  private reset(nodes: StoredInstance[]): void {
    const seen = new Set<string>()
    for (const n of nodes) {
      const inst = this.toInstance(n)
      seen.add(inst.id)
      this.upsert(n)
    }
    for (const id of [...this.map.keys()]) if (!seen.has(id)) this.remove(this.map.get(id)!.key)
  }

  private fire(e: ServiceEvent<T>): void {
    this.emit(e.type, e.instance)
    this.emit('change', e)
  }
}

/** What the view needs of a stored instance key (a v2 node or a v3 key-value). */
interface StoredInstance {
  key: string
  value?: string
  createdIndex: number
  modifiedIndex: number
}

function entryOf(kv: KeyValue): StoredInstance {
  return { key: kv.keyString, value: kv.valueString, createdIndex: revNumber(kv.createRevision), modifiedIndex: revNumber(kv.modRevision) }
}

/** The published data: v2 owner JSON (with a nonce), v3 plain JSON; anything else as the raw text. */
function decodeData(value: string | undefined, v3: boolean): unknown {
  const v = decodeOwner(value)
  if (v) return v.data
  if (value === undefined || !v3) return value
  try { return JSON.parse(value) as unknown } catch { return value }
}

/** A live view of `service`; `await view.ready` before the first snapshot. Close it when done. */
export function discover<T = unknown>(client: AnyClient, service: string, opts: DiscoverOptions = {}): ServiceView<T> {
  return new ServiceView<T>(client, service, opts)
}
