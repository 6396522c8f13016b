// `--force-new-cluster` (CLI-3): restart a member from its data dir as a one-member cluster that
// keeps the data. Before Raft starts, the recovered log is extended with ConfChange 'remove'
// entries for every other voter (and an 'add' of this member if it was not a voter), written to the
// WAL at the current term together with a hard state that commits the whole log. The normal restart
// path then replays those entries: Raft and the membership table both end up with only this member,
// and it elects itself. Uses only the WAL's ordinary append, so recovery needs no special case.
// Must not: run on a fresh data dir, touch the snapshot files, or change the member or cluster id.

import { decodeConfChange, encodeConfChange } from '../raft/raft.js'
import { EntryType, NONE, type Entry, type NodeId } from '../raft/types.js'
import type { DurableStorage } from '../wal/storage.js'

export interface ForceNewClusterResult {
  /** The storage to start Raft from (reopened when the log was changed). */
  durable: DurableStorage
  /** Voters removed by the forced change (empty when this already was a one-member cluster). */
  removed: NodeId[]
  /** Index of the last forced entry (0 when nothing was written). */
  lastIndex: number
}

/**
 * Rewrites the recovered log of `durable` so that it ends with this member as the only voter, and
 * commits everything in it (etcd discards the uncommitted tail instead; keeping it loses nothing
 * that another member may have committed, and none of it was ever acknowledged as failed).
 * `reopen` opens the same data dir again after the WAL was written and closed.
 */
export async function forceNewCluster(
  durable: DurableStorage,
  self: { id: NodeId; name: string; peerURLs: string[] },
  reopen: () => DurableStorage,
): Promise<ForceNewClusterResult> {
  const boot = durable.boot
  const snap = boot.snapshot?.metadata
  const voters = new Set<NodeId>(snap?.conf.voters ?? [])
  for (const e of boot.entries) {
    if (e.type !== EntryType.ConfChange) continue
    const cc = decodeConfChange(e.data)
    if (cc.type === 'add') voters.add(cc.id)
    else if (cc.type === 'remove') voters.delete(cc.id)
  }
  const others = [...voters].filter((id) => id !== self.id).sort()
  const changes: { type: 'add' | 'remove'; id: NodeId; context?: string }[] = others.map((id) => ({ type: 'remove', id }))
  if (!voters.has(self.id)) {
    changes.push({ type: 'add', id: self.id, context: JSON.stringify({ name: self.name, peerURLs: self.peerURLs }) })
  }
  if (changes.length === 0) return { durable, removed: [], lastIndex: 0 }

  const last = boot.entries.length > 0 ? boot.entries[boot.entries.length - 1]! : undefined
  const lastIndex0 = last?.index ?? snap?.index ?? 0
  // Never below a term already in the log (entries' terms must not decrease).
  const term = Math.max(boot.hardState?.term ?? 0, last?.term ?? 0, snap?.term ?? 0, 1)
  const ents: Entry[] = changes.map((cc, i) => ({
    term,
    index: lastIndex0 + 1 + i,
    type: EntryType.ConfChange,
    data: encodeConfChange(cc),
  }))
  const lastIndex = ents[ents.length - 1]!.index
  await durable.wal.saveAndSync({ term, vote: boot.hardState?.vote ?? NONE, commit: lastIndex }, ents)
  await durable.close()
  return { durable: reopen(), removed: others, lastIndex }
}
