// Writers for keys-API errors (ERR-1, using the store's StoreError and error table) and for the
// `{"message":...}` / plain-text errors of the other endpoints and of routing (ERR-4, GEN-1, GEN-4).
// Only writes responses; decides nothing about which error applies.
import type { ServerResponse } from 'node:http'
import type { StoreError } from '../store/errors.js'
import { goJSON } from './json.js'

/**
 * Writes a keys-API error (ERR-1): JSON body + `\n`, `X-Etcd-Cluster-Id` (HDR-1), `X-Etcd-Index`
 * = index, no X-Raft-* headers. HEAD gets the headers only (KEYS-8).
 */
export function writeKeyError(res: ServerResponse, e: StoreError, head: boolean, clusterId: string): void {
  const body = e.body()
  res.writeHead(e.status, [
    'X-Etcd-Cluster-Id', clusterId,
    'Content-Type', 'application/json',
    'X-Etcd-Index', String(e.index),
    'Content-Length', String(Buffer.byteLength(body)),
  ])
  if (head) res.end()
  else res.end(body)
}

/** Writes `{"message":"..."}` without a trailing newline (ERR-4). */
export function writeMessageError(res: ServerResponse, status: number, message: string): void {
  const body = goJSON({ message })
  res.statusCode = status
  res.setHeader('Content-Type', 'application/json')
  res.setHeader('Content-Length', Buffer.byteLength(body))
  res.end(body)
}

/** A plain-text error as Go's http.Error writes it (GEN-1, GEN-4). */
export function writeTextError(res: ServerResponse, status: number, text: string): void {
  const body = text + '\n'
  res.statusCode = status
  res.setHeader('Content-Type', 'text/plain; charset=utf-8')
  res.setHeader('X-Content-Type-Options', 'nosniff')
  res.setHeader('Content-Length', Buffer.byteLength(body))
  res.end(body)
}

/** `404 page not found` (GEN-1). */
export function writeNotFound(res: ServerResponse): void {
  writeTextError(res, 404, '404 page not found')
}

/** 405 with an `Allow` list (GEN-4); `allow` undefined omits the header (the members exception). */
export function writeMethodNotAllowed(res: ServerResponse, allow: string | undefined): void {
  if (allow !== undefined) res.setHeader('Allow', allow)
  writeTextError(res, 405, 'Method Not Allowed')
}

/** Unanticipated failure on a non-keys endpoint (ERR-4). */
export function writeInternalError(res: ServerResponse): void {
  writeMessageError(res, 500, 'Internal Server Error')
}
