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
