// A map and a set of JSON values stored one key per entry under a directory (v2) / prefix (v3). Entry names are the
// URI-encoded map key (or the canonical JSON of the set member), so '/' in them is safe. Updates
// are compare-and-swap loops; every stored value carries a nonce so a lost reply is recognised.

import { OutcomeUnknownError } from '../src/index.js'
import type { AnyClient } from './api.js'
import { kvFor } from './kv.js'
import { joinKey, nonce } from './internal.js'

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

/** A string-keyed map of JSON values, one key per entry (on either API). */
export class JsonMap<T = unknown> {
  constructor(readonly client: AnyClient, readonly dir: string) {}

  private keyOf(k: string): string {
    return joinKey(this.dir, encodeURIComponent(k))
  }

  async get(k: string): Promise<T | undefined> {
    return parse<T>((await kvFor(this.client).read(this.keyOf(k)))?.value)?.data
  }

  async has(k: string): Promise<boolean> {
    return (await this.get(k)) !== undefined
  }

  /** Sets (creates or replaces) an entry. */
  async set(k: string, v: T): Promise<void> {
    const text = JSON.stringify({ data: v, nonce: nonce() })
    for (let attempt = 0; ; attempt++) {
      try {
        await kvFor(this.client).put(this.keyOf(k), text)
        return
      } catch (err) {
        if (!(err instanceof OutcomeUnknownError) || attempt >= 3) throw err
        if (await this.holds(k, text)) return // the lost reply's write landed
      }
    }
  }

  /** True if the entry's stored text is exactly `text` (our nonce makes it unique). */
  private async holds(k: string, text: string): Promise<boolean> {
    return (await kvFor(this.client).read(this.keyOf(k)).catch(() => undefined))?.value === text
  }

  /** Creates the entry only if absent; false when it already existed. */
  async setIfAbsent(k: string, v: T): Promise<boolean> {
    const text = JSON.stringify({ data: v, nonce: nonce() })
    try {
      return await kvFor(this.client).swap(this.keyOf(k), text, 0)
    } catch (err) {
      if (err instanceof OutcomeUnknownError) {
        const cur = await kvFor(this.client).read(this.keyOf(k)).catch(() => undefined)
        if (cur?.value === text) return true
        if (cur) return false
      }
      throw err
    }
  }

  /** Atomic read-modify-write; `fn` returning undefined deletes the entry. Returns the new value. */
  async update(k: string, fn: (cur: T | undefined) => T | undefined): Promise<T | undefined> {
    const key = this.keyOf(k)
    const kv = kvFor(this.client)
    for (;;) {
      const cur = await kv.read(key)
      const next = fn(parse<T>(cur?.value)?.data)
      let text: string | undefined
      try {
        if (next === undefined) {
          if (!cur || (await kv.removeIf(key, cur.version))) return undefined
          continue
        }
        text = JSON.stringify({ data: next, nonce: nonce() })
        if (await kv.swap(key, text, cur?.version ?? 0)) return next
      } catch (err) {
        if (!(err instanceof OutcomeUnknownError)) throw err
        if (text !== undefined && (await this.holds(k, text))) return next
        // not applied (or a delete whose outcome the next round re-reads)
      }
    }
  }

  /** Removes an entry; false when it did not exist. */
  async delete(k: string): Promise<boolean> {
    return kvFor(this.client).remove(this.keyOf(k))
  }

  /** All entries, sorted by key. */
  async entries(): Promise<[string, T][]> {
    const dir = joinKey(this.dir)
    return (await kvFor(this.client).list(dir))
      .filter((e) => !e.key.slice(dir.length + 1).includes('/'))
      .map((e) => [decodeURIComponent(e.key.slice(e.key.lastIndexOf('/') + 1)), parse<T>(e.value)?.data as T])
  }
}

/** A set of JSON values (members compared by canonical JSON). */
export class JsonSet<T = unknown> {
  private readonly map: JsonMap<T>

  constructor(readonly client: AnyClient, readonly dir: string) {
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
