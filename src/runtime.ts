// Runtime shims: find a fetch and an AbortController wherever the SDK runs (Node, browsers,
// serverless/edge), link abort signals, encode Basic auth. Must not import Node built-ins: the
// fallbacks (cross-fetch, abort-controller) are loaded lazily and only when the runtime lacks them.

import { bytesToBase64, utf8Bytes } from './bytes.js'
import type { FetchLike } from './types.js'

/** Constructor of an AbortController (native or the abort-controller polyfill). */
export type AbortControllerClass = new () => { readonly signal: AbortSignal; abort(): void }

let acClass: AbortControllerClass | undefined = (globalThis as { AbortController?: AbortControllerClass }).AbortController
let defaultFetch: FetchLike | undefined

/** Loads the AbortController polyfill if the runtime has none. Idempotent. */
export async function ensureAbortController(): Promise<AbortControllerClass> {
  if (!acClass) {
    const mod = (await import('abort-controller')) as unknown as { AbortController?: AbortControllerClass; default?: AbortControllerClass | { AbortController: AbortControllerClass } }
    const d = mod.default
    acClass = mod.AbortController ?? (typeof d === 'function' ? d : d?.AbortController)
    if (!acClass) throw new Error('no AbortController available')
  }
  return acClass
}

/** A new AbortController; call {@link ensureAbortController} once before. */
export function newAbortController(): InstanceType<AbortControllerClass> {
  if (!acClass) throw new Error('ensureAbortController() was not awaited')
  return new acClass()
}

/** True on Node.js itself (not Bun or Deno, which also define `process.versions.node`). */
function isNodeRuntime(): boolean {
  const g = globalThis as { process?: { versions?: { node?: string; bun?: string } }; Deno?: unknown }
  return typeof g.process?.versions?.node === 'string' && g.process.versions.bun === undefined && g.Deno === undefined
}

async function loadCrossFetch(): Promise<FetchLike> {
  const mod = (await import('cross-fetch')) as unknown as { default?: FetchLike | { fetch?: FetchLike }; fetch?: FetchLike }
  const d = mod.default
  const f = mod.fetch ?? (typeof d === 'function' ? d : d?.fetch)
  if (!f) throw new Error('no fetch implementation available')
  return f
}

/**
 * The default fetch. On Node.js: cross-fetch (node-fetch over Node's keep-alive agent), measured
 * 1.1-2x faster than Node 20's built-in fetch for sequential requests (README "Client SDK").
 * Elsewhere (browsers, edge, Bun, Deno): the runtime's own fetch, or cross-fetch if it has none.
 */
export async function resolveDefaultFetch(): Promise<FetchLike> {
  if (defaultFetch) return defaultFetch
  const native = (globalThis as { fetch?: FetchLike }).fetch
  if (isNodeRuntime()) {
    try {
      defaultFetch = await loadCrossFetch()
    } catch {
      if (typeof native !== 'function') throw new Error('no fetch implementation available')
      defaultFetch = native.bind(globalThis) as FetchLike
    }
  } else if (typeof native === 'function') {
    defaultFetch = native.bind(globalThis) as FetchLike
  } else {
    defaultFetch = await loadCrossFetch()
  }
  return defaultFetch
}

/**
 * Makes `target` abort when `source` aborts; returns a function that removes the listener.
 * Works with native and polyfilled signals (no AbortSignal.any, no `reason`).
 */
export function linkSignal(source: AbortSignal | undefined, onAbort: () => void): () => void {
  if (!source) return () => {}
  if (source.aborted) {
    onAbort()
    return () => {}
  }
  const listener = (): void => onAbort()
  source.addEventListener('abort', listener)
  return () => source.removeEventListener('abort', listener)
}

/** Base64 of a UTF-8 string without Buffer (works in browsers, Node and edge runtimes). */
export function base64Utf8(text: string): string {
  return bytesToBase64(utf8Bytes(text))
}

/** setTimeout that does not keep a Node process alive (unref when the runtime supports it). */
export function unrefTimer(fn: () => void, ms: number): ReturnType<typeof setTimeout> {
  const t = setTimeout(fn, ms)
  ;(t as { unref?: () => void }).unref?.()
  return t
}

/** Delay before the n-th consecutive reconnect of a watch: 100 ms doubling to 5 s, jittered in [50%, 100%]. */
export function backoffMs(n: number): number {
  const base = Math.min(5000, 100 * 2 ** Math.min(n, 10))
  return base / 2 + Math.random() * (base / 2)
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms)
    const unlink = linkSignal(signal, done)
    function done(): void {
      clearTimeout(t)
      unlink()
      resolve()
    }
  })
}

/**
 * True in a browser page or worker, where requests to another origin go through CORS (so only
 * the headers the server allows may be sent).
 */
export function isBrowser(): boolean {
  const g = globalThis as { document?: unknown; importScripts?: unknown }
  return g.document !== undefined || typeof g.importScripts === 'function'
}
