// Runtime shims: find a fetch and an AbortController wherever the SDK runs (Node, browsers,
// serverless/edge), link abort signals, encode Basic auth. Must not import Node built-ins: the
// fallbacks (cross-fetch, abort-controller) are loaded lazily and only when the runtime lacks them.

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

/**
 * The default fetch: the runtime's own (Node 18+, browsers, edge runtimes) when it has one,
 * otherwise cross-fetch. README "Client SDK" has the benchmark behind this choice.
 */
export async function resolveDefaultFetch(): Promise<FetchLike> {
  if (defaultFetch) return defaultFetch
  const native = (globalThis as { fetch?: FetchLike }).fetch
  if (typeof native === 'function') {
    defaultFetch = native.bind(globalThis) as FetchLike
  } else {
    const mod = (await import('cross-fetch')) as unknown as { default?: FetchLike; fetch?: FetchLike }
    const f = mod.fetch ?? mod.default
    if (!f) throw new Error('no fetch implementation available')
    defaultFetch = f
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
  const bytes = new TextEncoder().encode(text)
  let bin = ''
  for (const b of bytes) bin += String.fromCharCode(b)
  return btoa(bin)
}

/** setTimeout that does not keep a Node process alive (unref when the runtime supports it). */
export function unrefTimer(fn: () => void, ms: number): ReturnType<typeof setTimeout> {
  const t = setTimeout(fn, ms)
  ;(t as { unref?: () => void }).unref?.()
  return t
}
