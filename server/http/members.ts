// /v2/members (MEM-1..6): list, leader, and add/remove/update delegated to the Backend. Errors are
// `{"message":...}` without newline (ERR-4); lists and members end with `\n` (GEN-7).
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Backend, MemberInfo } from '../server.js'
import { memberChangeFailure } from './cluster-errors.js'
import { goJSON } from './json.js'
import { MalformedBodyError, readBody } from './body.js'
import { goJsonSyntaxError } from './go-json-error.js'
import { writeMessageError, writeMethodNotAllowed } from './write-error.js'

function sendLine(res: ServerResponse, status: number, value: unknown): void {
  const body = goJSON(value) + '\n'
  res.statusCode = status
  res.setHeader('Content-Type', 'application/json')
  res.setHeader('Content-Length', Buffer.byteLength(body))
  res.end(body)
}

function memberJSON(m: MemberInfo): MemberInfo {
  return { id: m.id, name: m.name, peerURLs: [...m.peerURLs].sort(), clientURLs: [...m.clientURLs].sort() }
}

/** Go url.Parse + etcd types.NewURLs validation; returns an error message or the sorted URLs. */
export function validatePeerURLs(value: unknown): string[] | string {
  if (value === undefined || value === null) return 'no valid URLs given'
  if (!Array.isArray(value)) return 'json: cannot unmarshal ' + jsonKind(value) + ' into Go struct field .peerURLs of type []string'
  if (value.length === 0) return 'no valid URLs given'
  const out: string[] = []
  for (let raw of value) {
    if (raw === null) raw = '' // Go decodes null into a string as ""
    if (typeof raw !== 'string') return 'json: cannot unmarshal ' + jsonKind(raw) + ' into Go struct field .peerURLs of type string'
    const s = raw.trim()
    const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(s)
    const scheme = m?.[1]?.toLowerCase()
    if (!m || (scheme !== 'http' && scheme !== 'https' && scheme !== 'unix' && scheme !== 'unixs')) {
      return `URL scheme must be http, https, unix, or unixs: ${s}`
    }
    if (!/^(\[[0-9a-fA-F:.]+\]|[^:\[\]]*):\d*$/.test(m[2]!)) return `URL address does not have the form "host:port": ${s}`
    if (m[3] !== '') return `URL must not contain a path: ${s}`
    out.push(s)
  }
  return out.sort()
}

function jsonKind(v: unknown): string {
  if (typeof v === 'number') return 'number'
  if (typeof v === 'boolean') return 'bool'
  if (typeof v === 'string') return 'string'
  if (Array.isArray(v)) return 'array'
  return 'object'
}

/** Reads and validates a `{"peerURLs":[...]}` body; answers the error itself and returns undefined. */
async function readPeerURLs(req: IncomingMessage, res: ServerResponse, limit: number): Promise<string[] | undefined> {
  const rawType = req.headers['content-type'] ?? ''
  let ctype = rawType
  const semi = ctype.indexOf(';')
  if (semi >= 0) ctype = ctype.slice(0, semi).trim().toLowerCase()
  if (ctype !== 'application/json') {
    writeMessageError(res, 415, `Bad Content-Type ${ctype}, accept application/json`)
    return undefined
  }
  let body: string | undefined
  try {
    body = await readBody(req, limit)
  } catch (e) {
    if (!(e instanceof MalformedBodyError)) throw e
    writeMessageError(res, 400, e.message)
    return undefined
  }
  if (body === undefined) {
    res.setHeader('Connection', 'close')
    writeMessageError(res, 400, 'http: request body too large')
    return undefined
  }
  // Go's scanner first (it also enforces Go's nesting limit, which JSON.parse does not have).
  const syntax = goJsonSyntaxError(body)
  let parsed: unknown
  try {
    if (syntax !== undefined) throw new SyntaxError(syntax)
    parsed = JSON.parse(body)
  } catch {
    writeMessageError(res, 400, syntax ?? 'unexpected end of JSON input')
    return undefined
  }
  // Go decodes `null` into the zero struct: no URLs (MEM-4).
  if (parsed === null) parsed = {}
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    writeMessageError(res, 400, 'json: cannot unmarshal ' + jsonKind(parsed) + ' into Go value of type struct { PeerURLs []string "json:\\"peerURLs\\"" }')
    return undefined
  }
  const urls = validatePeerURLs((parsed as { peerURLs?: unknown }).peerURLs)
  if (typeof urls === 'string') {
    writeMessageError(res, 400, urls)
    return undefined
  }
  return urls
}

function writeChangeError(res: ServerResponse, e: unknown, op: 'add' | 'remove' | 'update'): void {
  const f = memberChangeFailure(e, op)
  if (!f) throw e
  writeMessageError(res, f.status, f.message)
}

/**
 * Serves a request below /v2/members. `rest` is the decoded path after `/v2/members` (may be '' or
 * start with '/'). Method already checked against GET, POST, DELETE, PUT.
 */
export async function serveMembers(req: IncomingMessage, res: ServerResponse, backend: Backend, rest: string, limit: number): Promise<void> {
  res.setHeader('X-Etcd-Cluster-Id', backend.clusterId())
  const sub = rest.startsWith('/') ? rest.slice(1) : rest
  switch (req.method) {
    case 'GET': {
      if (sub === '') {
        sendLine(res, 200, { members: backend.members().map(memberJSON) })
      } else if (sub === 'leader') {
        const lead = backend.leaderId()
        const m = lead === undefined ? undefined : backend.members().find((x) => x.id === lead)
        if (!m) writeMessageError(res, 503, 'During election')
        else sendLine(res, 200, memberJSON(m))
      } else {
        writeMessageError(res, 404, 'Not found')
      }
      return
    }
    case 'POST': {
      const urls = await readPeerURLs(req, res, limit)
      if (!urls) return
      try {
        const m = await backend.addMember(urls)
        sendLine(res, 201, memberJSON(m))
      } catch (e) {
        writeChangeError(res, e, 'add')
      }
      return
    }
    case 'DELETE':
    case 'PUT': {
      if (sub === '') {
        writeMethodNotAllowed(res, undefined)
        return
      }
      // Go strconv.ParseUint(sub, 16, 64): any number of leading zeros, at most 64 bits.
      const id = sub.toLowerCase().replace(/^0+(?=.)/, '')
      if (!/^[0-9a-fA-F]+$/.test(sub) || id.length > 16) {
        writeMessageError(res, 404, `No such member: ${sub}`)
        return
      }
      try {
        if (req.method === 'DELETE') {
          await backend.removeMember(id)
        } else {
          const urls = await readPeerURLs(req, res, limit)
          if (!urls) return
          await backend.updateMember(id, urls)
        }
        res.statusCode = 204
        res.end()
      } catch (e) {
        writeChangeError(res, e, req.method === 'DELETE' ? 'remove' : 'update')
      }
      return
    }
  }
}
