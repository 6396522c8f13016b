// A list of typed values on either API, Redis-style: push and pop at both ends, blocking pop,
// index and range reads, length, trim, and an atomic move of one element between two lists.
//
// Layout: every element is its own key, in one of two sub-directories of the list:
//   <dir>/left/   elements pushed on the left; the newest is the leftmost
//   <dir>/right/  elements pushed on the right; the newest is the rightmost
// The list is reverse(left by creation) ++ (right by creation), ordered by v2 createdIndex / v3
// create revision. A push creates a new key (v2 POST in-order key; v3 put-if-absent of a fresh
// name), so no push overwrites another: nothing is lost. A pop deletes the end element only if it
// is unchanged (v2 compareAndDelete prevIndex; v3 txn on its mod revision): of several poppers
// exactly one wins each element, so nothing is duplicated. Losers re-read and take the next one.
//
// Move (LMOVE): on v3 one txn deletes the source element and creates the destination element,
// both or neither. v2 has no multi-key transaction, so a move is a protocol whose commit point is
// one compare-and-swap (see V2 moves below). A lost reply to the deciding write of a pop or move
// that cannot be settled by reading back surfaces as OutcomeUnknownError; it is never guessed.

import { CompareFailedError, KeyNotFoundError, OutcomeUnknownError, type Client } from '../src/index.js'
import { isV3, type AnyClient } from './api.js'
import { kvFor } from './kv.js'
import { canonicalJson } from './collections.js'
import { type Codec, type Envelope, decodeEnvelope, encodeValue, readEnvelope, types } from './codec.js'
import { nextChange, snapshot, type SnapEntry } from './snapshot.js'
import { RecipeError, abortReason, combineSignals, guardFor, joinKey, nonce } from './internal.js'

/** Which end of a list. */
export type End = 'left' | 'right'

/** Options of the blocking calls. */
export interface BlockingOptions {
  /** Give up after this many ms (RecipeTimeoutError). */
  timeout?: number
  /** Cancel (RecipeAbortError, or the signal's reason). */
  signal?: AbortSignal
}

/** v2 move marks stored in the envelope's extra fields. */
interface MoveMark {
  /** The move's id. */
  id: string
  /** The other element's key (source: the destination element; destination: the source one). */
  peer: string
  /** On the destination element: the source's version the commit compares against. */
  ver?: number
}

interface Elem extends SnapEntry {
  side: End
  env: Envelope
}

/** A read of the list: its visible elements left to right, and the index it was taken at. */
interface View {
  elems: Elem[]
  index: number
  /** v2: an element whose visibility depends on a move another process has not finished. */
  unsettled: boolean
}

/**
 * ```ts
 * const jobs = new List(client, '/lists/jobs', types.json<Job>())   // v2 Client or ClientV3
 * await jobs.pushRight({ id: 1 })
 * const job = await jobs.blockingPop('left', { timeout: 5000 })
 * ```
 */
export class List<T> {
  readonly dir: string

  constructor(readonly client: AnyClient, dir: string, readonly codec: Codec<T> = types.json() as Codec<T>) {
    this.dir = joinKey(dir)
  }

  /** Pushes values at the left end, one after the other (so the last one ends leftmost). */
  async pushLeft(...values: T[]): Promise<void> {
    for (const v of values) await this.push('left', v)
  }

  /** Pushes values at the right end, one after the other. */
  async pushRight(...values: T[]): Promise<void> {
    for (const v of values) await this.push('right', v)
  }

  /** Pushes one value at `end`. One round trip. */
  async push(end: End, value: T, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const text = encodeValue(this.codec, value)
    await this.create(end, text, opts.signal)
  }

  /** Removes and returns the element at `end`; undefined when the list is empty. */
  async pop(end: End, opts: { signal?: AbortSignal } = {}): Promise<T | undefined> {
    return (await this.popOnce(end, opts.signal)).value
  }

  popLeft(opts: { signal?: AbortSignal } = {}): Promise<T | undefined> {
    return this.pop('left', opts)
  }

  popRight(opts: { signal?: AbortSignal } = {}): Promise<T | undefined> {
    return this.pop('right', opts)
  }

  /**
   * Waits until an element can be popped at `end` (BLPOP/BRPOP), then pops it.
   * @throws RecipeTimeoutError after `timeout` ms; RecipeAbortError when `signal` aborts.
   */
  async blockingPop(end: End, opts: BlockingOptions = {}): Promise<T> {
    return this.waitFor((signal) => this.popOnce(end, signal), opts)
  }

  /** The element at `index` (negative: from the right); undefined when out of range. */
  async at(index: number): Promise<T | undefined> {
    const { elems } = await this.view()
    const e = elems[index < 0 ? elems.length + index : index]
    return e && this.decode(e)
  }

  /** Elements `start`..`stop` inclusive, negative counting from the right (LRANGE). */
  async range(start = 0, stop = -1): Promise<T[]> {
    const { elems } = await this.view()
    const [a, b] = bounds(elems.length, start, stop)
    return elems.slice(a, b + 1).map((e) => this.decode(e))
  }

  /** Number of elements. */
  async length(): Promise<number> {
    return (await this.view()).elems.length
  }

  /**
   * Keeps only elements `start`..`stop` inclusive (LTRIM); returns how many were removed. Each
   * removal is its own compare-and-delete: not atomic as a whole (elements pushed meanwhile stay).
   */
  async trim(start: number, stop: number): Promise<number> {
    const { elems } = await this.view()
    const [a, b] = bounds(elems.length, start, stop)
    let removed = 0
    for (let i = 0; i < elems.length; i++) {
      if (i >= a && i <= b) continue
      if (await kvFor(this.client).removeIf(elems[i]!.key, elems[i]!.version).catch(() => false)) removed++
    }
    return removed
  }

  /**
   * Removes up to `count` elements equal to `value` (LREM; compared by their canonical JSON),
   * scanning from the left (count > 0), from the right (count < 0) or all of them (count 0).
   * Each removal is a compare-and-delete of one element. Returns how many were removed.
   */
  async remove(value: T, count = 1): Promise<number> {
    const want = canonicalJson(this.codec.toJson(value))
    const { elems } = await this.view()
    const order = count < 0 ? [...elems].reverse() : elems
    let removed = 0
    for (const e of order) {
      if (count !== 0 && removed >= Math.abs(count)) break
      if (canonicalJson(e.env.v) !== want || e.env.t !== this.codec.type) continue
      if (await kvFor(this.client).removeIf(e.key, e.version)) {
        removed++
        if (!isV3(this.client) && e.env.from) await this.v2Cleanup(this.client, e)
      }
    }
    return removed
  }

  /** Removes every element (not atomic with concurrent pushes). */
  async clear(): Promise<void> {
    const client = this.client
    if (isV3(client)) {
      await client.delete(this.dir + '/', { prefix: true })
      return
    }
    try {
      guardFor(client).saw(await client.rmdir(this.dir, { recursive: true }))
    } catch (err) {
      if (!(err instanceof KeyNotFoundError)) throw err
    }
  }

  /**
   * Moves the element at `from` of this list to the `to` end of `dst` (LMOVE), atomically: at
   * every moment the element is in exactly one of the lists. Returns it; undefined when empty.
   */
  async move(dst: List<T>, from: End, to: End, opts: { signal?: AbortSignal } = {}): Promise<T | undefined> {
    return (await this.moveOnce(dst, from, to, opts.signal)).value
  }

  /** move() that waits for an element (BLMOVE). @throws RecipeTimeoutError / RecipeAbortError. */
  async blockingMove(dst: List<T>, from: End, to: End, opts: BlockingOptions = {}): Promise<T> {
    return this.waitFor((signal) => this.moveOnce(dst, from, to, signal), opts)
  }

  // ---- internals -------------------------------------------------------------------------------

  private decode(e: Elem): T {
    return decodeEnvelope(this.codec, e.env, e.key)
  }

  private sideDir(end: End): string {
    return `${this.dir}/${end}`
  }

  /** Tries `once` until it yields a value, waiting for changes of the list in between. */
  private async waitFor(once: (signal: AbortSignal) => Promise<{ value?: T; index: number; unsettled?: boolean }>, opts: BlockingOptions): Promise<T> {
    const { signal, dispose } = combineSignals([opts.signal], opts.timeout)
    try {
      for (;;) {
        const r = await once(signal)
        if (r.value !== undefined) return r.value
        // An unsettled v2 move is committed by a change in the other list: look again soon too.
        const round = combineSignals([signal], r.unsettled ? 500 : undefined)
        try {
          await nextChange(this.client, { dirs: [this.dir] }, r.index, round.signal, (c) => c.kind !== 'delete')
        } catch (err) {
          if (signal.aborted || !round.signal.aborted) throw err
          // the 500 ms re-check: fall through and read again
        } finally {
          round.dispose()
        }
      }
    } catch (err) {
      if (signal.aborted) throw abortReason(signal)
      throw err
    } finally {
      dispose()
    }
  }

  /** Creates a new element key holding `text`; returns its key. */
  private async create(end: End, text: string, signal?: AbortSignal): Promise<string> {
    const client = this.client
    if (isV3(client)) {
      const key = `${this.sideDir(end)}/${nonce()}`
      try {
        const res = await client.txn({ compare: [{ key, target: 'create', op: '==', createRevision: 0 }], success: [{ put: { key, value: text } }] }, { signal })
        if (!res.succeeded) throw new RecipeError(`list element ${key} already exists`)
        return key
      } catch (err) {
        if (!(err instanceof OutcomeUnknownError)) throw err
        // Present: it landed. Absent: it never landed, or landed and was popped already; a retry
        // could then duplicate it, so the caller is told.
        if ((await kvFor(client).read(key, signal))?.value === text) return key
        throw err
      }
    }
    try {
      return guardFor(client).saw(await client.post(this.sideDir(end), text, { signal })).node.key
    } catch (err) {
      if (!(err instanceof OutcomeUnknownError)) throw err
      const found = (await snapshot(client, this.sideDir(end), signal)).entries.find((e) => e.value === text)
      if (found) return found.key
      throw err
    }
  }

  /** The list as one read (v2: plus reads settling elements of unfinished moves). */
  private async view(signal?: AbortSignal): Promise<View> {
    for (let attempt = 0; ; attempt++) {
      const v = await this.viewOnce(signal)
      if (v) return v
      if (attempt >= 20) throw new RecipeError(`list ${this.dir} kept changing while it was read`)
    }
  }

  /** One read of the list; undefined when a v2 element changed while it was being settled. */
  private async viewOnce(signal?: AbortSignal): Promise<View | undefined> {
    const snap = await snapshot(this.client, this.dir, signal)
    const left: Elem[] = []
    const right: Elem[] = []
    let unsettled = false
    for (const e of snap.entries) {
      const rest = e.key.slice(this.dir.length + 1)
      const side = rest.startsWith('left/') ? 'left' : rest.startsWith('right/') ? 'right' : undefined
      const env = readEnvelope(e.value)
      if (!side || !env) continue
      const elem: Elem = { ...e, side, env }
      if (!isV3(this.client)) {
        const state = await this.v2State(this.client, elem, signal)
        if (state === 'changed') return undefined
        if (state === 'hidden') continue
        if (state === 'unsettled') { unsettled = true; continue }
      }
      ;(side === 'left' ? left : right).push(elem)
    }
    left.sort((a, b) => b.created - a.created)
    right.sort((a, b) => a.created - b.created)
    return { elems: [...left, ...right], index: snap.index, unsettled }
  }

  private async popOnce(end: End, signal?: AbortSignal): Promise<{ value?: T; index: number; unsettled?: boolean }> {
    const kv = kvFor(this.client)
    for (;;) {
      const v = await this.view(signal)
      const e = end === 'left' ? v.elems[0] : v.elems[v.elems.length - 1]
      if (!e) return { index: v.index, unsettled: v.unsettled }
      const value = this.decode(e)
      try {
        if (await kv.removeIf(e.key, e.version, signal)) {
          if (!isV3(this.client) && e.env.from) await this.v2Cleanup(this.client, e)
          return { value, index: v.index }
        }
      } catch (err) {
        if (!(err instanceof OutcomeUnknownError)) throw err
        // Still there unchanged: the delete did not land, try again. Gone: it may be ours or
        // another popper's; returning it could duplicate it and dropping it could lose it.
        if ((await kv.read(e.key, signal))?.version !== e.version) throw err
      }
    }
  }

  private async moveOnce(dst: List<T>, from: End, to: End, signal?: AbortSignal): Promise<{ value?: T; index: number; unsettled?: boolean }> {
    const client = this.client
    for (;;) {
      const v = await this.view(signal)
      const e = from === 'left' ? v.elems[0] : v.elems[v.elems.length - 1]
      if (!e) return { index: v.index, unsettled: v.unsettled }
      const value = this.decode(e)
      const text = encodeValue(dst.codec, value)
      if (isV3(client)) {
        const key = `${dst.sideDir(to)}/${nonce()}`
        try {
          const res = await client.txn({
            compare: [{ key: e.key, target: 'mod', op: '==', modRevision: e.version }, { key, target: 'create', op: '==', createRevision: 0 }],
            success: [{ delete: { key: e.key } }, { put: { key, value: text } }],
          }, { signal })
          if (res.succeeded) return { value, index: v.index }
        } catch (err) {
          if (!(err instanceof OutcomeUnknownError)) throw err
          const kv = kvFor(client)
          if ((await kv.read(key, signal))?.value === text) return { value, index: v.index }
          if ((await kv.read(e.key, signal))?.version !== e.version) throw err
        }
        continue
      }
      const done = await this.v2Move(client, e, dst, to, signal)
      if (done) return { value, index: v.index }
    }
  }

  // ---- v2 moves ----------------------------------------------------------------------------------
  //
  // Moving element S of this list to list D on v2, with no transactions:
  //   1. create the destination element P in D holding the value, marked `from: {id, peer: S}`
  //      (pending: invisible while S is not marked with the same id);
  //   2. commit: compare-and-swap S (prevIndex as listed) to the same value marked
  //      `to: {id, peer: P}`. From that single write on, S is invisible and P visible. If S changed
  //      (popped, moved), the CAS fails, P is deleted, and the move retries;
  //   3. finish: drop P's mark (CAS), then delete S (compare-and-delete). Anyone reading the list
  //      who meets a marked S finishes the move the same way, so a crashed mover leaves nothing
  //      stuck. P loses its mark before S goes, so "P pending and S gone" only ever means the move
  //      never committed: such a P is garbage and is deleted.
  // Readers decide visibility from S, one key: the element is in exactly one list at any time.

  /**
   * How a v2 element reads: visible; hidden (moved away, or the leftover of a move that can no
   * longer commit, which is then deleted); unsettled (its move may still commit); or changed
   * while we looked (read the list again).
   */
  private async v2State(client: Client, e: Elem, signal?: AbortSignal): Promise<'visible' | 'hidden' | 'unsettled' | 'changed'> {
    const kv = kvFor(client)
    const to = e.env.to as MoveMark | undefined
    if (to) {
      // Committed move away from here: finish it (idempotent) and do not show it.
      await this.v2Finish(client, e, signal).catch(() => {})
      return 'hidden'
    }
    const from = e.env.from as MoveMark | undefined
    if (!from) return 'visible'
    const src = await kv.read(from.peer, signal)
    if (src && (readEnvelope(src.value)?.to as MoveMark | undefined)?.id === from.id) return 'visible'
    // The commit is a CAS on the source at the version listed when this element was made.
    if (src && src.version === from.ver) return 'unsettled'
    // Source gone or changed without our mark: the move can no longer commit, unless it committed
    // and was finished meanwhile (the mark here is dropped before the source goes): look again.
    const again = await kv.read(e.key, signal)
    if (!again) return 'hidden'
    if (again.version !== e.version) return 'changed'
    await kv.removeIf(e.key, e.version, signal).catch(() => false)
    return 'hidden'
  }

  /** Finishes a committed move whose source element `s` (marked `to`) is still there. */
  private async v2Finish(client: Client, s: Elem, signal?: AbortSignal): Promise<void> {
    const mark = s.env.to as MoveMark
    const kv = kvFor(client)
    const p = await kv.read(mark.peer, signal)
    const pEnv = readEnvelope(p?.value)
    if (p && pEnv && (pEnv.from as MoveMark | undefined)?.id === mark.id) {
      const { from: _drop, ...plain } = pEnv
      await kv.swap(mark.peer, JSON.stringify(plain), p.version, signal)
    }
    await kv.removeIf(s.key, s.version, signal)
  }

  /** After popping a visible pending element: delete its (marked) source. */
  private async v2Cleanup(client: Client, p: Elem): Promise<void> {
    const mark = p.env.from as MoveMark
    const s = await kvFor(client).read(mark.peer).catch(() => undefined)
    if (s && (readEnvelope(s.value)?.to as MoveMark | undefined)?.id === mark.id) await kvFor(client).removeIf(mark.peer, s.version).catch(() => false)
  }

  /** One attempt of the v2 move protocol; false when S changed under us (retry). */
  private async v2Move(client: Client, s: Elem, dst: List<T>, to: End, signal?: AbortSignal): Promise<boolean> {
    const id = nonce()
    const kv = kvFor(client)
    const value = decodeEnvelope(this.codec, s.env, s.key)
    // 1. pending destination element (safe to repeat: invisible until step 2).
    const pText = encodeValue(dst.codec, value, { from: { id, peer: s.key, ver: s.version } satisfies MoveMark })
    let pKey: string
    try {
      pKey = guardFor(client).saw(await client.post(dst.sideDir(to), pText, { signal })).node.key
    } catch (err) {
      if (!(err instanceof OutcomeUnknownError)) throw err
      const found = (await snapshot(client, dst.sideDir(to), signal)).entries.find((x) => x.value === pText)
      if (!found) return false
      pKey = found.key
    }
    // 2. commit.
    const { from: _f, to: _t, ...plain } = s.env
    const sText = JSON.stringify({ ...plain, to: { id, peer: pKey } satisfies MoveMark })
    let committed: boolean
    try {
      committed = await kv.swap(s.key, sText, s.version, signal)
    } catch (err) {
      if (!(err instanceof OutcomeUnknownError)) throw err
      const now = await kv.read(s.key, signal)
      if (now?.value === sText) committed = true
      else if (now) committed = false
      else {
        // S is gone: committed and already finished by a reader (then P is no longer pending), or
        // popped before our CAS (then P is still pending). P gone too: cannot tell.
        const p = await kv.read(pKey, signal)
        if (!p) throw err
        committed = !readEnvelope(p.value)?.from
        if (!committed) await kv.removeIf(pKey, p.version, signal).catch(() => false)
        return committed
      }
    }
    if (!committed) {
      await removeExact(client, pKey)
      return false
    }
    // 3. finish (a reader completes it if we stop here).
    const sNow = await kv.read(s.key, signal).catch(() => undefined)
    if (sNow?.value === sText) {
      await this.v2Finish(client, { ...s, version: sNow.version, value: sText, env: readEnvelope(sText)! }, signal).catch(() => {})
    }
    return true
  }
}

/** Deletes a key we created and nobody else could have changed (an uncommitted pending element). */
async function removeExact(client: Client, key: string): Promise<void> {
  try {
    guardFor(client).saw(await client.delete(key))
  } catch (err) {
    if (!(err instanceof KeyNotFoundError) && !(err instanceof CompareFailedError)) throw err
  }
}

/** Redis LRANGE/LTRIM index bounds as [first, last] inclusive (first > last: empty). */
function bounds(len: number, start: number, stop: number): [number, number] {
  if (!Number.isInteger(start) || !Number.isInteger(stop)) throw new RecipeError('list indexes must be integers')
  const a = Math.max(0, start < 0 ? len + start : start)
  const b = Math.min(len - 1, stop < 0 ? len + stop : stop)
  return [a, b]
}
