// The v2 auth layer of the client API (spec section 18, MEM-9, HDR-1, ERR-4): the `/v2/auth/*`
// routes and the access checks the HTTP handler calls for keys (AUTH-13/14) and non-GET members
// requests (AUTH-4). Reads use this member's applied auth state; changes are hashed here (the
// proposing member) and replicated through Backend.proposeAuth. A backend without replicated auth
// (the in-memory single-member one) gets a local AuthState. Never changes state except by
// proposing, and never logs passwords.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Backend } from '../server.js'
import { requestFailure } from '../http/cluster-errors.js'
import { DEFAULT_MAX_REQUEST_BYTES, MalformedBodyError, readBody } from '../http/body.js'
import { goJSON } from '../http/json.js'
import { writeInternalError, writeMessageError, writeMethodNotAllowed, writeNotFound } from '../http/write-error.js'
import { AuthState, GUEST_ROLE, ROOT_ROLE, roleAllows, type AuthMutation, type AuthResult, type Role, type User } from './auth-state.js'
import { DecodeError, decodeRole, decodeUser } from './decode.js'
import { authorizationHeader, certificateNames, parseBasicAuth } from './credentials.js'
import { hashPassword, PasswordCache } from './password.js'

export interface AuthOptions {
  /** --client-cert-auth: a verified certificate's Common Name may name the user (AUTH-13). */
  clientCertAuth?: boolean
  /** Largest auth API body read (--max-request-bytes); larger ones are refused as invalid JSON. */
  maxRequestBytes?: number
  /** Hash function (tests may pass a cheaper one). */
  hash?: (password: string) => Promise<string>
}

/** The hooks createHandler takes (HandlerOptions). */
export interface AuthHooks {
  checkKeyAccess(req: IncomingMessage, rawKeyPath: string, recursive: boolean): boolean | Promise<boolean>
  checkRootAccess(req: IncomingMessage): boolean | Promise<boolean>
  extraRoutes(req: IncomingMessage, res: ServerResponse, path: string, rawQuery: string): boolean | Promise<boolean>
  /** The auth state this member serves from. */
  state(): AuthState
  /** Replicates one auth change (used by the routes; exposed for tests and embedding). */
  propose(m: AuthMutation): Promise<AuthResult>
}

type Identity = User | 'guest' | undefined

/** Builds the auth layer over a backend. */
export function createAuth(backend: Backend, opts: AuthOptions = {}): AuthHooks {
  const local = backend.authState ? undefined : new AuthState()
  const state = (): AuthState => (backend.authState ? backend.authState() : local!)
  const propose = async (m: AuthMutation): Promise<AuthResult> => {
    if (backend.proposeAuth) return backend.proposeAuth(m)
    const r = local!.apply(m)
    // As in the replicated state machine: an auth change consumes an etcd index (CONS-1).
    if (r.changed) await backend.propose({ op: 'internal' }).catch(() => undefined)
    return r
  }
  const hash = opts.hash ?? hashPassword
  const cache = new PasswordCache()
  const certAuth = opts.clientCertAuth === true

  /** The user a Basic header names, if the password matches; undefined otherwise. */
  function basicUser(header: string): User | undefined | Promise<User | undefined> {
    const cred = parseBasicAuth(header)
    if (!cred) return undefined
    const user = state().getUser(cred.username)
    if (!user) return undefined
    const ok = cache.check(user.user, user.password, cred.password)
    if (ok === true) return user
    return ok.then((good) => (good ? user : undefined))
  }

  function certUser(req: IncomingMessage): User | undefined {
    for (const cn of certificateNames(req)) {
      const u = state().getUser(cn)
      if (u) return u
    }
    return undefined
  }

  /** AUTH-13: the user of a keys request; 'guest' when it brings no credentials. */
  function keyIdentity(req: IncomingMessage): Identity | Promise<Identity> {
    const header = authorizationHeader(req)
    if (header === '') return (certAuth ? certUser(req) : undefined) ?? 'guest'
    return basicUser(header)
  }

  function allows(id: Identity, key: string, write: boolean, recursive: boolean): boolean {
    const s = state()
    if (id === undefined) return false
    if (id === 'guest') {
      // etcd checks the guest role without the recursive rule.
      const g = s.getRole(GUEST_ROLE)
      return g !== undefined && roleAllows(g, key, write, false)
    }
    for (const name of id.roles ?? []) {
      const role = s.getRole(name)
      if (role && roleAllows(role, key, write, recursive)) return true
    }
    return false
  }

  function checkKeyAccess(req: IncomingMessage, key: string, recursive: boolean): boolean | Promise<boolean> {
    if (!state().enabled) return true
    const write = req.method !== 'GET' && req.method !== 'HEAD'
    const id = keyIdentity(req)
    if (id instanceof Promise) return id.then((u) => allows(u, key, write, recursive))
    return allows(id, key, write, recursive)
  }

  /** AUTH-4: auth off, or a user holding the root role. */
  function checkRootAccess(req: IncomingMessage): boolean | Promise<boolean> {
    if (!state().enabled) return true
    const header = authorizationHeader(req)
    const isRoot = (u: User | undefined): boolean => u !== undefined && (u.roles ?? []).includes(ROOT_ROLE)
    if (header === '' && certAuth) return isRoot(certUser(req))
    const u = basicUser(header)
    if (u instanceof Promise) return u.then(isRoot)
    return isRoot(u)
  }

  // ---- responses ----

  function sendJSON(res: ServerResponse, status: number, value: unknown): void {
    const body = value === undefined ? '' : goJSON(value) + '\n'
    res.statusCode = status
    res.setHeader('Content-Type', 'application/json')
    res.setHeader('Content-Length', Buffer.byteLength(body))
    res.end(body)
  }

  function sendResult(res: ServerResponse, r: AuthResult): void {
    if (r.message !== undefined) writeMessageError(res, r.status, r.message)
    else sendJSON(res, r.status, r.json)
  }

  function noAuth(res: ServerResponse): void {
    writeMessageError(res, 401, 'Insufficient credentials')
  }

  /** Root check, then the cluster id header (HDR-1: only once the checks passed). */
  async function passRoot(req: IncomingMessage, res: ServerResponse, writeOnly: boolean): Promise<boolean> {
    const method = req.method ?? 'GET'
    if (!(writeOnly && (method === 'GET' || method === 'HEAD')) && !(await checkRootAccess(req))) {
      noAuth(res)
      return false
    }
    res.setHeader('X-Etcd-Cluster-Id', backend.clusterId())
    res.setHeader('Content-Type', 'application/json')
    return true
  }

  async function proposeAndSend(res: ServerResponse, m: AuthMutation): Promise<void> {
    let r: AuthResult
    try {
      r = await propose(m)
    } catch (e) {
      if (requestFailure(e)) return writeInternalError(res)
      throw e
    }
    sendResult(res, r)
  }

  async function readJSONBody(req: IncomingMessage, res: ServerResponse): Promise<string | undefined> {
    let body: string | undefined
    try {
      body = await readBody(req, opts.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES)
    } catch (e) {
      if (!(e instanceof MalformedBodyError)) throw e
      body = undefined
    }
    if (body === undefined) {
      res.setHeader('Connection', 'close')
      writeMessageError(res, 400, 'Invalid JSON in request body.')
    }
    return body
  }

  // ---- endpoints ----

  async function enableDisable(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET'
    if (method !== 'GET' && method !== 'PUT' && method !== 'DELETE') return writeMethodNotAllowed(res, 'GET,PUT,DELETE')
    if (!(await passRoot(req, res, true))) return
    if (method === 'GET') return sendJSON(res, 200, { enabled: state().enabled })
    return proposeAndSend(res, { op: method === 'PUT' ? 'enable' : 'disable' })
  }

  async function baseUsers(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET') return writeMethodNotAllowed(res, 'GET')
    if (!(await passRoot(req, res, false))) return
    const s = state()
    const names = s.userNames()
    const users = names.length === 0 ? null : names.map((n) => {
      const u = s.getUser(n)!
      const roles: Role[] = []
      for (const rn of u.roles ?? []) {
        const r = s.getRole(rn)
        if (r) roles.push(r)
      }
      return roles.length > 0 ? { user: u.user, roles } : { user: u.user }
    })
    sendJSON(res, 200, { users })
  }

  async function baseRoles(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET') return writeMethodNotAllowed(res, 'GET')
    if (!(await passRoot(req, res, false))) return
    const s = state()
    sendJSON(res, 200, { roles: s.roleNames().map((n) => s.getRole(n)!) })
  }

  async function forUser(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    const method = req.method ?? 'GET'
    if (method !== 'GET' && method !== 'PUT' && method !== 'DELETE') return writeMethodNotAllowed(res, 'GET,PUT,DELETE')
    if (!(await passRoot(req, res, false))) return
    if (method === 'GET') {
      const s = state()
      const u = s.getUser(name)
      if (!u) return writeMessageError(res, 404, `auth: User ${name} does not exist.`)
      const roles: Role[] = []
      for (const rn of u.roles ?? []) {
        const r = s.getRole(rn)
        if (!r) return writeMessageError(res, 404, `auth: Role ${rn} does not exist.`)
        roles.push(r)
      }
      return sendJSON(res, 200, roles.length > 0 ? { user: u.user, roles } : { user: u.user })
    }
    if (method === 'DELETE') return proposeAndSend(res, { op: 'deleteUser', name })
    const body = await readJSONBody(req, res)
    if (body === undefined) return
    let u
    try {
      u = decodeUser(body)
    } catch (e) {
      if (e instanceof DecodeError) return writeMessageError(res, 400, 'Invalid JSON in request body.')
      throw e
    }
    if (u.user !== name) return writeMessageError(res, 400, 'User JSON name does not match the name in the URL')
    const grantRevoke = (u.grant?.length ?? 0) > 0 || (u.revoke?.length ?? 0) > 0
    if (grantRevoke && (u.roles?.length ?? 0) > 0) return writeMessageError(res, 400, 'User JSON contains both roles and grant/revoke')
    const passwordHash = u.password === '' ? '' : await hash(u.password)
    return proposeAndSend(res, { op: 'putUser', u: { user: u.user, passwordHash, roles: u.roles, grant: u.grant, revoke: u.revoke } })
  }

  async function forRole(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    const method = req.method ?? 'GET'
    if (method !== 'GET' && method !== 'PUT' && method !== 'DELETE') return writeMethodNotAllowed(res, 'GET,PUT,DELETE')
    if (!(await passRoot(req, res, false))) return
    if (method === 'GET') {
      const r = state().getRole(name)
      if (!r) return writeMessageError(res, 404, `auth: Role ${name} does not exist.`)
      return sendJSON(res, 200, r)
    }
    if (method === 'DELETE') return proposeAndSend(res, { op: 'deleteRole', name })
    const body = await readJSONBody(req, res)
    if (body === undefined) return
    let r
    try {
      r = decodeRole(body)
    } catch (e) {
      if (e instanceof DecodeError) return writeMessageError(res, 400, 'Invalid JSON in request body.')
      throw e
    }
    if (r.role !== name) return writeMessageError(res, 400, 'Role JSON name does not match the name in the URL')
    const empty = (p: typeof r.grant): boolean => p === null || ((p.kv.read?.length ?? 0) === 0 && (p.kv.write?.length ?? 0) === 0)
    if (!(empty(r.grant) && empty(r.revoke)) && !empty(r.permissions)) {
      return writeMessageError(res, 400, 'Role JSON contains both permissions and grant/revoke')
    }
    return proposeAndSend(res, { op: 'putRole', r })
  }

  /** `/v2/auth/users...` or `/v2/auth/roles...`: Go's path.Clean + split on `/`. */
  function subRoute(req: IncomingMessage, res: ServerResponse, rest: string, kind: 'users' | 'roles'): Promise<void> {
    // rest is '/<kind>/...' here; the handler already redirected unclean paths, so only a
    // trailing slash can remain to be cleaned.
    const cleaned = rest.length > 1 && rest.endsWith('/') ? rest.slice(0, -1) : rest
    const pieces = cleaned.split('/')
    if (pieces.length === 2) return kind === 'users' ? baseUsers(req, res) : baseRoles(req, res)
    if (pieces.length !== 3) {
      writeMessageError(res, 400, 'Invalid path')
      return Promise.resolve()
    }
    return kind === 'users' ? forUser(req, res, pieces[2]!) : forRole(req, res, pieces[2]!)
  }

  async function extraRoutes(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    if (!path.startsWith('/v2/auth/')) return false
    const rest = path.slice(8) // '/enable', '/users/...'
    if (rest === '/enable') await enableDisable(req, res)
    else if (rest === '/users') await baseUsers(req, res)
    else if (rest.startsWith('/users/')) await subRoute(req, res, rest, 'users')
    else if (rest === '/roles') await baseRoles(req, res)
    else if (rest.startsWith('/roles/')) await subRoute(req, res, rest, 'roles')
    else writeNotFound(res)
    return true
  }

  return { checkKeyAccess, checkRootAccess, extraRoutes, state, propose }
}
