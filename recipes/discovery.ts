// Service discovery: instances register under /services/<service>/<id> with a TTL kept alive by
// refreshes (which make no watch events), and consumers hold a live, cached view of a service
// kept current by one recursive directory watch (added/updated/removed), with pick strategies.
// A crashed instance disappears from every view within its TTL. No Node built-ins.

import { KeyNotFoundError, NodeExistsError, OutcomeUnknownError, type Client, type Node } from '../src/index.js'
import { Keeper } from './keepalive.js'
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
  private keeper: Keeper | undefined
  private stopped = false
  private readonly stopCtl = new AbortController()

  /** @internal use {@link register}. */
  constructor(readonly client: Client, readonly service: string, readonly id: string, opts: RegisterOptions) {
    super()
    this.key = joinKey(opts.prefix ?? '/services', service, id)
    this.ttl = checkTtl(opts.ttl ?? 10)
    this.value = encodeOwner({ nonce: nonce(), data: opts.data ?? null })
  }

  /** True while the key is certainly present. */
  isRegistered(): boolean {
    return !this.stopped && this.keeper?.state === 'held'
  }

  /** @internal first registration: a plain set, replacing a stale key of an earlier life of this id. */
  async start(): Promise<void> {
    const sent = now()
    const res = guardFor(this.client).saw(await this.client.set(this.key, this.value, { ttl: this.ttl }))
    this.keep(res.node.createdIndex, sent)
  }

  /** Publishes new data for this instance (CAS on our own value, TTL resent). */
  async update(data: unknown): Promise<void> {
    const next = encodeOwner({ nonce: decodeOwner(this.value)!.nonce, data })
    try {
      guardFor(this.client).saw(await this.client.compareAndSwap(this.key, next, { prevValue: this.value, ttl: this.ttl }))
    } catch (err) {
      // A lost reply: the stored value tells whether the update landed.
      if (!(err instanceof OutcomeUnknownError)) throw err
      const cur = await guardFor(this.client).get(this.client, this.key)
      if (cur.node.value !== next) throw err
    }
    this.value = next
    this.keeper?.setValue(next)
  }

  /** Stops refreshing and removes the key (compare-and-delete on our value). Idempotent. */
  async deregister(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.stopCtl.abort()
    this.keeper?.stop()
    await removeOwned(this.client, this.key, this.value)
    this.emit('deregistered')
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.deregister()
  }

  private keep(createdIndex: number, sent: number): void {
    const k = new Keeper({ client: this.client, key: this.key, ttl: this.ttl, value: this.value, createdIndex, confirmedAt: sent })
    this.keeper = k
    k.on('lost', (err) => {
      if (this.stopped) return
      this.emit('lost', err)
      void this.reregister()
    })
  }

  /** Re-creates the key (create-if-absent: never overwrites another process using the same id). */
  private async reregister(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      const sent = now()
      try {
        const res = guardFor(this.client).saw(await this.client.create(this.key, this.value, { ttl: this.ttl, signal: this.stopCtl.signal }))
        this.keep(res.node.createdIndex, sent)
        this.emit('restored')
        return
      } catch (err) {
        if (this.stopped) return
        if (err instanceof NodeExistsError) {
          // Ours after all (a lost reply)? Otherwise another process uses this id: wait for it to go.
          const cur = await guardFor(this.client).get(this.client, this.key).catch(() => undefined)
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
export async function register(client: Client, service: string, instance: string, opts: RegisterOptions = {}): Promise<Registration> {
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
  constructor(readonly client: Client, readonly service: string, opts: DiscoverOptions = {}) {
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
    const guard = guardFor(this.client)
    let from: number
    try {
      try {
        const res = await guard.get(this.client, this.dir, { sorted: true, signal: this.ctl.signal })
        this.reset(res.node.nodes ?? [])
        from = res.etcdIndex + 1
      } catch (err) {
        if (!(err instanceof KeyNotFoundError)) throw err
        from = err.index + 1
      }
      started(from)
    } catch (err) {
      failed(err)
      this.emit('error', err)
      this.close()
      return
    }
    while (!this.closed) {
      const w = this.client.watch(this.dir, { recursive: true, waitIndex: from, signal: this.ctl.signal })
      try {
        for await (const ev of w) {
          if (ev.type === 'resync') { this.reset(ev.node?.nodes ?? []); from = ev.etcdIndex + 1; continue }
          guard.see(ev.index)
          from = ev.index + 1
          const gone = ev.action === 'delete' || ev.action === 'expire' || ev.action === 'compareAndDelete'
          if (ev.node.key === this.dir) { if (gone) this.reset([]); continue }
          if (gone) this.remove(ev.node.key)
          else if (!ev.node.dir) this.upsert(ev.node)
        }
      } catch (err) {
        if (this.closed) return
        this.emit('error', err)
        await sleep(500, this.ctl.signal).catch(() => {})
      } finally {
        w.close()
      }
    }
  }

  private toInstance(n: Node): Instance<T> | undefined {
    if (n.dir) return undefined
    const id = n.key.slice(n.key.lastIndexOf('/') + 1)
    const v = decodeOwner(n.value)
    return { service: this.service, id, key: n.key, data: (v ? v.data : n.value) as T, createdIndex: n.createdIndex, modifiedIndex: n.modifiedIndex }
  }

  private upsert(n: Node): void {
    const inst = this.toInstance(n)
    if (!inst) return
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

  private reset(nodes: Node[]): void {
    const seen = new Set<string>()
    for (const n of nodes) {
      const inst = this.toInstance(n)
      if (!inst) continue
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

/** A live view of `service`; `await view.ready` before the first snapshot. Close it when done. */
export function discover<T = unknown>(client: Client, service: string, opts: DiscoverOptions = {}): ServiceView<T> {
  return new ServiceView<T>(client, service, opts)
}
