// etcd v2 keys-API errors: the code -> (HTTP status, fixed message) table of ERR-2/ERR-3 and the
// StoreError value the store returns or throws. No I/O; the HTTP layer writes it (ERR-1).

import { goJSON } from './json.js'

/** errorCode -> [HTTP status, message] exactly as etcd (ERR-2; ERR-3 codes default to 400). */
export const ERROR_TABLE: Readonly<Record<number, readonly [number, string]>> = {
  100: [404, 'Key not found'],
  101: [412, 'Compare failed'],
  102: [403, 'Not a file'],
  103: [400, 'Reached the max number of peers in the cluster'],
  104: [400, 'Not a directory'],
  105: [412, 'Key already exists'],
  106: [400, 'The prefix of given key is a keyword in etcd'],
  107: [400, 'Root is read only'],
  108: [403, 'Directory not empty'],
  109: [400, 'Peer address has existed'],
  110: [401, 'The request requires user authentication'],
  200: [400, 'Value is Required in POST form'],
  201: [400, 'PrevValue is Required in POST form'],
  202: [400, 'The given TTL in POST form is not a number'],
  203: [400, 'The given index in POST form is not a number'],
  204: [400, 'Value or TTL is required in POST form'],
  205: [400, 'The given timeout in POST form is not a number'],
  206: [400, 'Name is required in POST form'],
  207: [400, 'Index or value is required'],
  208: [400, 'Index and value cannot both be specified'],
  209: [400, 'Invalid field'],
  210: [400, 'Invalid POST form'],
  211: [400, 'Value provided on refresh'],
  212: [400, 'A TTL must be provided on refresh'],
  300: [500, 'Raft Internal Error'],
  301: [500, 'During Leader Election'],
  400: [400, 'watcher is cleared due to etcd recovery'],
  401: [400, 'The event in requested index is outdated and cleared'],
  402: [400, 'Standby Internal Error'],
  403: [400, 'Invalid active size'],
  404: [400, 'Standby remove delay'],
  500: [400, 'Client Internal Error'],
}

/** Named codes used by the store (and handy for the HTTP layer). */
export const ErrorCode = {
  KeyNotFound: 100,
  TestFailed: 101,
  NotFile: 102,
  NotDir: 104,
  NodeExist: 105,
  RootReadOnly: 107,
  DirNotEmpty: 108,
  Unauthorized: 110,
  PrevValueRequired: 201,
  TTLNaN: 202,
  IndexNaN: 203,
  InvalidField: 209,
  InvalidForm: 210,
  RefreshValue: 211,
  RefreshTTLRequired: 212,
  RaftInternal: 300,
  EventIndexCleared: 401,
} as const

/**
 * An etcd keys-API error. `status` is the HTTP status from ERR-2, `message` the fixed text,
 * `cause` the detail ('' = omitted from JSON), `index` the etcd index to report (current index for
 * store errors, 0 for request/auth/raft errors; also the X-Etcd-Index header, HDR-2).
 * The HTTP layer may construct these itself for parameter errors: `new StoreError(209, 'invalid value for "wait"', 0)`.
 */
export class StoreError extends Error {
  readonly errorCode: number
  override readonly cause: string
  readonly index: number
  readonly status: number

  constructor(errorCode: number, cause = '', index = 0) {
    const entry = ERROR_TABLE[errorCode]
    // These are answers to users, not bugs: skip the stack capture, which dominated the cost of
    // failed CAS/create and missing-key reads on the hot path.
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    super(entry ? entry[1] : 'Unknown error')
    Error.stackTraceLimit = limit
    this.name = 'StoreError'
    this.errorCode = errorCode
    this.cause = cause
    this.index = index
    this.status = entry ? entry[0] : 500
  }

  /** `{errorCode, message, cause?, index}` in etcd's field order; cause omitted when empty (ERR-1). */
  toJSON(): { errorCode: number; message: string; cause?: string; index: number } {
    return this.cause === ''
      ? { errorCode: this.errorCode, message: this.message, index: this.index }
      : { errorCode: this.errorCode, message: this.message, cause: this.cause, index: this.index }
  }

  /** The exact response body etcd writes, including the trailing newline (ERR-1, GEN-7). */
  body(): string {
    return goJSON(this.toJSON()) + '\n'
  }
}
