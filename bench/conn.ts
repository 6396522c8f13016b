// The connection seam of the load generator: one keep-alive HTTP/1.1 connection per simulated
// client, one request in flight at a time. Two implementations (raw-client.ts, node-client.ts)
// so their CPU cost per request can be compared; workloads only see this interface.

/** A request a workload sends. Static requests are built once and reused for every send. */
export interface BenchRequest {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE'
  /** Path plus query string, already URL-encoded. */
  path: string
  /** application/x-www-form-urlencoded body, already encoded (ASCII only). */
  body?: string
  /** Whether the caller needs the response body (otherwise it is skipped unparsed). */
  wantBody?: boolean
  /** The encoded bytes of a static request (set by prebuild()); used by the raw client. */
  encoded?: Buffer
}

/**
 * Called once per request. `status` is 0 and `err` set on a transport failure; `body` is null
 * unless the request asked for it. The callback must not throw.
 */
export type Done = (status: number, body: Buffer | null, err: Error | null) => void

/** One client connection to one member. */
export interface Conn {
  /** Send `req`; `onHeaders` (watches) fires when the response head arrives, before the body. */
  send(req: BenchRequest, done: Done, onHeaders?: () => void): void
  /** Destroy the socket; an in-flight request completes with an error. */
  close(): void
}

/** Builds connections to `host:port`; `perMember` is how many clients share the member. */
export type ConnFactory = (host: string, port: number, perMember: number) => Conn

/** Encodes a request as HTTP/1.1 bytes (keep-alive is the HTTP/1.1 default). */
export function encodeRequest(req: BenchRequest): string {
  if (req.body === undefined) return `${req.method} ${req.path} HTTP/1.1\r\nHost: bench\r\n\r\n`
  return `${req.method} ${req.path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${req.body.length}\r\n\r\n${req.body}`
}

/** Marks `req` as static: encodes it once so every send reuses the same bytes. Returns `req`. */
export function prebuild(req: BenchRequest): BenchRequest {
  req.encoded = Buffer.from(encodeRequest(req), 'latin1')
  return req
}
