// Minimal etcd v2 HTTP calls for the fault workload, each bounded by a timeout and classified as
// ok / fail (definitely not applied, or a definite observation such as 412) / unknown (may or may
// not have been applied). Deliberately no retries or failover: the history must record exactly
// what one request did.

import type { Outcome } from './history.js'

/** Result of one v2 request. */
export interface V2Result {
  outcome: Outcome
  status?: number
  errorCode?: number
  node?: { key?: string; value?: string; modifiedIndex?: number; createdIndex?: number; dir?: boolean; nodes?: unknown[] }
  detail: string
}

/** Whether an error from fetch proves the request never reached the server. */
function neverSent(err: unknown): boolean {
  const code = (err as { cause?: { code?: string } })?.cause?.code
  return code === 'ECONNREFUSED'
}

/**
 * Performs one request. 2xx -> ok; 4xx with an etcd errorCode -> fail (the request was rejected,
 * nothing applied); 5xx, timeouts and broken connections -> unknown; a refused connection -> fail.
 */
export async function v2Request(baseUrl: string, method: 'GET' | 'PUT' | 'POST' | 'DELETE', keyPath: string, params: Record<string, string | number | boolean>, timeoutMs: number): Promise<V2Result> {
  const qs = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]))
  const isBody = method === 'PUT' || method === 'POST'
  const url = `${baseUrl}/v2/keys${keyPath}${!isBody && qs.size ? `?${qs}` : ''}`
  let res: Response
  let text: string
  try {
    res = await fetch(url, {
      method,
      signal: AbortSignal.timeout(timeoutMs),
      ...(isBody ? { body: qs.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } } : {}),
    })
    text = await res.text()
  } catch (err) {
    if (neverSent(err)) return { outcome: 'fail', detail: 'refused' }
    const name = (err as Error)?.name
    const code = (err as { cause?: { code?: string } })?.cause?.code
    return { outcome: 'unknown', detail: name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : (code ?? name ?? 'error') }
  }
  let body: { node?: V2Result['node']; errorCode?: number; message?: string } = {}
  try {
    body = JSON.parse(text)
  } catch {
    // not JSON: keep empty body
  }
  const status = res.status
  if (status >= 200 && status < 300) return { outcome: 'ok', status, ...(body.node ? { node: body.node } : {}), detail: String(status) }
  const errorCode = typeof body.errorCode === 'number' ? body.errorCode : undefined
  const detail = `${status}${errorCode !== undefined ? `/${errorCode}` : ''}`
  if (status >= 400 && status < 500 && errorCode !== undefined) return { outcome: 'fail', status, errorCode, detail }
  return { outcome: 'unknown', status, ...(errorCode !== undefined ? { errorCode } : {}), detail }
}
