// Small shared pieces of the recipes: nonces, clocks, sleeps, a typed event emitter, recipe errors,
// owner-value encoding and the "never read older than what we have seen" guard for quorum reads.
// Runs in browsers and edge runtimes too: no Node built-ins, no Node-only globals.

import { KeyNotFoundError, type Client, type GetOptions, type Response } from '../src/index.js'

// `await using` (as compiled by TypeScript) looks Symbol.asyncDispose up at run time; runtimes
// that lack it (older browsers) get one defined here, so handles stay disposable everywhere.
;(Symbol as { asyncDispose?: symbol }).asyncDispose ??= Symbol.for('Symbol.asyncDispose')

/** A random 128-bit id as 32 hex chars (crypto.getRandomValues where available). */
export function nonce(): string {
  const bytes = new Uint8Array(16)
  const c = (globalThis as { crypto?: { getRandomValues?(a: Uint8Array): Uint8Array } }).crypto
  if (c?.getRandomValues) c.getRandomValues(bytes)
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256)
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

/** Monotonic milliseconds (performance.now when available): immune to wall-clock steps. */
export function now(): number {
  const p = (globalThis as { performance?: { now(): number } }).performance
  return p ? p.now() : Date.now()
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal))
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    function onAbort(): void { clearTimeout(t); reject(abortReason(signal!)) }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** The reason a signal aborted, as an Error. */
export function abortReason(signal: AbortSignal): Error {
  const r = (signal as { reason?: unknown }).reason
  // A plain abort() gives a DOMException named AbortError: report it as our own class.
  if (r instanceof Error && r.name !== 'AbortError') return r
  return new RecipeAbortError('aborted', r)
}

/**
 * Reads a watch until `wake` says an event may change what the caller is waiting for (or the
 * watch ends), then closes it; the caller reads the state again.
 */
export async function waitForEvent<E>(w: AsyncIterable<E> & { close(): void }, wake: (ev: E) => boolean): Promise<void> {
  try {
    for await (const ev of w) if (wake(ev)) return
  } finally {
    w.close()
  }
}

/** A minimal typed event emitter (Node's EventEmitter is not available in browsers). */
export class Emitter<E extends Record<string, unknown[]>> {
  // Storage is untyped; on/off/emit are what keep listeners and arguments matched.
  private readonly listeners = new Map<keyof E, Set<(...args: any[]) => void>>()

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E>(event: K, fn: (...args: E[K]) => void): () => void {
    let set = this.listeners.get(event)
    if (!set) this.listeners.set(event, (set = new Set()))
    set.add(fn as (...args: any[]) => void)
    return () => this.off(event, fn)
  }

  /** Adds a listener that runs at most once. */
  once<K extends keyof E>(event: K, fn: (...args: E[K]) => void): () => void {
    const off = this.on(event, (...args) => { off(); fn(...args) })
    return off
  }

  off<K extends keyof E>(event: K, fn: (...args: E[K]) => void): void {
    this.listeners.get(event)?.delete(fn as (...args: any[]) => void)
  }

  protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
    for (const fn of [...(this.listeners.get(event) ?? [])]) {
      try {
        fn(...args)
      } catch {
        // A throwing listener must not break the recipe's own bookkeeping.
      }
    }
  }
}

// ---- errors ------------------------------------------------------------------------------------

/** Stable codes of the recipe errors. */
export type RecipeErrorCode = 'RECIPE' | 'LOCK_LOST' | 'STALE_TOKEN' | 'STALE_READ' | 'RECIPE_TIMEOUT' | 'RECIPE_ABORTED'
  // data structures: a value of another type, a reference whose target is missing, a cycle of references
  | 'WRONG_TYPE' | 'DANGLING_REFERENCE' | 'REFERENCE_CYCLE'

/** Base class of the errors the recipes add to the SDK's. Narrow with `instanceof` or on `code`. */
export class RecipeError extends Error {
  readonly code: RecipeErrorCode
  constructor(message: string, cause?: unknown, code: RecipeErrorCode = 'RECIPE') {
    super(message, cause === undefined ? undefined : { cause })
    this.name = new.target.name
    this.code = code
  }
}

/** The lock / leadership / registration is no longer held (expired, taken, or unverifiable). */
export class LockLostError extends RecipeError {
  constructor(message: string, cause?: unknown) { super(message, cause, 'LOCK_LOST') }
}
/** A guarded write carried a fencing token older than one the resource has already seen. */
export class StaleTokenError extends RecipeError {
  constructor(message: string, cause?: unknown) { super(message, cause, 'STALE_TOKEN') }
}
/** A quorum read answered with an index below one this client has already seen. */
export class StaleReadError extends RecipeError {
  constructor(message: string, cause?: unknown) { super(message, cause, 'STALE_READ') }
}
/** acquire/campaign/wait did not succeed within its `timeout`. */
export class RecipeTimeoutError extends RecipeError {
  constructor(message: string, cause?: unknown) { super(message, cause, 'RECIPE_TIMEOUT') }
}
/** acquire/campaign/wait was cancelled by its `signal`. */
export class RecipeAbortError extends RecipeError {
  constructor(message: string, cause?: unknown) { super(message, cause, 'RECIPE_ABORTED') }
}

// ---- owner values ------------------------------------------------------------------------------

/**
 * What a recipe writes into a key it owns. `nonce` is unique per key a recipe creates, so a write
 * whose reply was lost can be recognised as ours, and release can compare-and-delete on it.
 */
export interface OwnerValue {
  nonce: string
  /** Free-form label of the owner (host/pid/worker name), for humans. */
  owner?: string
  /** Recipe-specific fields (rw-lock mode, election value, service data...). */
  [field: string]: unknown
}

export function encodeOwner(v: OwnerValue): string {
  return JSON.stringify(v)
}

/** Parses an owner value; undefined when the key was not written by a recipe. */
export function decodeOwner(text: string | undefined): OwnerValue | undefined {
  if (text === undefined) return undefined
  try {
    const v = JSON.parse(text) as unknown
    if (v && typeof v === 'object' && typeof (v as OwnerValue).nonce === 'string') return v as OwnerValue
  } catch {
    // not ours
  }
  return undefined
}

// ---- read guard ----------------------------------------------------------------------------------

/**
 * Remembers the highest store index a client has seen (writes, reads, watch events) and makes
 * recipe reads quorum reads that are refused when they answer from an older index: after a
 * failover a lagging member must not make a recipe believe an older state.
 */
export class IndexGuard {
  highest = 0

  see(index: number | undefined): void {
    if (typeof index === 'number' && index > this.highest) this.highest = index
  }

  /** Records `res.etcdIndex` and returns `res`. */
  saw<T extends { etcdIndex: number }>(res: T): T {
    this.see(res.etcdIndex)
    return res
  }

  /** A quorum GET whose answer is not older than anything seen; KeyNotFound is checked too. */
  async get(client: Client, key: string, opts: GetOptions = {}): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      let index: number
      try {
        const res = await client.get(key, { ...opts, quorum: true })
        index = res.etcdIndex
        if (index >= this.highest) return this.saw(res)
      } catch (err) {
        if (!(err instanceof KeyNotFoundError)) throw err
        index = err.index
        if (index >= this.highest) { this.see(index); throw err }
      }
      if (attempt >= 5) throw new StaleReadError(`read of ${key} answered at index ${index}, below ${this.highest} already seen`)
      await sleep(50 * (attempt + 1), opts.signal)
    }
  }
}

const guards = new WeakMap<Client, IndexGuard>()

/** The guard shared by every recipe using this client. */
export function guardFor(client: Client): IndexGuard {
  let g = guards.get(client)
  if (!g) guards.set(client, (g = new IndexGuard()))
  return g
}

/** A signal that aborts when any input aborts or after `timeoutMs`; `dispose` clears the timer. */
export function combineSignals(
  inputs: (AbortSignal | undefined)[],
  timeoutMs?: number,
  onTimeout: () => Error = () => new RecipeTimeoutError(`timed out after ${timeoutMs} ms`),
): { signal: AbortSignal; dispose(): void } {
  const ctl = new AbortController()
  const cleanups: (() => void)[] = []
  for (const s of inputs) {
    if (!s) continue
    if (s.aborted) { ctl.abort(abortReason(s)); break }
    const fn = (): void => ctl.abort(abortReason(s))
    s.addEventListener('abort', fn, { once: true })
    cleanups.push(() => s.removeEventListener('abort', fn))
  }
  if (timeoutMs !== undefined && !ctl.signal.aborted) {
    const t = setTimeout(() => ctl.abort(onTimeout()), timeoutMs)
    cleanups.push(() => clearTimeout(t))
  }
  return { signal: ctl.signal, dispose: () => cleanups.forEach((c) => c()) }
}

/** Validates a TTL in whole seconds (>= 1). */
export function checkTtl(ttl: number, what = 'ttl'): number {
  if (!Number.isInteger(ttl) || ttl < 1) throw new RecipeError(`${what} must be a whole number of seconds >= 1, got ${ttl}`)
  return ttl
}

/** Joins key path parts with single slashes. */
export function joinKey(...parts: string[]): string {
  return '/' + parts.map((p) => p.replace(/^\/+|\/+$/g, '')).filter(Boolean).join('/')
}
