// Which API a recipe runs on is decided by the client it is given: a v2 `Client` (raftkv, etcd
// with --enable-v2) or a `ClientV3` (etcd 3.x). Every recipe takes either; this is the only place
// that tells them apart.

import { ClientV3, type Client } from '../src/index.js'

/** A client of either API. */
export type AnyClient = Client | ClientV3

export function isV3(client: AnyClient): client is ClientV3 {
  return client instanceof ClientV3
}

/** A v3 cluster or member id as the v2 API writes it (X-Etcd-Cluster-Id): lowercase hex. */
export function hexId(id: bigint): string {
  return id.toString(16)
}

/** A revision as a number (fencing tokens and queue order); revisions stay far below 2^53. */
export function revNumber(rev: bigint): number {
  const n = Number(rev)
  if (!Number.isSafeInteger(n)) throw new RangeError(`revision ${rev} does not fit a safe integer`)
  return n
}
