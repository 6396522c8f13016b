// What the cluster layer refuses or fails with, in its own terms. server/http/cluster-errors.ts
// maps each to an HTTP status and an etcd error code; nothing here knows about HTTP.

/**
 * A request (write, quorum read, member change) the member could not complete. Whether a write
 * took effect is unknown to the client unless the member refused it before proposing.
 */
export class RequestFailedError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'RequestFailedError'
  }
}

/** The member is stopping or stopped (or was removed from the cluster). */
export class StoppedError extends RequestFailedError {
  constructor() {
    super('etcdserver: server stopped')
    this.name = 'StoppedError'
  }
}

/** A proposal or quorum read did not complete in time (or no leader could take it). */
export class RequestTimeoutError extends RequestFailedError {
  constructor() {
    super('etcdserver: request timed out')
    this.name = 'RequestTimeoutError'
  }
}

/** The durable log failed: the member stops accepting requests. */
export class StorageFailedError extends RequestFailedError {
  constructor(readonly reason: unknown, message = `etcdserver: storage failed: ${String(reason)}`) {
    super(message)
    this.name = 'StorageFailedError'
  }
}

/** An applied entry produced no result for its waiter (a bug, reported rather than hung). */
export class UnexpectedResultError extends RequestFailedError {
  constructor() {
    super('etcdserver: unexpected empty result')
    this.name = 'UnexpectedResultError'
  }
}

/** A member change naming a member the cluster does not have. `id` as the client gave it. */
export class MemberNotFoundError extends Error {
  constructor(readonly id: string) {
    super(`No such member: ${id}`)
    this.name = 'MemberNotFoundError'
  }
}

/** A member change naming a member that was removed (ids are never reused). */
export class MemberRemovedError extends Error {
  constructor(readonly id: string) {
    super(`Member permanently removed: ${id}`)
    this.name = 'MemberRemovedError'
  }
}

/** Adding a member whose id is (or was) in the cluster. */
export class MemberExistsError extends Error {
  constructor() {
    super('membership: ID exists')
    this.name = 'MemberExistsError'
  }
}

/** Adding or updating a member with a peer URL another member has. */
export class PeerURLExistsError extends Error {
  constructor() {
    super('membership: peerURL exists')
    this.name = 'PeerURLExistsError'
  }
}

/**
 * A member change refused as unsafe or unsupported: too few started members for the new quorum
 * (--strict-reconfig-check), or a backend that cannot change membership.
 */
export class MemberChangeRefusedError extends Error {
  constructor(reason: string) {
    super(reason)
    this.name = 'MemberChangeRefusedError'
  }
}
