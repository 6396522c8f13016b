// HTTP meanings of the cluster layer's errors (server/cluster/errors.ts): etcd's error code and
// cause for the keys and auth APIs, status and message for the members API.
import {
  MemberChangeRefusedError, MemberExistsError, MemberNotFoundError, MemberRemovedError, PeerURLExistsError, RequestFailedError,
} from '../cluster/errors.js'

/**
 * A failed request as etcd answers it (KEYS-22): errorCode 300 (Raft Internal Error) with the
 * failure as cause, e.g. `etcdserver: request timed out`. undefined for other errors.
 */
export function requestFailure(e: unknown): { errorCode: 300; cause: string } | undefined {
  if (e instanceof RequestFailedError) return { errorCode: 300, cause: e.message }
  return undefined
}

/**
 * A refused or failed member change as etcd's members API answers it (MEM-4..6): the HTTP status
 * and `{"message":...}` text. undefined for other errors.
 */
export function memberChangeFailure(e: unknown, op: 'add' | 'remove' | 'update'): { status: number; message: string } | undefined {
  if (e instanceof MemberNotFoundError) return { status: 404, message: e.message }
  // Removing a removed member says so (410); updating one is an internal error in etcd.
  if (e instanceof MemberRemovedError) return op === 'remove' ? { status: 410, message: e.message } : INTERNAL
  if (e instanceof MemberExistsError || e instanceof PeerURLExistsError) return { status: 409, message: e.message }
  if (e instanceof MemberChangeRefusedError || e instanceof RequestFailedError) return INTERNAL
  return undefined
}

const INTERNAL = { status: 500, message: 'Internal Server Error' }
