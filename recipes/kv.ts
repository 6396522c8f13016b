// The versioned-register view of a key that the data recipes (counter, fenced resource, map, set)
// are written against, on either API: read a key with its version, write it only if the version
// is unchanged (v2: prevIndex / prevExist=false; v3: a txn comparing mod_revision), delete it the
// same way, list a directory's entries. One compare-and-swap loop per recipe then serves both APIs.

import {
  CompareFailedError, KeyNotFoundError, NodeExistsError, type Client, type ClientV3, type KeyValue,
} from '../src/index.js'
import { isV3, revNumber, type AnyClient } from './api.js'
import { guardFor } from './internal.js'

/** A key's value and version (v2 modifiedIndex, v3 mod revision). */
export interface Versioned {
  value: string
  version: number
}

/** One entry of a directory listing. */
export interface KvEntry extends Versioned {
  key: string
  /** createdIndex / create revision. */
  created: number
}

export interface RecipeKv {
  /** Linearizable read; undefined when the key does not exist. */
  read(key: string, signal?: AbortSignal): Promise<Versioned | undefined>
  /**
   * Writes `value` if the key's version is still `version` (0: only if absent). false when it
   * changed meanwhile. @throws OutcomeUnknownError when the answer was lost (settle by reading).
   */
  swap(key: string, value: string, version: number, signal?: AbortSignal): Promise<boolean>
  /** Deletes the key if its version is still `version`; false if it changed or is gone. */
  removeIf(key: string, version: number, signal?: AbortSignal): Promise<boolean>
  /** Unconditional write. */
  put(key: string, value: string, signal?: AbortSignal): Promise<void>
  /** Unconditional delete; true if the key existed. */
  remove(key: string, signal?: AbortSignal): Promise<boolean>
  /** The entries under `dir` (its files on v2, every key under `dir/` on v3), sorted by key. */
  list(dir: string, signal?: AbortSignal): Promise<KvEntry[]>
}

const kvs = new WeakMap<AnyClient, RecipeKv>()

/** The versioned-register view of a client (one per client). */
export function kvFor(client: AnyClient): RecipeKv {
  let kv = kvs.get(client)
  if (!kv) kvs.set(client, (kv = isV3(client) ? new V3Kv(client) : new V2Kv(client)))
  return kv
}

class V2Kv implements RecipeKv {
  constructor(private readonly client: Client) {}

  async read(key: string, signal?: AbortSignal): Promise<Versioned | undefined> {
    try {
      const res = await guardFor(this.client).get(this.client, key, { signal })
      return { value: res.node.value ?? '', version: res.node.modifiedIndex }
    } catch (err) {
      if (err instanceof KeyNotFoundError) return undefined
      throw err
    }
  }

  async swap(key: string, value: string, version: number, signal?: AbortSignal): Promise<boolean> {
    try {
      const res = version === 0
        ? await this.client.create(key, value, { signal })
        : await this.client.compareAndSwap(key, value, { prevIndex: version, signal })
      guardFor(this.client).saw(res)
      return true
    } catch (err) {
      if (err instanceof CompareFailedError || err instanceof NodeExistsError || err instanceof KeyNotFoundError) return false
      throw err
    }
  }

  async removeIf(key: string, version: number, signal?: AbortSignal): Promise<boolean> {
    try {
      guardFor(this.client).saw(await this.client.compareAndDelete(key, { prevIndex: version, signal }))
      return true
    } catch (err) {
      if (err instanceof CompareFailedError || err instanceof KeyNotFoundError) return false
      throw err
    }
  }

  async put(key: string, value: string, signal?: AbortSignal): Promise<void> {
    guardFor(this.client).saw(await this.client.set(key, value, { signal }))
  }

  async remove(key: string, signal?: AbortSignal): Promise<boolean> {
    try {
      guardFor(this.client).saw(await this.client.delete(key, { signal }))
      return true
    } catch (err) {
      if (err instanceof KeyNotFoundError) return false
      throw err
    }
  }

  async list(dir: string, signal?: AbortSignal): Promise<KvEntry[]> {
    try {
      const res = await guardFor(this.client).get(this.client, dir, { sorted: true, signal })
      return (res.node.nodes ?? []).filter((n) => !n.dir)
        .map((n) => ({ key: n.key, value: n.value ?? '', version: n.modifiedIndex, created: n.createdIndex }))
    } catch (err) {
      if (err instanceof KeyNotFoundError) return []
      throw err
    }
  }
}

class V3Kv implements RecipeKv {
  constructor(private readonly client: ClientV3) {}

  async read(key: string, signal?: AbortSignal): Promise<Versioned | undefined> {
    const kv = await this.client.get(key, { signal })
    return kv && { value: kv.valueString, version: revNumber(kv.modRevision) }
  }

  async swap(key: string, value: string, version: number, signal?: AbortSignal): Promise<boolean> {
    // A missing key has mod revision 0, so one compare covers "absent" and "unchanged".
    const res = await this.client.txn({ compare: [{ key, target: 'mod', op: '==', modRevision: version }], success: [{ put: { key, value } }] }, { signal })
    return res.succeeded
  }

  async removeIf(key: string, version: number, signal?: AbortSignal): Promise<boolean> {
    const res = await this.client.txn({
      compare: [{ key, target: 'mod', op: '==', modRevision: version }, { key, target: 'create', op: '>', createRevision: 0 }],
      success: [{ delete: { key } }],
    }, { signal })
    return res.succeeded
  }

  async put(key: string, value: string, signal?: AbortSignal): Promise<void> {
    await this.client.put(key, value, { signal })
  }

  async remove(key: string, signal?: AbortSignal): Promise<boolean> {
    return (await this.client.delete(key, { signal })).deleted > 0
  }

  async list(dir: string, signal?: AbortSignal): Promise<KvEntry[]> {
    const kvs = await this.client.getPrefix(dir.replace(/\/+$/, '') + '/', { signal, sortOrder: 'ascend', sortTarget: 'key' })
    return kvs.map((kv: KeyValue) => ({ key: kv.keyString, value: kv.valueString, version: revNumber(kv.modRevision), created: revNumber(kv.createRevision) }))
  }
}
