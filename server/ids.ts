// Member and cluster ids computed exactly as etcd does (MEM-8), plus their text forms (HDR-1, MEM-1).
// Ids are NodeId strings: 16 lower-case hex digits. Pure functions; no clock is read here.

import { createHash } from 'node:crypto'
import type { NodeId } from './raft/types.js'

/** First 8 bytes of SHA-1(bytes) as a big-endian uint64 in 16 hex digits. */
function sha1Id(bytes: Buffer): NodeId {
  return createHash('sha1').update(bytes).digest().subarray(0, 8).toString('hex')
}

/**
 * etcd's member id: SHA-1 over the sorted peer URLs concatenated, then the cluster token, then
 * (for a member added at runtime) the decimal Unix time in seconds; first 8 bytes big-endian.
 * peerUrls must be in the form etcd prints them (scheme://host:port, as config.ts normalises).
 * Bootstrapping members pass no time, so every member computes the same ids for the initial cluster.
 */
export function memberId(peerUrls: readonly string[], clusterToken: string, nowUnixSeconds?: number): NodeId {
  let s = [...peerUrls].sort().join('') + clusterToken
  if (nowUnixSeconds !== undefined) s += String(Math.floor(nowUnixSeconds))
  return sha1Id(Buffer.from(s, 'utf8'))
}

/**
 * etcd's cluster id: SHA-1 over the member ids sorted numerically, each as 8 big-endian bytes;
 * first 8 bytes big-endian. Takes the initial members' ids (the cluster id never changes later).
 */
export function clusterId(memberIds: readonly NodeId[]): NodeId {
  const sorted = memberIds.map(normaliseId).sort()
  const buf = Buffer.alloc(8 * sorted.length)
  sorted.forEach((id, i) => buf.write(id, 8 * i, 'hex'))
  return sha1Id(buf)
}

/** Ids of the initial members (name -> id), in the order given, and the cluster id they imply. */
export function initialIds(
  members: readonly { name: string; peerUrls: readonly string[] }[],
  clusterToken: string,
): { members: { name: string; id: NodeId; peerUrls: string[] }[]; clusterId: NodeId } {
  const out = members.map((m) => ({ name: m.name, id: memberId(m.peerUrls, clusterToken), peerUrls: [...m.peerUrls] }))
  return { members: out, clusterId: clusterId(out.map((m) => m.id)) }
}

/**
 * The wire form of an id (HDR-1 `X-Etcd-Cluster-Id`, MEM-1 member `id`, stats): lower-case hex
 * without leading zeros ("0" for the zero id, which etcd never assigns).
 */
export function formatId(id: NodeId): string {
  const s = normaliseId(id).replace(/^0+/, '')
  return s === '' ? '0' : s
}

/**
 * Parse a hex id as a client sends it (MEM-5 `DELETE /v2/members/<hexid>`): 1-16 hex digits, any
 * case, leading zeros optional. Returns the 16-digit NodeId, or undefined when not a valid id.
 */
export function parseId(text: string): NodeId | undefined {
  if (!/^[0-9a-fA-F]{1,16}$/.test(text)) return undefined
  return text.toLowerCase().padStart(16, '0')
}

/** True when text is already a canonical NodeId (16 lower-case hex digits). */
export function isNodeId(text: string): boolean {
  return /^[0-9a-f]{16}$/.test(text)
}

function normaliseId(id: NodeId): NodeId {
  const p = parseId(id)
  if (p === undefined) throw new TypeError(`not a member id: ${JSON.stringify(id)}`)
  return p
}
