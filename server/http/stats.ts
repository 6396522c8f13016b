// /v2/stats/self, /v2/stats/leader, /v2/stats/store (STATS-1..3): JSON without trailing newline,
// no X-Etcd-* headers. Called after routing and the GET-only method check.
import type { ServerResponse } from 'node:http'
import type { Backend } from '../server.js'
import { goJSON } from './json.js'
import { writeMessageError } from './write-error.js'

function sendJSON(res: ServerResponse, value: unknown): void {
  const body = goJSON(value)
  res.statusCode = 200
  res.setHeader('Content-Type', 'application/json')
  res.setHeader('Content-Length', Buffer.byteLength(body))
  res.end(body)
}

/** GET /v2/stats/self (STATS-1). */
export function serveSelfStats(res: ServerResponse, backend: Backend): void {
  sendJSON(res, backend.selfStats())
}

/** GET /v2/stats/leader (STATS-2): 403 `not current leader` on a non-leader. */
export function serveLeaderStats(res: ServerResponse, backend: Backend): void {
  const s = backend.leaderStats()
  if (!s) writeMessageError(res, 403, 'not current leader')
  else sendJSON(res, s)
}

/** GET /v2/stats/store (STATS-3). */
export function serveStoreStats(res: ServerResponse, backend: Backend): void {
  sendJSON(res, backend.store.stats())
}
