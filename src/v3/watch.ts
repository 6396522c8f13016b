// The v3 watch iterator over `POST /v3/watch`, whose answer streams one JSON object per line.
// It tracks the next revision to report; after any disconnect it creates the watch again at that
// revision (on whichever endpoint answers), so no event is missed or repeated, and turns a
// compacted start revision into a `resync` event with the current state.

import { utf8Text } from '../bytes.js'
import { HttpError, RaftkvError, ValidationError, isRetryable } from '../errors.js'
import { parseJson } from '../keys-codec.js'
import { backoffMs, linkSignal, newAbortController, sleep } from '../runtime.js'
import type { HttpResult } from '../transport.js'
import type { CallOptions } from '../types.js'
import { big, decodeHeader, decodeKv, encodeKeyRange, i64, type Json } from './codec.js'
import { InvalidAuthTokenError, PermissionDeniedError, readErrorBody, v3Error } from './errors.js'
import { toBytes } from './kv.js'
import type { Bytes, KeyRange, RangeOptions, RangeResponse, WatchEvent, WatchOptions } from './types.js'
import { WatchIterator } from '../watch-iterator.js'

/** What a watch needs from the client. */
export interface WatchV3Host {
  /** Opens one watch stream (a 2xx answer with `stream` set) or throws a typed error. */
  open(body: Json, signal: AbortSignal): Promise<HttpResult>
  /** A linearizable range (for resync). */
  range(key: Bytes, opts: RangeOptions & CallOptions, signal: AbortSignal): Promise<RangeResponse>
  /** Replaces the auth token the last `open` used; false when the client has no credentials. */
  renewToken(): Promise<boolean>
  /** Called once when the watch ends. */
  onClose(w: WatchV3): void
}

/** The lines of a streamed body: a WHATWG ReadableStream or an async iterable of byte chunks. */
export async function* readLines(body: unknown): AsyncGenerator<string, void, undefined> {
  const decoder = new TextDecoder()
  let buf = ''
  const chunks = async function* (): AsyncGenerator<Uint8Array | string> {
    const b = body as { getReader?: () => ReadableStreamDefaultReader<Uint8Array> } & Partial<AsyncIterable<Uint8Array | string>>
    if (typeof b?.getReader === 'function') {
      const reader = b.getReader()
      try {
        while (true) {
          const { done, value } = await reader.read()
          if (done) return
          yield value
        }
      } finally {
        reader.cancel().catch(() => {})
      }
    } else if (b && typeof b[Symbol.asyncIterator] === 'function') {
      yield* b as AsyncIterable<Uint8Array | string>
    } else {
      throw new HttpError(502, 'this fetch gives no streamed body; a v3 watch needs one')
    }
  }
  for await (const chunk of chunks()) {
    buf += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true })
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim()
      buf = buf.slice(nl + 1)
      if (line) yield line
    }
  }
  buf += decoder.decode()
  if (buf.trim()) yield buf.trim()
}

const FILTERS = { noPut: 'NOPUT', noDelete: 'NODELETE' } as const

/**
 * An async iterable of {@link WatchEvent}s. Ending a `for await` loop or calling
 * {@link WatchV3.close} closes the stream and ends the iteration quietly; an aborted `signal`
 * makes the pending `next()` reject with AbortError. Errors that retrying cannot fix (permission
 * denied, invalid arguments) end the iteration with that error.
 */
export class WatchV3 extends WatchIterator<WatchEvent> {
  private next_: bigint | undefined
  private readonly create: Json

  constructor(private readonly host: WatchV3Host, private readonly key: Bytes, private readonly opts: WatchOptions) {
    super(opts.signal)
    // Validate now so bad options throw at the call, not at the first next().
    const range = encodeKeyRange(key, opts)
    const create: Json = { ...range }
    if (opts.prevKv) create.prev_kv = true
    if (opts.progressNotify) create.progress_notify = true
    if (opts.filters?.length) create.filters = opts.filters.map((f) => FILTERS[f])
    this.create = create
    if (opts.idleTimeoutMs !== undefined && !(opts.idleTimeoutMs > 0)) throw new ValidationError('idleTimeoutMs must be a positive number of ms')
    this.next_ = opts.startRevision === undefined ? undefined : BigInt(i64(opts.startRevision, 'startRevision'))
    toBytes(key)
  }

  /** The next revision the watch will report (last reported + 1); undefined until it is created. */
  get nextRevision(): bigint | undefined {
    return this.next_
  }

  protected onClose(): void {
    this.host.onClose(this)
  }

  protected async *run(signal: AbortSignal): AsyncGenerator<WatchEvent, void, undefined> {
    let failures = 0
    let renewedToken = false
    while (true) {
      if (this.ended()) return
      // One controller per stream, so that ending a stream leaves no listener behind.
      const conn = newAbortController()
      const unlink = linkSignal(signal, () => conn.abort())
      let idleTimer: ReturnType<typeof setTimeout> | undefined
      try {
        const create = { ...this.create }
        if (this.next_ !== undefined) create.start_revision = this.next_.toString()
        const res = await this.host.open({ create_request: create }, conn.signal)
        // A stream silent for idleTimeoutMs is closed and opened again. The clock runs only
        // while waiting for the server, not while the consumer holds an event.
        const idle = this.opts.idleTimeoutMs
        const armIdle = (): void => { if (idle !== undefined) idleTimer = setTimeout(() => conn.abort(), idle) }
        armIdle()
        for await (const line of readLines(res.stream)) {
          clearTimeout(idleTimer)
          const msg = parseJson(line) as Json | undefined
          const err = readErrorBody(msg)
          if (err) throw v3Error(err.grpcCode, err.message, res.status)
          const r = (msg?.result ?? undefined) as Json | undefined
          if (!r) throw new HttpError(502, `unexpected watch line from ${res.endpoint}: ${line.slice(0, 200)}`)
          const header = decodeHeader(r.header)
          if (r.created === true && r.canceled !== true) {
            // Without a start revision the watch reports what happens after its creation.
            this.next_ ??= header.revision + 1n
            failures = 0
            renewedToken = false
          }
          const compactRev = big(r.compact_revision)
          if (r.canceled === true || compactRev > 0n) {
            if (compactRev > 0n) {
              yield await this.resync(compactRev, signal)
              break // the server canceled this watch: create it again after the resync
            }
            const reason = typeof r.cancel_reason === 'string' ? r.cancel_reason : 'watch canceled by the server'
            const cancel = v3Error(0, reason, res.status)
            // etcd cancels the creation with "invalid auth token" (or, in some versions,
            // "permission denied") when the token has expired: take a new one once and retry.
            const authRefused = cancel instanceof InvalidAuthTokenError || cancel instanceof PermissionDeniedError
            if (authRefused && !renewedToken && (await this.host.renewToken())) {
              renewedToken = true
              break
            }
            throw cancel
          }
          const events = Array.isArray(r.events) ? (r.events as unknown[]) : []
          if (events.length > 0) {
            for (const raw of events) {
              const e = raw as Json
              const kv = decodeKv(e.kv)
              const type = e.type === 'DELETE' || e.type === 1 ? 'delete' : 'put'
              const ev: WatchEvent = { type, kv, revision: kv.modRevision }
              if (e.prev_kv !== undefined && e.prev_kv !== null) ev.prevKv = decodeKv(e.prev_kv)
              // etcd never splits one revision across two answers, so after this event every
              // change below its revision has been reported.
              if (this.next_ === undefined || kv.modRevision + 1n > this.next_) this.next_ = kv.modRevision + 1n
              yield ev
            }
          } else if (r.created !== true && this.next_ !== undefined && header.revision > 0n) {
            // A progress notification: nothing else changed up to header.revision.
            if (header.revision + 1n > this.next_) this.next_ = header.revision + 1n
            yield { type: 'progress', revision: header.revision }
          }
          armIdle()
        }
        // The stream ended (the member shut down or a proxy cut it): resume elsewhere.
        if (!this.closed && !this.userAborted) await sleep(backoffMs(failures++), signal)
      } catch (err) {
        if (this.endedBy(err)) return
        // Untyped errors come from the stream breaking (reset, member killed): resume.
        if (err instanceof RaftkvError ? isRetryable(err) : true) {
          await sleep(backoffMs(failures++), signal)
        } else {
          throw err
        }
      } finally {
        clearTimeout(idleTimer)
        unlink()
        conn.abort()
      }
    }
  }

  /** Reads the watched range now and moves the watch past it. */
  private async resync(compactRevision: bigint, signal: AbortSignal): Promise<WatchEvent> {
    const range: KeyRange = { prefix: this.opts.prefix, rangeEnd: this.opts.rangeEnd, fromKey: this.opts.fromKey }
    const now = await this.host.range(this.key, range, signal)
    this.next_ = now.header.revision + 1n
    return { type: 'resync', kvs: now.kvs, revision: now.header.revision, compactRevision }
  }
}
