// /version, /health, /v2/machines and /metrics (MISC-1..3, MEM-10). Each handler is called after
// routing and the method check; none carries X-Etcd-* headers (HDR-1).
import type { ServerResponse } from 'node:http'
import type { Backend } from '../server.js'
import { goJSON } from './json.js'

/** The versions `/version` reports (MISC-1): the etcd release whose v2 API raftkv follows. */
export const SERVER_VERSION = '2.3.8'
export const CLUSTER_VERSION = '2.3.0'

/** How long /health waits for a quorum read (MISC-2). */
const HEALTH_TIMEOUT_MS = 1000

const VERSION_BODY = goJSON({ etcdserver: SERVER_VERSION, etcdcluster: CLUSTER_VERSION })

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.statusCode = status
  res.setHeader('Content-Type', contentType)
  res.setHeader('Content-Length', Buffer.byteLength(body))
  res.end(body)
}

/** GET /version (MISC-1): JSON, no trailing newline. */
export function serveVersion(res: ServerResponse): void {
  send(res, 200, 'application/json', VERSION_BODY)
}

/** GET /v2/machines (MEM-10): client URLs of all members joined by `, `. */
export function serveMachines(res: ServerResponse, backend: Backend): void {
  const urls: string[] = []
  for (const m of backend.members()) urls.push(...m.clientURLs)
  send(res, 200, 'text/plain; charset=utf-8', urls.join(', '))
}

/**
 * GET /health (MISC-2): 200 `{"health":"true"}` when a leader is known and a quorum read completes
 * within 1 s, else 503 `{"health":"false"}\n`.
 */
export async function serveHealth(res: ServerResponse, backend: Backend): Promise<void> {
  let ok = backend.leaderId() !== undefined
  if (ok) {
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        backend.linearizableRead(),
        new Promise<void>((_, reject) => {
          timer = setTimeout(() => reject(new Error('health: quorum read timed out')), HEALTH_TIMEOUT_MS)
        }),
      ])
    } catch {
      ok = false
    } finally {
      clearTimeout(timer)
    }
  }
  if (ok) send(res, 200, 'text/plain; charset=utf-8', '{"health":"true"}')
  else send(res, 503, 'text/plain; charset=utf-8', '{"health":"false"}\n')
}

/**
 * GET /metrics (MISC-3): Prometheus text with the leader gauges every etcd user relies on.
 * Kept hand-written and tiny so the keys hot path pays nothing for it.
 */
export function serveMetrics(res: ServerResponse, backend: Backend): void {
  const leader = backend.leaderId()
  const hasLeader = leader !== undefined ? 1 : 0
  const isLeader = leader !== undefined && leader === backend.memberId() ? 1 : 0
  const body =
    '# HELP etcd_server_has_leader Whether or not a leader exists. 1 is existence, 0 is not.\n' +
    '# TYPE etcd_server_has_leader gauge\n' +
    `etcd_server_has_leader ${hasLeader}\n` +
    '# HELP etcd_server_is_leader Whether or not this member is a leader. 1 if is, 0 otherwise.\n' +
    '# TYPE etcd_server_is_leader gauge\n' +
    `etcd_server_is_leader ${isLeader}\n` +
    '# HELP etcd_debugging_store_watchers Count of currently active watchers.\n' +
    '# TYPE etcd_debugging_store_watchers gauge\n' +
    `etcd_debugging_store_watchers ${backend.store.stats().watchers}\n`
  send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', body)
}
