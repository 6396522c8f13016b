// The watch iterator: long-polls /v2/keys with wait=true so that no event is missed or repeated
// (spec WATCH-2, WATCH-10, WATCH-15), reconnects after errors and resyncs after error 401.
// It knows nothing about endpoints or retries (the transport does); it must never skip an index.

import { EventIndexClearedError, isRetryable } from './errors.js'
import { errorFromResult, parseJson, toNode } from './keys-codec.js'
import { backoffMs, sleep } from './runtime.js'
import type { HttpResult } from './transport.js'
import type { Action, Node, WatchEvent, WatchOptions } from './types.js'
import { WatchIterator } from './watch-iterator.js'

/** What a watch needs from the client. */
export interface WatchHost {
  /** One long-poll `GET key?wait=true&waitIndex=...`, raw (any status). */
  waitOnce(key: string, waitIndex: number, recursive: boolean, signal: AbortSignal): Promise<HttpResult>
  /**
   * A GET of the key: the node (undefined if missing) and the store index it was read at, or
   * undefined when the server's X-Etcd-Index header is not visible (cross-origin in a browser
   * against a server that does not expose it).
   */
  read(key: string, recursive: boolean, signal: AbortSignal): Promise<{ node: Node | undefined; etcdIndex: number | undefined }>
  /** The store's current index read from an error body (works without response headers). */
  currentIndex(key: string, signal: AbortSignal): Promise<number>
  /** Called once when the watch ends. */
  onClose(w: Watch): void
}

/** True if `eventKey` lies below `watched` through a hidden (`_`) segment (spec HID-3). */
function isHiddenBelow(watched: string, eventKey: string): boolean {
  const base = watched === '/' ? '' : watched.replace(/\/+$/, '')
  if (!eventKey.startsWith(base + '/')) return false
  return eventKey.slice(base.length + 1).split('/').some((s) => s.startsWith('_'))
}

/**
 * An async iterable of {@link WatchEvent}s. Ending a `for await` loop (break/return/throw) or
 * calling {@link Watch.close} cancels the in-flight request and ends the iteration quietly; an
 * aborted `signal` makes the pending `next()` reject with AbortError.
 */
export class Watch extends WatchIterator<WatchEvent> {
  private next_: number | undefined

  /** @param key normalized: leading slash, no empty segments. */
  constructor(private readonly host: WatchHost, private readonly key: string, private readonly opts: WatchOptions) {
    super(opts.signal)
    this.next_ = opts.waitIndex
  }

  /** The next index the watch will ask for (last reported index + 1); undefined before it starts. */
  get nextIndex(): number | undefined {
    return this.next_
  }

  protected onClose(): void {
    this.host.onClose(this)
  }

  protected async *run(signal: AbortSignal): AsyncGenerator<WatchEvent, void, undefined> {
    const recursive = this.opts.recursive === true
    let failures = 0
    while (true) {
      if (this.ended()) return
      try {
        if (this.next_ === undefined) {
          const start = await this.host.read(this.key, recursive, signal)
          this.next_ = (start.etcdIndex ?? await this.host.currentIndex(this.key, signal)) + 1
        }
        const polledAt = Date.now()
        const res = await this.host.waitOnce(this.key, this.next_, recursive, signal)
        if (res.status === 200 && res.body.trim() === '') {
          // The server ended the poll without an event (shutdown, proxy timeout): ask again, but
          // back off if that keeps happening at once rather than spin.
          if (Date.now() - polledAt < 1000) await sleep(backoffMs(failures++), signal)
          continue
        }
        failures = 0
        if (res.status >= 300) {
          const err = errorFromResult(res)
          if (!(err instanceof EventIndexClearedError)) throw err
          // The history no longer reaches nextIndex: re-read, report the state, go on after it.
          // Without a visible X-Etcd-Index, continue after the index the 401 reported (read
          // before the GET): changes may then repeat what the resync state shows, none is lost.
          const now = await this.host.read(this.key, recursive, signal)
          const at = now.etcdIndex ?? err.index
          this.next_ = at + 1
          yield { type: 'resync', node: now.node, etcdIndex: at }
          continue
        }
        const ev = parseJson(res.body) as { action: Action; node: unknown; prevNode?: unknown } | undefined
        if (!ev || typeof ev.action !== 'string') throw errorFromResult({ ...res, status: 502 })
        const node = toNode(ev.node)
        const index = node.modifiedIndex
        this.next_ = index + 1
        // History scans also return events below hidden segments, live delivery does not.
        if (recursive && isHiddenBelow(this.key, node.key)) continue
        const change: WatchEvent = { type: 'change', action: ev.action, node, index }
        if (ev.prevNode !== undefined) change.prevNode = toNode(ev.prevNode)
        yield change
      } catch (err) {
        if (this.endedBy(err)) return
        if (!isRetryable(err)) throw err
        await sleep(backoffMs(failures++), signal)
      }
    }
  }
}
