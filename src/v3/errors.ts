// Typed errors of the v3 API and the decoder of the gateway's error bodies. The gRPC status code
// alone is too coarse (NotFound, OutOfRange, InvalidArgument cover many cases), so the class is
// chosen by etcd's error message, whose texts are part of etcd's API (rpctypes), then by code.
// Four body shapes exist:
//   3.4/3.5 unary:   {"error":"<msg>","code":N,"message":"<msg>"}
//   3.6+ unary:      {"code":N,"message":"<msg>","details":[]}           (grpc-gateway v2)
//   3.4/3.5 stream:  {"error":{"grpc_code":N,"http_code":H,"message":"<msg>","http_status":"..."}}
//   3.6+ stream:     {"error":{"code":N,"message":"<msg>","details":[]}}

import { HttpError, RaftkvError, type ErrorCode } from '../errors.js'
import { parseJson } from '../keys-codec.js'
import type { HttpResult } from '../transport.js'

/** gRPC status codes the gateway reports. */
export const GrpcCode = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
} as const

/** An error answer of the v3 API. `grpcCode` is the gRPC status, `status` the HTTP status. */
export class EtcdV3Error extends RaftkvError {
  readonly grpcCode: number
  readonly status: number
  /** The server's message, e.g. 'etcdserver: requested lease not found'. */
  readonly serverMessage: string

  constructor(grpcCode: number, serverMessage: string, status: number, code: ErrorCode = 'GRPC_ERROR', retryable = false) {
    super(code, serverMessage || `gRPC status ${grpcCode}`, { retryable })
    this.grpcCode = grpcCode
    this.status = status
    this.serverMessage = serverMessage
  }
}

type V3Class = new (grpcCode: number, message: string, status: number) => EtcdV3Error
const cls = (code: ErrorCode, retryable = false): V3Class =>
  class extends EtcdV3Error {
    constructor(g: number, m: string, s: number) { super(g, m, s, code, retryable) }
  }

/** The lease does not exist (never granted, expired or revoked). */
export class LeaseNotFoundError extends cls('LEASE_NOT_FOUND') { declare readonly code: 'LEASE_NOT_FOUND' }
/** The requested revision has been compacted away. */
export class CompactedError extends cls('COMPACTED') { declare readonly code: 'COMPACTED' }
/** The requested revision is newer than the store's. */
export class FutureRevisionError extends cls('FUTURE_REVISION') { declare readonly code: 'FUTURE_REVISION' }
/** Wrong user name or password. */
export class AuthFailedError extends cls('AUTH_FAILED') { declare readonly code: 'AUTH_FAILED' }
/** Auth is enabled and the request carried no token ('user name is empty'). */
export class AuthRequiredError extends cls('AUTH_REQUIRED') { declare readonly code: 'AUTH_REQUIRED' }
/** The token is unknown or expired (the client re-authenticates once by itself). */
export class InvalidAuthTokenError extends cls('INVALID_AUTH_TOKEN') { declare readonly code: 'INVALID_AUTH_TOKEN' }
/** The user's roles do not allow this request. */
export class PermissionDeniedError extends cls('PERMISSION_DENIED') { declare readonly code: 'PERMISSION_DENIED' }
/** authenticate was called while auth is disabled. */
export class AuthNotEnabledError extends cls('AUTH_NOT_ENABLED') { declare readonly code: 'AUTH_NOT_ENABLED' }
/** The server refused an argument (empty key, duplicate key in a txn, too many operations...). */
export class InvalidArgumentError extends cls('INVALID_ARGUMENT') { declare readonly code: 'INVALID_ARGUMENT' }
/**
 * The member could not serve the request now (no leader, leader changed, raft timeout, too many
 * requests). Reads are retried; a write that got it may or may not be applied and is reported as
 * OutcomeUnknownError instead.
 */
export class ServerUnavailableError extends cls('SERVER_UNAVAILABLE', true) { declare readonly code: 'SERVER_UNAVAILABLE' }

/** Classes chosen by etcd's message text (without the 'etcdserver: ' prefix). */
const byMessage: Array<[RegExp, V3Class]> = [
  [/requested lease not found/, LeaseNotFoundError],
  [/required revision has been compacted/, CompactedError],
  [/required revision is a future revision/, FutureRevisionError],
  [/authentication failed, invalid user ID or password/, AuthFailedError],
  [/user name is empty/, AuthRequiredError],
  [/invalid auth token/, InvalidAuthTokenError],
  [/permission denied/, PermissionDeniedError],
  [/authentication is not enabled/, AuthNotEnabledError],
]

/** Classes chosen by gRPC code when the message is not one of the above. */
const byCode: Record<number, V3Class> = {
  [GrpcCode.INVALID_ARGUMENT]: InvalidArgumentError,
  [GrpcCode.PERMISSION_DENIED]: PermissionDeniedError,
  [GrpcCode.UNAUTHENTICATED]: InvalidAuthTokenError,
  [GrpcCode.UNAVAILABLE]: ServerUnavailableError,
  [GrpcCode.RESOURCE_EXHAUSTED]: ServerUnavailableError,
  [GrpcCode.DEADLINE_EXCEEDED]: ServerUnavailableError,
}

/**
 * The typed error for a gRPC status code and message. A message in Go's status text form
 * ('rpc error: code = Unauthenticated desc = ...', as watch cancel reasons carry it) gives
 * its own code and text.
 */
export function v3Error(grpcCode: number, message: string, status: number): EtcdV3Error {
  const go = /^rpc error: code = (\w+) desc = ([\s\S]*)$/.exec(message)
  if (go) {
    const named = (GrpcCode as Record<string, number>)[go[1]!.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()]
    if (named !== undefined) grpcCode = named
    message = go[2]!
  }
  for (const [re, C] of byMessage) if (re.test(message)) return new C(grpcCode, message, status)
  const C = byCode[grpcCode]
  return C ? new C(grpcCode, message, status) : new EtcdV3Error(grpcCode, message, status)
}

/** Reads `{code, message}` out of any of the four error shapes, or undefined if `body` is none. */
export function readErrorBody(body: unknown): { grpcCode: number; message: string } | undefined {
  if (typeof body !== 'object' || body === null) return undefined
  const b = body as Record<string, unknown>
  const inner = typeof b.error === 'object' && b.error !== null ? (b.error as Record<string, unknown>) : undefined
  const src = inner ?? b
  const code = typeof src.code === 'number' ? src.code : typeof src.grpc_code === 'number' ? src.grpc_code : undefined
  if (code === undefined) return undefined
  const message = typeof src.message === 'string' ? src.message : typeof b.error === 'string' ? b.error : ''
  return { grpcCode: code, message }
}

/** The typed error of an HTTP answer with an error status (or an error body). */
export function errorFromV3Result(res: HttpResult): EtcdV3Error | HttpError {
  const parsed = readErrorBody(parseJson(res.body))
  if (parsed) return v3Error(parsed.grpcCode, parsed.message, res.status)
  return new HttpError(res.status, `${res.status} from ${res.endpoint}: ${res.body.trim().slice(0, 200)}`)
}
