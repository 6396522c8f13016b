// Unit level of server/auth: Basic-auth parsing as Go's Request.BasicAuth (AUTH-13), etcd's
// permission patterns (AUTH-14), Go-style body decoding, scrypt hashes and the password cache
// (AUTH-16), and determinism of AuthState.apply (every member must reach the same state).
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { parseBasicAuth } from '../../server/auth/credentials.js'
import { AuthState, prefixMatch, roleAllows, rootRole, simpleMatch, type AuthMutation } from '../../server/auth/auth-state.js'
import { DecodeError, decodeRole, decodeUser } from '../../server/auth/decode.js'
import { checkPassword, hashPassword, PasswordCache } from '../../server/auth/password.js'

const test = suite('auth units')
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64')

test('Basic auth: case-insensitive scheme, strict base64, split at the first colon', () => {
  assert.equal(parseBasicAuth('Basic ' + b64('a:b:c')), { username: 'a', password: 'b:c' })
  assert.equal(parseBasicAuth('bAsIc ' + b64('ü:p')), { username: 'ü', password: 'p' })
  assert.equal(parseBasicAuth('Basic ' + b64(':')), { username: '', password: '' })
  for (const bad of ['', 'Basic', 'Basic ', 'Bearer ' + b64('a:b'), 'Basic ' + b64('nocolon'), 'Basic ' + b64('a:bc').replace(/=+$/, ''), 'Basic !!!!', 'Basic  ' + b64('a:b'), 'Basic ' + b64('a:b') + ' x', 'Basic =YWI6']) {
    assert.is(parseBasicAuth(bad), undefined, bad)
  }
})

test('patterns: `x*` is a prefix, anything else exact; recursive needs a `*` pattern; root allows all', () => {
  assert.ok(simpleMatch('/foo*', '/foo'))
  assert.ok(simpleMatch('/foo*', '/foobar'))
  assert.ok(simpleMatch('*', ''))
  assert.not.ok(simpleMatch('/foo', '/foo/'))
  assert.not.ok(simpleMatch('', ''))
  assert.ok(prefixMatch('/a/app/*', '/a/app/'))
  assert.not.ok(prefixMatch('/a/app/*', '/a/app'))
  assert.not.ok(prefixMatch('/a/shared', '/a/shared'))
  const app = { role: 'app', permissions: { kv: { read: ['/a/app/*', '/a/shared'], write: null } } }
  assert.ok(roleAllows(app, '/a/shared', false, false))
  assert.not.ok(roleAllows(app, '/a/shared', false, true))
  assert.not.ok(roleAllows(app, '/a/app/x', true, false))
  assert.ok(roleAllows(rootRole(), '/anything', true, true))
})

test('body decoding follows Go: first value, case-insensitive keys, null, type errors', () => {
  assert.equal(decodeUser('{"USER":"a","Password":"p","roles":null} trailing'), { user: 'a', password: 'p', roles: null, grant: null, revoke: null })
  assert.equal(decodeUser('null'), { user: '', password: '', roles: null, grant: null, revoke: null })
  assert.is(decodeUser('{"user":"a","password":null}').password, '')
  assert.equal(decodeUser('{"user":"a","grant":[null,"x"]}').grant, ['', 'x'])
  for (const bad of ['', 'notjson', '[]', '"s"', '5', '{"user":1}', '{"roles":"x"}', '{"roles":[1]}', '{"user":"a"']) {
    assert.throws(() => decodeUser(bad), (e: unknown) => e instanceof DecodeError, bad)
  }
  assert.equal(decodeRole('{"role":"r"}').permissions, { kv: { read: null, write: null } })
  assert.equal(decodeRole('{"role":"r","grant":{}}').grant, { kv: { read: null, write: null } })
  assert.is(decodeRole('{"role":"r","grant":null}').grant, null)
  assert.throws(() => decodeRole('{"role":"r","permissions":{"kv":{"read":"x"}}}'), (e: unknown) => e instanceof DecodeError)
})

test('scrypt hashes: salted, verifiable, malformed ones never match; the cache follows the stored hash', async () => {
  const [h1, h2] = await Promise.all([hashPassword('pw'), hashPassword('pw')])
  assert.is.not(h1, h2, 'random salt')
  assert.ok(await checkPassword(h1, 'pw'))
  assert.not.ok(await checkPassword(h1, 'pW'))
  for (const bad of ['', 'pw', '$scrypt$1$8$1$AAAA$AAAA', h1.replace('$16384$', '$1048576$'), h1.slice(0, -4)]) assert.not.ok(await checkPassword(bad, 'pw'), bad)
  const cache = new PasswordCache(2)
  assert.instance(cache.check('u', h1, 'pw'), Promise)
  assert.ok(await cache.check('u', h1, 'pw'))
  assert.is(cache.check('u', h1, 'pw'), true, 'cached: synchronous')
  assert.instance(cache.check('u', h2, 'pw'), Promise, 'a new hash for the user is checked again')
  assert.not.ok(await cache.check('u', h1, 'wrong'))
  assert.instance(cache.check('u', h1, 'wrong'), Promise, 'failures are not cached')
  const a = cache.check('v', h1, 'pw')
  const b = cache.check('v', h1, 'pw')
  assert.is(a, b, 'concurrent checks share one KDF run')
  await a
  // At most two KDF runs at a time (libuv's pool is shared with file I/O); all of them finish.
  const limited = new PasswordCache(100, 2) as unknown as PasswordCache & { running: number; waiting: unknown[] }
  let peak = 0
  const runs = Array.from({ length: 6 }, (_, i) => limited.check('u' + i, h1, i % 2 ? 'pw' : 'x'))
  const probe = setInterval(() => (peak = Math.max(peak, limited.running)), 1)
  const results = await Promise.all(runs)
  clearInterval(probe)
  assert.equal(results, [false, true, false, true, false, true])
  assert.ok(peak <= 2, `peak ${peak}`)
  assert.is(limited.running, 0)
  assert.is(limited.waiting.length, 0)
})

test('AuthState.apply is deterministic and round-trips through JSON', () => {
  const muts: AuthMutation[] = [
    { op: 'enable' },
    { op: 'putUser', u: { user: 'root', passwordHash: 'h1', roles: null, grant: null, revoke: null } },
    { op: 'putRole', r: { role: 'app', permissions: { kv: { read: ['/b', '/a'], write: null } }, grant: null, revoke: null } },
    { op: 'putUser', u: { user: 'alice', passwordHash: 'h2', roles: ['app'], grant: null, revoke: null } },
    { op: 'putUser', u: { user: 'alice', passwordHash: '', roles: null, grant: ['x'], revoke: null } },
    { op: 'putRole', r: { role: 'app', permissions: { kv: { read: null, write: null } }, grant: { kv: { read: null, write: ['/w'] } }, revoke: null } },
    { op: 'enable' },
    { op: 'deleteUser', name: 'root' },
    { op: 'putRole', r: { role: 'root', permissions: { kv: { read: null, write: null } }, grant: null, revoke: null } },
    { op: 'disable' },
    { op: 'deleteRole', name: 'nope' },
  ]
  const s1 = new AuthState()
  const s2 = new AuthState()
  const r1 = muts.map((m) => s1.apply(structuredClone(m)))
  const r2 = muts.map((m) => s2.apply(structuredClone(m)))
  assert.equal(r1, r2)
  assert.equal(s1.toJSON(), s2.toJSON())
  assert.equal(r1.map((r) => r.status), [409, 201, 201, 200, 200, 200, 200, 403, 403, 200, 404])
  assert.equal(AuthState.fromJSON(JSON.parse(JSON.stringify(s1.toJSON()))).toJSON(), s1.toJSON())
  assert.equal(s1.getUser('root')!.roles, ['root'])
  assert.equal(s1.getRole('app')!.permissions, { kv: { read: ['/a', '/b'], write: ['/w'] } })
})

test.run()
