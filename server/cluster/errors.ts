// What the cluster layer refuses or fails with, in its own terms. server/http maps each to an HTTP
// status and an etcd error code; nothing here knows about HTTP.
import { ProposalError } from '../server.js'

/** The member is stopping or stopped (or was removed from the cluster). */
export class StoppedError extends ProposalError {
  constructor() {
    super(300, 'etcdserver: server stopped')
    this.name = 'StoppedError'
  }
}

/** A proposal or quorum read did not complete in time (or could not be handed to a leader). */
export class RequestTimeoutError extends ProposalError {
  constructor() {
    super(300, 'etcdserver: request timed out')
    this.name = 'RequestTimeoutError'
  }
}

/** The durable log failed: the member stops accepting requests. */
export class StorageFailedError extends ProposalError {
  constructor(readonly reason: unknown, message = `etcdserver: storage failed: ${String(reason)}`) {
    super(300, message)
    this.name = 'StorageFailedError'
  }
}

/** An applied entry produced no result for its waiter (a bug, reported rather than hung). */
export class UnexpectedResultError extends ProposalError {
  constructor() {
    super(300, 'etcdserver: unexpected empty result')
    this.name = 'UnexpectedResultError'
  }
}
