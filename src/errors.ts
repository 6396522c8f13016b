// Error classes of the client SDK: one base class with a stable `code`, one class per etcd
// errorCode users handle, and the transport failures. Mapping uses errorCode only, never message
// text. No I/O here.

/** Stable, machine-readable error codes. They never change between releases. */
export type ErrorCode =
  | 'KEY_NOT_FOUND'
  | 'COMPARE_FAILED'
  | 'NOT_FILE'
  | 'NOT_DIR'
  | 'NODE_EXISTS'
  | 'ROOT_READ_ONLY'
  | 'DIR_NOT_EMPTY'
  | 'UNAUTHORIZED'
  | 'INVALID_REQUEST'
  | 'RAFT_INTERNAL'
  | 'EVENT_INDEX_CLEARED'
  | 'ETCD_ERROR'
  | 'HTTP_ERROR'
  | 'VALIDATION'
  | 'TIMEOUT'
  | 'ABORTED'
  | 'UNAVAILABLE'
  | 'OUTCOME_UNKNOWN'
  // v3 API (ClientV3)
  | 'LEASE_NOT_FOUND'
  | 'COMPACTED'
  | 'FUTURE_REVISION'
  | 'AUTH_FAILED'
  | 'AUTH_REQUIRED'
  | 'INVALID_AUTH_TOKEN'
  | 'PERMISSION_DENIED'
  | 'AUTH_NOT_ENABLED'
  | 'INVALID_ARGUMENT'
  | 'SERVER_UNAVAILABLE'
  | 'GRPC_ERROR'

/** Base class of every error the SDK throws. Narrow with `instanceof` or on `code`. */
export class RaftkvError extends Error {
  /** Stable code; see {@link ErrorCode}. */
  readonly code: ErrorCode
  /** True when repeating the same call unchanged is safe and may succeed (see {@link isRetryable}). */
  readonly retryable: boolean

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.retryable = options?.retryable ?? false
  }
}

/** The JSON body etcd sends for a failed /v2/keys request (spec ERR-1). */
export interface EtcdErrorBody {
  errorCode: number
  message: string
  cause?: string
  index: number
}

/**
 * An error reported by the server's keys API. `errorCode` is etcd's number, `detail` is etcd's
 * `cause` field (`Error.cause` is the JS error chain, so it is not reused), `index` the store
 * index at the time of the error and `status` the HTTP status.
 */
export class EtcdError extends RaftkvError {
  readonly errorCode: number
  readonly detail: string | undefined
  readonly index: number
  readonly status: number

  constructor(body: EtcdErrorBody, status: number, code: ErrorCode = 'ETCD_ERROR', retryable = false) {
    super(code, body.cause ? `${body.message}: ${body.cause}` : body.message, { retryable })
    this.errorCode = body.errorCode
    this.detail = body.cause
    this.index = body.index
    this.status = status
  }

  /** etcd's `cause` field under its wire name (same as {@link detail}). */
  get etcdCause(): string | undefined {
    return this.detail
  }
}

/** 100: the key, or one of its parent directories, does not exist. */
export class KeyNotFoundError extends EtcdError {
  declare readonly code: 'KEY_NOT_FOUND'
  constructor(body: EtcdErrorBody, status: number) { super(body, status, 'KEY_NOT_FOUND') }
}
/** 101: prevValue or prevIndex did not match. */
export class CompareFailedError extends EtcdError {
  declare readonly code: 'COMPARE_FAILED'
  constructor(body: EtcdErrorBody, status: number) { super(body, status, 'COMPARE_FAILED') }
}
/** 102: the operation needs a file (or a dir flag) but the key is a directory. */
export class NotFileError extends EtcdError {
  declare readonly code: 'NOT_FILE'
  constructor(body: EtcdErrorBody, status: number) { super(body, status, 'NOT_FILE') }
}
/** 104: the path goes through a file. */
export class NotDirError extends EtcdError {
  declare readonly code: 'NOT_DIR'
  constructor(body: EtcdErrorBody, status: number) { super(body, status, 'NOT_DIR') }
}
/** 105: create (prevExist=false) found an existing node. */
export class NodeExistsError extends EtcdError {
  declare readonly code: 'NODE_EXISTS'
  constructor(body: EtcdErrorBody, status: number) { super(body, status, 'NODE_EXISTS') }
}
/** 107: the root directory cannot be written or deleted. */
export class RootReadOnlyError extends EtcdError {
  declare readonly code: 'ROOT_READ_ONLY'
  constructor(body: EtcdErrorBody, status: number) { super(body, status, 'ROOT_READ_ONLY') }
}
/** 108: deleting a non-empty directory needs `recursive`. */
export class DirNotEmptyError extends EtcdError {
  declare readonly code: 'DIR_NOT_EMPTY'
  constructor(body: EtcdErrorBody, status: number) { super(body, status, 'DIR_NOT_EMPTY') }
}
/** 110: the credentials do not grant access to this key. */
export class UnauthorizedError extends EtcdError {
  declare readonly code: 'UNAUTHORIZED'
  constructor(body: EtcdErrorBody, status: number) { super(body, status, 'UNAUTHORIZED') }
}
/** 200-212: the server rejected a request parameter (the SDK validates first, so rare). */
export class InvalidRequestError extends EtcdError {
  declare readonly code: 'INVALID_REQUEST'
  constructor(body: EtcdErrorBody, status: number) { super(body, status, 'INVALID_REQUEST') }
}
/** 300/301: raft could not apply the proposal in time; a quorum read may be retried. */
export class RaftInternalError extends EtcdError {
  declare readonly code: 'RAFT_INTERNAL'
  constructor(body: EtcdErrorBody, status: number) { super(body, status, 'RAFT_INTERNAL', true) }
}
/** 401: the requested waitIndex is older than the server's event history. */
export class EventIndexClearedError extends EtcdError {
  declare readonly code: 'EVENT_INDEX_CLEARED'
  constructor(body: EtcdErrorBody, status: number) { super(body, status, 'EVENT_INDEX_CLEARED') }
}

/** A non-keys endpoint (members, stats, health...) answered with an error status. */
export class HttpError extends RaftkvError {
  declare readonly code: 'HTTP_ERROR'
  readonly status: number
  constructor(status: number, message: string) {
    super('HTTP_ERROR', message || `HTTP ${status}`, { retryable: status >= 500 })
    this.status = status
  }
}

/** The SDK refused the arguments before sending anything. */
export class ValidationError extends RaftkvError {
  declare readonly code: 'VALIDATION'
  constructor(message: string) { super('VALIDATION', message) }
}

/** A read (or a write that never reached a server) did not finish before its deadline. */
export class TimeoutError extends RaftkvError {
  declare readonly code: 'TIMEOUT'
  constructor(message = 'request timed out', cause?: unknown) { super('TIMEOUT', message, { cause, retryable: true }) }
}

/**
 * The caller's AbortSignal fired (`cause`: what was interrupted). A write aborted while its
 * request was in flight may still have been applied.
 */
export class AbortError extends RaftkvError {
  declare readonly code: 'ABORTED'
  constructor(message = 'operation aborted', cause?: unknown) { super('ABORTED', message, { cause }) }
}

/** No endpoint could be reached (every attempt failed before the request reached a server). */
export class UnavailableError extends RaftkvError {
  declare readonly code: 'UNAVAILABLE'
  /** One entry per endpoint tried in the last round: `endpoint: reason`. */
  readonly attempts: string[]
  constructor(message: string, attempts: string[], cause?: unknown) {
    super('UNAVAILABLE', message, { cause, retryable: true })
    this.attempts = attempts
  }
}

/**
 * A write whose request may have reached a server, but whose answer was lost (timeout, dropped
 * connection, raft timeout): it may or may not have been applied. Read the key to find out.
 */
export class OutcomeUnknownError extends RaftkvError {
  declare readonly code: 'OUTCOME_UNKNOWN'
  readonly endpoint: string
  constructor(message: string, endpoint: string, cause?: unknown) {
    super('OUTCOME_UNKNOWN', message, { cause })
    this.endpoint = endpoint
  }
}

/**
 * True when `err` is an SDK error for which repeating the same call unchanged is safe and may
 * succeed: UnavailableError, TimeoutError, RaftInternalError on a read, HTTP 5xx. False for
 * OutcomeUnknownError (not safe), AbortError and every store error (would fail again).
 */
export function isRetryable(err: unknown): boolean {
  return err instanceof RaftkvError && err.retryable
}

type EtcdErrorClass = new (body: EtcdErrorBody, status: number) => EtcdError
const byErrorCode: Record<number, EtcdErrorClass> = {
  100: KeyNotFoundError,
  101: CompareFailedError,
  102: NotFileError,
  104: NotDirError,
  105: NodeExistsError,
  107: RootReadOnlyError,
  108: DirNotEmptyError,
  110: UnauthorizedError,
  300: RaftInternalError,
  301: RaftInternalError,
  401: EventIndexClearedError,
}

/** Builds the typed error for an etcd error body (spec ERR-2). */
export function etcdErrorFrom(body: EtcdErrorBody, status: number): EtcdError {
  const cls = byErrorCode[body.errorCode]
  if (cls) return new cls(body, status)
  if (body.errorCode >= 200 && body.errorCode < 300) return new InvalidRequestError(body, status)
  return new EtcdError(body, status)
}

/** True if `x` looks like an etcd error body. */
export function isEtcdErrorBody(x: unknown): x is EtcdErrorBody {
  return typeof x === 'object' && x !== null && typeof (x as EtcdErrorBody).errorCode === 'number'
}
