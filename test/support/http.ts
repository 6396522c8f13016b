// One HTTP request with the v2 API's usual bodies (form or JSON) and basic auth, answered as
// status, text and parsed JSON (when the body is JSON). Bounded by a timeout.

export interface CallOptions {
  /** `user:password` for basic auth. */
  auth?: string
  json?: unknown
  form?: Record<string, string>
  signal?: AbortSignal
}

export interface CallReply {
  status: number
  body: string
  json: any
  headers: Headers
}

/** `Basic <base64(user:password)>` */
export function basicAuth(cred: string): string {
  return 'Basic ' + Buffer.from(cred).toString('base64')
}

/** `method base+path` with the given body and credentials (10 s timeout unless a signal is given). */
export async function call(base: string, method: string, path: string, opts: CallOptions = {}): Promise<CallReply> {
  const headers: Record<string, string> = {}
  let body: string | undefined
  if (opts.auth) headers.authorization = basicAuth(opts.auth)
  if (opts.json !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(opts.json)
  }
  if (opts.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded'
    body = new URLSearchParams(opts.form).toString()
  }
  const r = await fetch(base + path, { method, headers, body, signal: opts.signal ?? AbortSignal.timeout(10_000) })
  const text = await r.text()
  let json: any
  try { json = JSON.parse(text) } catch {}
  return { status: r.status, body: text, json, headers: r.headers }
}
