// A map and a set of JSON values stored one key per entry under a directory. Entry names are the
// URI-encoded map key (or the canonical JSON of the set member), so '/' in them is safe. Updates
// are compare-and-swap loops; every stored value carries a nonce so a lost reply is recognised.

import { CompareFailedError, KeyNotFoundError, NodeExistsError, OutcomeUnknownError, type Client } from '../src/index.js'
import { guardFor, joinKey, nonce } from './internal.js'

interface Entry<T> { data: T; nonce: string }

function parse<T>(text: string | undefined): Entry<T> | undefined {
  if (text === undefined) return undefined
  try { return JSON.parse(text) as Entry<T> } catch { return undefined }
}

/** JSON with object keys sorted, so equal values give equal set entries. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`
  }
  const s = JSON.stringify(v)
  if (s === undefined) throw new TypeError('value cannot be represented as JSON')
  return s
}

/** A string-keyed map of JSON values. */
export class JsonMap<T = unknown> {
  constructor(readonly client: Client, readonly dir: string) {}

  private keyOf(k: string): string {
    return joinKey(this.dir, encodeURIComponent(k))
  }

  async get(k: string): Promise<T | undefined> {
    try {
      return parse<T>((await guardFor(this.client).get(this.client, this.keyOf(k))).node.value)?.data
    } catch (err) {
      if (err instanceof KeyNotFoundError) return undefined
      throw err
    }
  }

  async has(k: string): Promise<boolean> {
    return (await this.get(k)) !== undefined
  }

  /** Sets (creates or replaces) an entry. */
  async set(k: string, v: T): Promise<void> {
    const text = JSON.stringify({ data: v, nonce: nonce() })
    for (let attempt = 0; ; attempt++) {
      try {
        guardFor(this.client).saw(await this.client.set(this.keyOf(k), text))
        return
      } catch (err) {
        if (!(err instanceof OutcomeUnknownError) || attempt >= 3) throw err
        if (await this.holds(k, text)) return // the lost reply's write landed
      }
    }
  }

  /** True if the entry's stored text is exactly `text` (our nonce makes it unique). */
  private async holds(k: string, text: string): Promise<boolean> {
    const cur = await guardFor(this.client).get(this.client, this.keyOf(k)).catch(() => undefined)
    return cur?.node.value === text
  }

  /** Creates the entry only if absent; false when it already existed. */
  async setIfAbsent(k: string, v: T): Promise<boolean> {
    const text = JSON.stringify({ data: v, nonce: nonce() })
    try {
      guardFor(this.client).saw(await this.client.create(this.keyOf(k), text))
      return true
    } catch (err) {
      if (err instanceof NodeExistsError) return false
      if (err instanceof OutcomeUnknownError) {
        const cur = await guardFor(this.client).get(this.client, this.keyOf(k)).catch(() => undefined)
        if (cur?.node.value === text) return true
        if (cur) return false
      }
      throw err
    }
  }

  /** Atomic read-modify-write; `fn` returning undefined deletes the entry. Returns the new value. */
  async update(k: string, fn: (cur: T | undefined) => T | undefined): Promise<T | undefined> {
    const key = this.keyOf(k)
    const guard = guardFor(this.client)
    for (;;) {
      let cur: { value?: string; index: number } = { index: 0 }
      try {
        const res = await guard.get(this.client, key)
        cur = { value: res.node.value, index: res.node.modifiedIndex }
      } catch (err) {
        if (!(err instanceof KeyNotFoundError)) throw err
      }
      const next = fn(parse<T>(cur.value)?.data)
      let text: string | undefined
      try {
        if (next === undefined) {
          if (cur.index !== 0) guard.saw(await this.client.compareAndDelete(key, { prevIndex: cur.index }))
          return undefined
        }
        text = JSON.stringify({ data: next, nonce: nonce() })
        guard.saw(cur.index === 0 ? await this.client.create(key, text) : await this.client.compareAndSwap(key, text, { prevIndex: cur.index }))
        return next
      } catch (err) {
        if (err instanceof CompareFailedError || err instanceof NodeExistsError || err instanceof KeyNotFoundError) continue
        if (err instanceof OutcomeUnknownError) {
          if (text !== undefined && (await this.holds(k, text))) return next
          continue // not applied (or a delete whose outcome the next round re-reads)
        }
        throw err
      }
    }
  }

  /** Removes an entry; false when it did not exist. */
  async delete(k: string): Promise<boolean> {
    try {
      guardFor(this.client).saw(await this.client.delete(this.keyOf(k)))
      return true
    } catch (err) {
      if (err instanceof KeyNotFoundError) return false
      throw err
    }
  }

  /** All entries, sorted by key. */
  async entries(): Promise<[string, T][]> {
    try {
      const res = await guardFor(this.client).get(this.client, this.dir, { sorted: true })
      return (res.node.nodes ?? []).filter((n) => !n.dir).map((n) => [
        decodeURIComponent(n.key.slice(n.key.lastIndexOf('/') + 1)), parse<T>(n.value)?.data as T,
      ])
    } catch (err) {
      if (err instanceof KeyNotFoundError) return []
      throw err
    }
  }
}

/** A set of JSON values (members compared by canonical JSON). */
export class JsonSet<T = unknown> {
  private readonly map: JsonMap<T>

  constructor(readonly client: Client, readonly dir: string) {
    this.map = new JsonMap<T>(client, dir)
  }

  /** Adds a member; false when it was already there. */
  add(v: T): Promise<boolean> {
    return this.map.setIfAbsent(canonicalJson(v), v)
  }

  has(v: T): Promise<boolean> {
    return this.map.has(canonicalJson(v))
  }

  /** Removes a member; false when it was not there. */
  delete(v: T): Promise<boolean> {
    return this.map.delete(canonicalJson(v))
  }

  async values(): Promise<T[]> {
    return (await this.map.entries()).map(([, v]) => v)
  }
}
