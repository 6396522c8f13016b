// Counts client requests to /v2/keys for the etcd_http_* metrics by wrapping the client handler:
// received per method (QGET for quorum reads), failures per method and status, and the duration
// of successful non-watch requests. Only keys requests are counted, as etcd does.
// Must not: change what the handler answers, or allocate per request beyond one 'finish' listener
// registration (the listener itself is a shared function).

import type { IncomingMessage, ServerResponse } from 'node:http'
import type { MemberMetrics } from './member-metrics.js'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

interface Tracked extends ServerResponse {
  _mStart?: number
  _mMethod?: string
  _mWatch?: boolean
  _mMetrics?: MemberMetrics
}

function onFinish(this: Tracked): void {
  const m = this._mMetrics
  if (!m) return
  const code = this.statusCode
  if (code >= 400) m.failed(this._mMethod!, code)
  else if (!this._mWatch) m.succeeded(this._mMethod!, (performance.now() - this._mStart!) / 1000)
}

/** The keys-request method label: QGET for `GET ...?quorum=true`, else the HTTP method. */
export function methodLabel(method: string, url: string): string {
  return method === 'GET' && url.includes('quorum=true') ? 'QGET' : method
}

/** Wraps a client handler so keys requests are counted in `metrics`. */
export function instrumentHandler<H extends Handler>(handler: H, metrics: MemberMetrics): Handler {
  return (req, res) => {
    const url = req.url
    if (url !== undefined && url.startsWith('/v2/keys')) {
      const method = methodLabel(req.method ?? 'GET', url)
      const watch = url.includes('wait=true')
      metrics.received(method, watch)
      const t = res as Tracked
      t._mStart = performance.now()
      t._mMethod = method
      t._mWatch = watch
      t._mMetrics = metrics
      res.once('finish', onFinish)
    }
    handler(req, res)
  }
}
