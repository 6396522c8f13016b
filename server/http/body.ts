// Bounded request-body reading. Never buffers more than the limit; reports "too large" instead of
// throwing so callers can answer with the endpoint's own error format. No parsing here.
import type { IncomingMessage } from 'node:http'

/**
 * Default of --max-request-bytes: the largest client request body (keys form, members, auth JSON).
 * 10 MiB is the form limit etcd's v2 API enforces (Go's ParseForm), so by default raftkv accepts
 * and refuses the same v2 requests as etcd; etcd's own flag default (1.5 MiB) bounds only its v3
 * gRPC requests, which raftkv does not serve.
 */
export const DEFAULT_MAX_REQUEST_BYTES = 10 * 1024 * 1024

/**
 * The client hung up before its body was complete: expected client behaviour, not a bug, so it
 * is logged once at debug level and without a stack.
 */
export class ClientAbortError extends Error {
  constructor(message = 'request aborted') {
    super(message)
    this.name = 'ClientAbortError'
  }
}

/**
 * The body's framing is broken past repair (a chunk size Go refuses, found by the front door
 * before the parser saw it): the message is Go's text, e.g. `http chunk length too large`. The
 * endpoints answer with it as etcd does when its body read fails.
 */
export class MalformedBodyError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'MalformedBodyError'
  }
}

const kBodyFault = Symbol('bodyFault')
const kBodyReader = Symbol('bodyReader')
type FaultableRequest = IncomingMessage & { [kBodyFault]?: MalformedBodyError; [kBodyReader]?: (e: Error) => void }

/**
 * Marks the body of `req` as unreadable: a read in progress fails now, a later one at once, with
 * MalformedBodyError(cause). The rest of the body never arrives (the front door holds it back).
 */
export function failBody(req: IncomingMessage, cause: string): void {
  const r = req as FaultableRequest
  const e = new MalformedBodyError(cause)
  r[kBodyFault] = e
  r[kBodyReader]?.(e)
}

/** Whether `err` is the client's doing (hang-up, reset) rather than a bug of the server. */
export function isClientFault(err: unknown): boolean {
  if (err instanceof ClientAbortError) return true
  const code = (err as { code?: unknown } | null)?.code
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNABORTED'
}

/**
 * Reads the whole body as UTF-8 (invalid sequences become U+FFFD), or as `encoding` (`latin1`:
 * one character per byte, for callers that check the bytes themselves). Resolves undefined when it is
 * (or announces itself via Content-Length as) larger than `limit` bytes; the rest is not read, so
 * the caller should answer with `Connection: close`. Rejects if the client aborts, and with
 * MalformedBodyError when the front door found the body's framing broken (failBody).
 */
export function readBody(req: IncomingMessage, limit: number, encoding: 'utf8' | 'latin1' = 'utf8'): Promise<string | undefined> {
  const fault = (req as FaultableRequest)[kBodyFault]
  if (fault) return Promise.reject(fault)
  const declared = req.headers['content-length']
  if (declared !== undefined && Number(declared) > limit) return Promise.resolve(undefined)
  if (declared === '0') return Promise.resolve('')
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    const onData = (c: Buffer): void => {
      size += c.length
      if (size > limit) {
        done = true
        cleanup()
        req.pause()
        resolve(undefined)
        return
      }
      chunks.push(c)
    }
    const onEnd = (): void => {
      if (done) return
      done = true
      cleanup()
      resolve(chunks.length === 1 ? chunks[0]!.toString(encoding) : Buffer.concat(chunks, size).toString(encoding))
    }
    const onError = (e: Error): void => {
      if (isClientFault(e)) e = new ClientAbortError(`request aborted: ${e.message}`)
      if (done) return
      done = true
      cleanup()
      reject(e)
    }
    const onAborted = (): void => onError(new ClientAbortError())
    const cleanup = (): void => {
      delete (req as FaultableRequest)[kBodyReader]
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('aborted', onAborted)
    }
    ;(req as FaultableRequest)[kBodyReader] = onError
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('aborted', onAborted)
  })
}
