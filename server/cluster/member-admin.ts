// Membership administration (MEM-4..6): which add, remove and update requests the cluster takes,
// decided on the applied membership table before anything is proposed. Throws the cluster's
// domain errors (errors.ts); the members API maps them to statuses.
import type { NodeId } from '../raft/types.js'
import { parseId } from '../ids.js'
import type { Membership } from './membership.js'
import { MemberChangeRefusedError, MemberNotFoundError, MemberRemovedError } from './errors.js'

/**
 * Checks that member `id` with `peerURLs` may join. With strictReconfigCheck, refuses when the
 * members that have started (published a name; ourselves counted) would be too few for the quorum
 * of the grown cluster, as etcd's --strict-reconfig-check does.
 */
export function checkAddMember(table: Membership, id: NodeId, peerURLs: string[], self: NodeId, strictReconfigCheck: boolean): void {
  table.checkAdd(id, peerURLs)
  if (!strictReconfigCheck) return
  const members = table.list()
  const started = members.filter((m) => m.name !== '' || m.id === self).length
  const quorum = Math.floor((members.length + 1) / 2) + 1
  if (members.length > 1 && started < quorum) throw new MemberChangeRefusedError('not enough started members for the new quorum')
}

/** The member a remove or update request names (`idText` as the client gave it). */
export function existingMember(table: Membership, idText: string): NodeId {
  const id = parseId(idText)
  if (id !== undefined && table.isRemoved(id)) throw new MemberRemovedError(idText)
  if (id === undefined || !table.has(id)) throw new MemberNotFoundError(idText)
  return id
}

/** Checks that member `id` may take `peerURLs` (no other member has one of them). */
export function checkUpdateMember(table: Membership, id: NodeId, peerURLs: string[]): void {
  table.checkUrlsFree(id, peerURLs)
}
