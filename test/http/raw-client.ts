// Test helper: one HTTP request on a fresh connection with the path sent byte for byte (fetch would
// normalise `//` and `..`), bounded in time. Not a test file itself.
import http from 'node:http'

export interface RawResponse { status: number; headers: http.IncomingHttpHeaders; body: string; aborted: boolean }

/** One request on a fresh connection; the path is sent exactly as given. */
export function raw(base: string, method: string, path: string, opts: { body?: string | Buffer; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<RawResponse> {
  const u = new URL(base)
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path, headers: opts.headers, agent: false })
    const timer = setTimeout(() => req.destroy(new Error(`timeout: ${method} ${path}`)), opts.timeoutMs ?? 5000)
    req.on('response', (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (body += d))
      // 'close' also covers a connection cut after the headers (then `aborted` is true).
      res.on('close', () => {
        clearTimeout(timer)
        resolve({ status: res.statusCode!, headers: res.headers, body, aborted: !res.complete })
      })
    })
    req.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    if (opts.body !== undefined) req.write(opts.body)
    req.end()
  })
}

/**
 * Waits until a freshly started member is ready for clients the way the transcript recorder (test/fixtures/recorder.ts) checks
 * it: healthy (leader + quorum read), member published, and the store index no longer moving
 * (start-up bookkeeping writes done). Throws after `ms`.
 */
export async function waitReady(base: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms
  let last = ''
  while (Date.now() < deadline) {
    try {
      const h = await raw(base, 'GET', '/health')
      const m = await raw(base, 'GET', '/v2/members')
      const k = await raw(base, 'GET', '/v2/keys/')
      const self = h.status === 200 && m.status === 200 ? (JSON.parse(m.body).members?.[0] as { name?: string; clientURLs?: string[] } | undefined) : undefined
      if (self?.name && self.clientURLs?.length && k.status === 200) {
        await new Promise((r) => setTimeout(r, 150))
        const k2 = await raw(base, 'GET', '/v2/keys/')
        if (k2.headers['x-etcd-index'] === k.headers['x-etcd-index']) return
      }
      last = `health=${h.status} members=${m.body.trim()} keys=${k.status}`
    } catch (e) {
      last = (e as Error).message
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`member at ${base} not ready after ${ms} ms: ${last}`)
}
