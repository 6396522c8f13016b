// The replicated v2 auth data (spec section 18: AUTH-2..12, AUTH-14, AUTH-18, AUTH-20): users with
// password hashes and role names, roles with key-prefix permissions, the enabled flag, and the
// deterministic application of auth mutations. Every member applies the same committed mutations
// in the same order and must reach the same state: no clock, no randomness, no hashing here (the
// proposer hashes passwords before proposing). No HTTP and no I/O here.

/** Read/write pattern lists; `null` is Go's nil slice (shown as `null`, AUTH-20). */
export interface KvPermissions {
  read: string[] | null
  write: string[] | null
}

/** `{"kv":{"read":[...],"write":[...]}}`. */
export interface Permissions {
  kv: KvPermissions
}

/**
 * A role as stored and shown. `grant`/`revoke` are only present when a create request carried
 * empty ones: etcd stores (and then shows) the request as given.
 */
export interface Role {
  role: string
  permissions: Permissions
  grant?: Permissions
  revoke?: Permissions
}

/** A user as stored: `password` is a hash (server/auth/password.ts), never plain text. */
export interface User {
  user: string
  password: string
  roles: string[] | null
}

/** A decoded `PUT /v2/auth/users/<name>` body with the password already hashed ('' = none given). */
export interface UserInput {
  user: string
  passwordHash: string
  roles: string[] | null
  grant: string[] | null
  revoke: string[] | null
}

/** A decoded `PUT /v2/auth/roles/<name>` body. */
export interface RoleInput {
  role: string
  permissions: Permissions
  grant: Permissions | null
  revoke: Permissions | null
}

/** One replicated auth change (the `auth` Payload of a Raft entry). */
export type AuthMutation =
  | { op: 'enable' }
  | { op: 'disable' }
  | { op: 'putUser'; u: UserInput }
  | { op: 'deleteUser'; name: string }
  | { op: 'putRole'; r: RoleInput }
  | { op: 'deleteRole'; name: string }

/**
 * What applying a mutation answered: an HTTP status plus either a JSON value for the body
 * (`json`; `undefined` = empty body) or an error text (`{"message":...}`, ERR-4).
 */
export interface AuthResult {
  status: number
  json?: unknown
  message?: string
  /** Whether the state changed (a changed user invalidates its cached password checks). */
  changed: boolean
}

/** Snapshot form of the auth data. */
export interface AuthJSON {
  enabled: boolean
  users: User[]
  roles: Role[]
}

export const ROOT_ROLE = 'root'
export const GUEST_ROLE = 'guest'

/** The built-in root role (AUTH-10). */
export function rootRole(): Role {
  return { role: ROOT_ROLE, permissions: { kv: { read: ['/*'], write: ['/*'] } } }
}

function guestRole(): Role {
  return { role: GUEST_ROLE, permissions: { kv: { read: ['/*'], write: ['/*'] } } }
}

function err(status: number, message: string): AuthResult {
  return { status, message: 'auth: ' + message, changed: false }
}

/** Go's sort.Strings order (byte-wise on UTF-8; UTF-16 order differs only for astral chars). */
function sortStrings(a: string[]): string[] {
  return a.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))
}

function sameList(a: string[] | null, b: string[] | null): boolean {
  // reflect.DeepEqual: a nil slice differs from an empty one; order matters.
  if (a === null || b === null) return a === b
  return a.length === b.length && a.every((x, i) => x === b[i])
}

function samePerms(a: Permissions | undefined, b: Permissions | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  return sameList(a.kv.read, b.kv.read) && sameList(a.kv.write, b.kv.write)
}

function permsEmpty(p: Permissions | null): boolean {
  return p === null || ((p.kv.read?.length ?? 0) === 0 && (p.kv.write?.length ?? 0) === 0)
}

/** Pattern match for one key (AUTH-14): `x*` is a prefix, anything else must be equal. */
export function simpleMatch(pattern: string, key: string): boolean {
  if (pattern === '') return false
  if (pattern.endsWith('*')) return key.startsWith(pattern.slice(0, -1))
  return key === pattern
}

/** Recursive access (AUTH-14): only `*` patterns count. */
export function prefixMatch(pattern: string, key: string): boolean {
  if (pattern === '' || !pattern.endsWith('*')) return false
  return key.startsWith(pattern.slice(0, -1))
}

/** Whether `role` allows `key` (AUTH-14). */
export function roleAllows(role: Role, key: string, write: boolean, recursive: boolean): boolean {
  if (role.role === ROOT_ROLE) return true
  const list = write ? role.permissions.kv.write : role.permissions.kv.read
  if (!list) return false
  const match = recursive ? prefixMatch : simpleMatch
  for (const p of list) if (match(p, key)) return true
  return false
}

function cloneRole(r: Role): Role {
  const c: Role = { role: r.role, permissions: clonePerms(r.permissions) }
  if (r.grant) c.grant = clonePerms(r.grant)
  if (r.revoke) c.revoke = clonePerms(r.revoke)
  return c
}

function clonePerms(p: Permissions): Permissions {
  return { kv: { read: p.kv.read ? [...p.kv.read] : null, write: p.kv.write ? [...p.kv.write] : null } }
}

function setValues(base: string[] | null): Set<string> {
  return new Set(base ?? [])
}

/** Users, roles and the enabled flag of one member. */
export class AuthState {
  enabled = false
  private readonly users = new Map<string, User>()
  private readonly roles = new Map<string, Role>()
  /** Bumped on every change; caches compare it. */
  version = 0

  /** A user with the root role attached when its name is `root` (etcd attaches it on read). */
  getUser(name: string): User | undefined {
    const u = this.users.get(name)
    if (!u) return undefined
    return name === 'root' ? attachRoot(u) : u
  }

  /** A role (the built-in root role for `root`). */
  getRole(name: string): Role | undefined {
    if (name === ROOT_ROLE) return rootRole()
    return this.roles.get(name)
  }

  /** User names, sorted. */
  userNames(): string[] {
    return sortStrings([...this.users.keys()])
  }

  /** Role names including `root`, sorted. */
  roleNames(): string[] {
    return sortStrings([ROOT_ROLE, ...this.roles.keys()])
  }

  /** Applies one committed mutation; deterministic. */
  apply(m: AuthMutation): AuthResult {
    const r = this.applyInner(m)
    if (r.changed) this.version++
    return r
  }

  private applyInner(m: AuthMutation): AuthResult {
    switch (m.op) {
      case 'enable':
        if (this.enabled) return err(409, 'already enabled')
        if (!this.users.has('root')) return err(409, 'No root user available, please create one')
        if (!this.roles.has(GUEST_ROLE)) this.roles.set(GUEST_ROLE, guestRole())
        this.enabled = true
        return { status: 200, changed: true }
      case 'disable':
        if (!this.enabled) return err(409, 'already disabled')
        this.enabled = false
        return { status: 200, changed: true }
      case 'putUser':
        return this.putUser(m.u)
      case 'deleteUser':
        if (this.enabled && m.name === 'root') return err(403, 'Cannot delete root user while auth is enabled.')
        if (!this.users.delete(m.name)) return err(404, `User ${m.name} does not exist`)
        return { status: 200, changed: true }
      case 'putRole':
        return this.putRole(m.r)
      case 'deleteRole':
        if (m.name === ROOT_ROLE) return err(403, `Cannot modify role ${m.name}: is root role.`)
        if (!this.roles.delete(m.name)) return err(404, `Role ${m.name} doesn't exist.`)
        return { status: 200, changed: true }
    }
  }

  /** AUTH-7: create, create-or-update, or grant/revoke update, as etcd's handler chooses. */
  private putUser(u: UserInput): AuthResult {
    const grantRevoke = (u.grant?.length ?? 0) > 0 || (u.revoke?.length ?? 0) > 0
    if (!grantRevoke) {
      if ((u.roles?.length ?? 0) > 0) return this.createUser(u, 200)
      if (this.users.has(u.user)) return this.updateUser(u)
      return this.createUser(u, 201)
    }
    return this.updateUser(u)
  }

  private createUser(u: UserInput, status: number): AuthResult {
    let roles = u.roles === null ? null : [...u.roles]
    if (u.user === 'root') roles = attachRootRoles(roles)
    if (u.passwordHash === '') return err(400, `Cannot create user ${u.user} with an empty password`)
    if (this.users.has(u.user)) return err(409, `User ${u.user} already exists.`)
    this.users.set(u.user, { user: u.user, password: u.passwordHash, roles })
    return { status, json: { user: u.user, roles }, changed: true }
  }

  private updateUser(u: UserInput): AuthResult {
    const old = this.getUser(u.user)
    if (!old) return err(404, `User ${u.user} does not exist.`)
    const password = u.passwordHash !== '' ? u.passwordHash : old.password
    const current = new Set(old.roles ?? [])
    for (const g of u.grant ?? []) {
      if (current.has(g)) return err(409, `Granting duplicate role ${g} for user ${u.user}`)
      current.add(g)
    }
    for (const r of u.revoke ?? []) {
      if (!current.has(r)) return err(409, `Revoking ungranted role ${r} for user ${u.user}`)
      current.delete(r)
    }
    const roles = sortStrings([...current])
    if (password === old.password && sameList(old.roles, roles)) {
      return err(400, 'User not updated. Use grant/revoke/password to update the user.')
    }
    this.users.set(u.user, { user: u.user, password, roles })
    return { status: 200, json: { user: u.user, roles }, changed: true }
  }

  /** AUTH-11: create without grant/revoke, else update. */
  private putRole(r: RoleInput): AuthResult {
    if (permsEmpty(r.grant) && permsEmpty(r.revoke)) {
      if (r.role === ROOT_ROLE) return err(403, `Cannot modify role ${r.role}: is root role.`)
      if (this.roles.has(r.role)) return err(409, `Role ${r.role} already exists.`)
      const role: Role = { role: r.role, permissions: clonePerms(r.permissions) }
      if (r.grant) role.grant = clonePerms(r.grant)
      if (r.revoke) role.revoke = clonePerms(r.revoke)
      this.roles.set(r.role, role)
      return { status: 201, json: cloneRole(role), changed: true }
    }
    if (!permsEmpty(r.permissions)) {
      // checked by the HTTP layer before proposing; kept here so apply alone is complete
      return { status: 400, message: 'Role JSON contains both permissions and grant/revoke', changed: false }
    }
    if (r.role === ROOT_ROLE) return err(403, `Cannot modify role ${r.role}: is root role.`)
    const old = this.roles.get(r.role)
    if (!old) return err(404, `Role ${r.role} does not exist.`)
    let perms = old.permissions
    if (r.grant) {
      const read = setValues(perms.kv.read)
      for (const p of r.grant.kv.read ?? []) {
        if (read.has(p)) return err(409, `Granting duplicate read permission ${p}`)
        read.add(p)
      }
      const write = setValues(perms.kv.write)
      for (const p of r.grant.kv.write ?? []) {
        if (write.has(p)) return err(409, `Granting duplicate write permission ${p}`)
        write.add(p)
      }
      perms = { kv: { read: sortStrings([...read]), write: sortStrings([...write]) } }
    }
    if (r.revoke) {
      const read = setValues(perms.kv.read)
      for (const p of r.revoke.kv.read ?? []) read.delete(p)
      const write = setValues(perms.kv.write)
      for (const p of r.revoke.kv.write ?? []) write.delete(p)
      perms = { kv: { read: sortStrings([...read]), write: sortStrings([...write]) } }
    }
    const next: Role = { role: r.role, permissions: perms }
    if (samePerms(old.permissions, next.permissions) && old.grant === undefined && old.revoke === undefined) {
      return err(400, 'Role not updated. Use grant/revoke to update the role.')
    }
    this.roles.set(r.role, next)
    return { status: 200, json: cloneRole(next), changed: true }
  }

  toJSON(): AuthJSON {
    return { enabled: this.enabled, users: [...this.users.values()], roles: [...this.roles.values()] }
  }

  static fromJSON(j: AuthJSON | undefined): AuthState {
    const s = new AuthState()
    if (!j) return s
    s.enabled = j.enabled
    for (const u of j.users) s.users.set(u.user, u)
    for (const r of j.roles) s.roles.set(r.role, r)
    return s
  }
}

function attachRootRoles(roles: string[] | null): string[] {
  if (roles?.includes(ROOT_ROLE)) return roles
  return [...(roles ?? []), ROOT_ROLE]
}

function attachRoot(u: User): User {
  if (u.roles?.includes(ROOT_ROLE)) return u
  return { ...u, roles: attachRootRoles(u.roles) }
}
