// Decoding of the auth API's JSON bodies the way etcd's Go handler does (AUTH-7, AUTH-11):
// json.Decoder reads the first JSON value and ignores what follows it; object keys match struct
// fields case-insensitively; `null` leaves a string unchanged and makes a list nil; any type
// mismatch is an error (-> 400 "Invalid JSON in request body."). Pure functions, no I/O.
import type { KvPermissions, Permissions } from './auth-state.js'

/** A body that is not acceptable JSON for the target type. */
export class DecodeError extends Error {}

/** Plain-text user body (password not hashed yet). */
export interface UserBody {
  user: string
  password: string
  roles: string[] | null
  grant: string[] | null
  revoke: string[] | null
}

/** Role body; grant/revoke null when absent or JSON null (Go nil pointers). */
export interface RoleBody {
  role: string
  permissions: Permissions
  grant: Permissions | null
  revoke: Permissions | null
}

/** Index just past the first JSON value in `s` starting at `i` (after whitespace), or -1. */
function endOfFirstValue(s: string): number {
  let i = 0
  while (i < s.length && ' \t\r\n'.includes(s[i]!)) i++
  if (i >= s.length) return -1
  const c = s[i]!
  if (c === '{' || c === '[') {
    let depth = 0
    let inStr = false
    for (; i < s.length; i++) {
      const ch = s[i]!
      if (inStr) {
        if (ch === '\\') i++
        else if (ch === '"') inStr = false
        continue
      }
      if (ch === '"') inStr = true
      else if (ch === '{' || ch === '[') depth++
      else if (ch === '}' || ch === ']') {
        depth--
        if (depth === 0) return i + 1
      }
    }
    return -1
  }
  if (c === '"') {
    for (i++; i < s.length; i++) {
      if (s[i] === '\\') i++
      else if (s[i] === '"') return i + 1
    }
    return -1
  }
  const m = /^[-+0-9a-zA-Z.]+/.exec(s.slice(i))
  return m ? i + m[0].length : -1
}

/** Parses the first JSON value of `body` (json.Decoder.Decode). Throws DecodeError. */
export function decodeFirst(body: string): unknown {
  const end = endOfFirstValue(body)
  if (end < 0) throw new DecodeError('unexpected end of JSON input')
  try {
    return JSON.parse(body.slice(0, end))
  } catch {
    throw new DecodeError('invalid JSON')
  }
}

function fold(k: string): string {
  return k.toLowerCase()
}

function asString(v: unknown, cur: string): string {
  if (v === null) return cur
  if (typeof v !== 'string') throw new DecodeError('type')
  return v
}

function asList(v: unknown): string[] | null {
  if (v === null) return null
  if (!Array.isArray(v)) throw new DecodeError('type')
  return v.map((x) => {
    if (x === null) return ''
    if (typeof x !== 'string') throw new DecodeError('type')
    return x
  })
}

function asObject(v: unknown): Record<string, unknown> | null {
  if (v === null) return null
  if (typeof v !== 'object' || Array.isArray(v)) throw new DecodeError('type')
  return v as Record<string, unknown>
}

function decodeKv(v: unknown, into: KvPermissions): void {
  const o = asObject(v)
  if (!o) return
  for (const [k, val] of Object.entries(o)) {
    const f = fold(k)
    if (f === 'read') into.read = asList(val)
    else if (f === 'write') into.write = asList(val)
  }
}

function decodePermissions(v: unknown, into: Permissions): void {
  const o = asObject(v)
  if (!o) return
  for (const [k, val] of Object.entries(o)) if (fold(k) === 'kv') decodeKv(val, into.kv)
}

function emptyPermissions(): Permissions {
  return { kv: { read: null, write: null } }
}

/** Decodes a user body. Throws DecodeError. */
export function decodeUser(body: string): UserBody {
  const out: UserBody = { user: '', password: '', roles: null, grant: null, revoke: null }
  const o = asObject(decodeFirst(body))
  if (!o) return out
  for (const [k, v] of Object.entries(o)) {
    switch (fold(k)) {
      case 'user':
        out.user = asString(v, out.user)
        break
      case 'password':
        out.password = asString(v, out.password)
        break
      case 'roles':
        out.roles = asList(v)
        break
      case 'grant':
        out.grant = asList(v)
        break
      case 'revoke':
        out.revoke = asList(v)
        break
    }
  }
  return out
}

/** Decodes a role body. Throws DecodeError. */
export function decodeRole(body: string): RoleBody {
  const out: RoleBody = { role: '', permissions: emptyPermissions(), grant: null, revoke: null }
  const o = asObject(decodeFirst(body))
  if (!o) return out
  for (const [k, v] of Object.entries(o)) {
    switch (fold(k)) {
      case 'role':
        out.role = asString(v, out.role)
        break
      case 'permissions':
        decodePermissions(v, out.permissions)
        break
      case 'grant':
        if (v === null) out.grant = null
        else decodePermissions(v, (out.grant ??= emptyPermissions()))
        break
      case 'revoke':
        if (v === null) out.revoke = null
        else decodePermissions(v, (out.revoke ??= emptyPermissions()))
        break
    }
  }
  return out
}
