// Two building blocks of the data-structure recipes, on either API: a consistent recursive read of
// a directory (v2: one recursive quorum GET; v3: one range over the prefix, at one revision) that
// also returns the index/revision it was taken at, and "wait for the next change after that index"
// (a v2 recursive watch from index+1; a v3 prefix watch from revision+1), so nothing between the
// read and the wait is missed.

import { KeyNotFoundError, type Node } from '../src/index.js'
import { isV3, revNumber, type AnyClient } from './api.js'
import { abortReason, guardFor, joinKey } from './internal.js'

/** One key of a snapshot. */
export interface SnapEntry {
  key: string
  value: string
  /** modifiedIndex / mod revision. */
  version: number
  /** createdIndex / create revision. */
  created: number
}

export interface Snapshot {
  /** Every key below the directory (files only on v2), in key order. */
  entries: SnapEntry[]
  /** The index (v2 etcdIndex) / revision (v3) the snapshot was taken at. */
  index: number
}

function flatten(node: Node | undefined, out: SnapEntry[]): void {
  for (const n of node?.nodes ?? []) {
    if (n.dir) flatten(n, out)
    else out.push({ key: n.key, value: n.value ?? '', version: n.modifiedIndex, created: n.createdIndex })
  }
}

/** Everything below `dir` in one consistent read. */
export async function snapshot(client: AnyClient, dir: string, signal?: AbortSignal): Promise<Snapshot> {
  const base = joinKey(dir)
  if (isV3(client)) {
    const res = await client.range(base + '/', { prefix: true, sortOrder: 'ascend', sortTarget: 'key', signal })
    return {
      entries: res.kvs.map((kv) => ({ key: kv.keyString, value: kv.valueString, version: revNumber(kv.modRevision), created: revNumber(kv.createRevision) })),
      index: revNumber(res.header.revision),
    }
  }
  try {
    const res = await guardFor(client).get(client, base, { recursive: true, sorted: true, signal })
    const entries: SnapEntry[] = []
    flatten(res.node, entries)
    entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    return { entries, index: res.etcdIndex }
  } catch (err) {
    if (err instanceof KeyNotFoundError) return { entries: [], index: err.index }
    throw err
  }
}

/** A change seen while waiting: `create` is a key that did not exist before. */
export interface Change {
  key: string
  kind: 'create' | 'update' | 'delete' | 'resync'
  index: number
}

/**
 * Resolves with the first change below any of `dirs` (or of the exact `keys`) after `after` that
 * `pred` accepts. A resync (history compacted) always counts as a change.
 * @throws the signal's reason when it aborts first.
 */
export async function nextChange(
  client: AnyClient,
  where: { dirs?: string[]; keys?: string[] },
  after: number,
  signal?: AbortSignal,
  pred: (c: Change) => boolean = () => true,
): Promise<Change> {
  const ctl = new AbortController()
  const onAbort = (): void => ctl.abort()
  signal?.addEventListener('abort', onAbort, { once: true })
  if (signal?.aborted) throw abortReason(signal)
  const targets = [...(where.dirs ?? []).map((k) => ({ key: joinKey(k), prefix: true })), ...(where.keys ?? []).map((k) => ({ key: k, prefix: false }))]
  try {
    return await Promise.race(targets.map((t) => watchOne(client, t.key, t.prefix, after, ctl.signal, pred)))
  } catch (err) {
    if (signal?.aborted) throw abortReason(signal)
    throw err
  } finally {
    signal?.removeEventListener('abort', onAbort)
    ctl.abort()
  }
}

async function watchOne(client: AnyClient, key: string, prefix: boolean, after: number, signal: AbortSignal, pred: (c: Change) => boolean): Promise<Change> {
  if (isV3(client)) {
    const w = client.watch(prefix ? key + '/' : key, { prefix, startRevision: BigInt(after + 1), signal })
    try {
      for await (const ev of w) {
        if (ev.type === 'progress') continue
        const c: Change = ev.type === 'resync'
          ? { key, kind: 'resync', index: revNumber(ev.revision) }
          : { key: ev.kv.keyString, kind: ev.type === 'delete' ? 'delete' : ev.kv.version === 1 ? 'create' : 'update', index: revNumber(ev.revision) }
        if (c.kind === 'resync' || pred(c)) return c
      }
    } finally {
      w.close()
    }
  } else {
    const w = client.watch(key, { recursive: prefix, waitIndex: after + 1, signal })
    try {
      for await (const ev of w) {
        if (ev.type === 'resync') return { key, kind: 'resync', index: ev.etcdIndex }
        const a = ev.action
        const kind = a === 'delete' || a === 'compareAndDelete' || a === 'expire' ? 'delete' : a === 'create' || !ev.prevNode ? 'create' : 'update'
        const c: Change = { key: ev.node.key, kind, index: ev.index }
        if (pred(c)) return c
      }
    } finally {
      w.close()
    }
  }
  throw abortReason(signal)
}
