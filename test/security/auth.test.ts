// v2 auth behaviour a user depends on (AUTH-2..16, MEM-9, AUTH-15), on an in-process Raft member:
// a user limited to /app/ by its role, the guest role for anonymous requests, watches checked on
// the watched prefix, members changes root-only, stats open, password changes taking effect at
// once despite the verified-password cache, the cache keeping authenticated requests fast, only
// hashes stored, and the auth state surviving a restart (WAL replay) and a snapshot.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startServer, type RunningServer } from '../../server/index.js'
import { StateMachine } from '../../server/cluster/state-machine.js'
import { call as httpCall, type CallOptions, type CallReply } from '../support/http.js'

const test = suite('v2 auth')
const dataDir = mkdtempSync(path.join(tmpdir(), 'raftkv-auth-'))
let server: RunningServer

function call(method: string, p: string, opts: CallOptions = {}): Promise<CallReply> {
  return httpCall(server.url, method, p, opts)
}

const DENIED = '{"errorCode":110,"message":"The request requires user authentication","cause":"Insufficient credentials","index":0}\n'

test.before(async () => {
  server = await startServer({ name: 'a1', dataDir, listenClientUrls: ['http://127.0.0.1:0'] })
  assert.is((await call('PUT', '/v2/auth/users/root', { json: { user: 'root', password: 'rootpw' } })).status, 201)
  assert.is((await call('PUT', '/v2/auth/enable')).status, 200)
  assert.is((await call('PUT', '/v2/auth/roles/app', { auth: 'root:rootpw', json: { role: 'app', permissions: { kv: { read: ['/app/*'], write: ['/app/*'] } } } })).status, 201)
  assert.is((await call('PUT', '/v2/auth/users/alice', { auth: 'root:rootpw', json: { user: 'alice', password: 'alicepw', roles: ['app'] } })).status, 200)
})

test.after(async () => {
  await server?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

test('a user limited to /app/ writes inside it and gets etcd 110 outside', async () => {
  const ok = await call('PUT', '/v2/keys/app/x', { auth: 'alice:alicepw', form: { value: '1' } })
  assert.is(ok.status, 201)
  const out = await call('PUT', '/v2/keys/other', { auth: 'alice:alicepw', form: { value: '1' } })
  assert.is(out.status, 401)
  assert.is(out.body, DENIED)
  assert.is((await call('GET', '/v2/keys/other', { auth: 'alice:alicepw' })).status, 401)
  // Root may do anything; a wrong password is denied even where guest could read.
  assert.is((await call('PUT', '/v2/keys/other', { auth: 'root:rootpw', form: { value: 'r' } })).status, 201)
  assert.is((await call('GET', '/v2/keys/other', { auth: 'alice:wrong' })).status, 401)
  // The rejected write changed nothing.
  assert.is((await call('GET', '/v2/keys/other')).json.node.value, 'r')
})

test('the guest role decides anonymous access', async () => {
  assert.is((await call('GET', '/v2/keys/other')).status, 200, 'guest starts with read/write /*')
  assert.is((await call('PUT', '/v2/keys/anon', { form: { value: '1' } })).status, 201)
  assert.is((await call('PUT', '/v2/auth/roles/guest', { auth: 'root:rootpw', json: { role: 'guest', revoke: { kv: { write: ['/*'] } } } })).status, 200)
  assert.is((await call('PUT', '/v2/keys/anon', { form: { value: '2' } })).body, DENIED)
  assert.is((await call('GET', '/v2/keys/anon')).json.node.value, '1')
  assert.is((await call('DELETE', '/v2/auth/roles/guest', { auth: 'root:rootpw' })).status, 200)
  assert.is((await call('GET', '/v2/keys/anon')).status, 401, 'no guest role: anonymous reads denied')
  // Restore a read-only guest for the other tests.
  assert.is((await call('PUT', '/v2/auth/roles/guest', { auth: 'root:rootpw', json: { role: 'guest', permissions: { kv: { read: ['/*'], write: [] } } } })).status, 201)
})

test('watches need read permission on the watched key or prefix', async () => {
  assert.is((await call('GET', '/v2/keys/other?wait=true', { auth: 'alice:alicepw' })).status, 401)
  assert.is((await call('GET', '/v2/keys/app?wait=true&recursive=true', { auth: 'alice:alicepw' })).status, 401, 'recursive needs a * pattern covering the key')
  const watch = call('GET', '/v2/keys/app/?wait=true&recursive=true', { auth: 'alice:alicepw' })
  await new Promise((r) => setTimeout(r, 100))
  assert.is((await call('PUT', '/v2/keys/app/y', { auth: 'root:rootpw', form: { value: 'w' } })).status, 201)
  const ev = await watch
  assert.is(ev.status, 200)
  assert.is(ev.json.node.key, '/app/y')
})

test('members: GETs open, changes need root (MEM-9); stats and health open (AUTH-15)', async () => {
  assert.is((await call('GET', '/v2/members')).status, 200)
  const anon = await call('DELETE', '/v2/members/1234')
  assert.is(anon.status, 401)
  assert.is(anon.body, '{"message":"Insufficient credentials"}')
  assert.is((await call('DELETE', '/v2/members/1234', { auth: 'alice:alicepw' })).status, 401)
  assert.is((await call('DELETE', '/v2/members/1234', { auth: 'root:rootpw' })).status, 404, 'root passes the check')
  assert.is((await call('GET', '/v2/stats/self')).status, 200)
  assert.is((await call('GET', '/v2/stats/store')).status, 200)
  assert.is((await call('GET', '/health')).status, 200)
  assert.is((await call('GET', '/v2/auth/enable')).json.enabled, true)
})

test('a password change or deletion takes effect at once (cache invalidated)', async () => {
  assert.is((await call('GET', '/v2/keys/app/x', { auth: 'alice:alicepw' })).status, 200) // cached now
  assert.is((await call('PUT', '/v2/auth/users/alice', { auth: 'root:rootpw', json: { user: 'alice', password: 'newpw' } })).status, 200)
  assert.is((await call('GET', '/v2/keys/app/x', { auth: 'alice:alicepw' })).status, 401)
  assert.is((await call('GET', '/v2/keys/app/x', { auth: 'alice:newpw' })).status, 200)
  // Revoking the role takes effect at once too.
  assert.is((await call('PUT', '/v2/auth/users/alice', { auth: 'root:rootpw', json: { user: 'alice', revoke: ['app'] } })).status, 200)
  assert.is((await call('PUT', '/v2/keys/app/x', { auth: 'alice:newpw', form: { value: '2' } })).status, 401)
  assert.is((await call('PUT', '/v2/auth/users/alice', { auth: 'root:rootpw', json: { user: 'alice', grant: ['app'] } })).status, 200)
  assert.is((await call('PUT', '/v2/auth/users/tmp', { auth: 'root:rootpw', json: { user: 'tmp', password: 'tmppw', roles: ['app'] } })).status, 200)
  assert.is((await call('GET', '/v2/keys/app/x', { auth: 'tmp:tmppw' })).status, 200)
  assert.is((await call('DELETE', '/v2/auth/users/tmp', { auth: 'root:rootpw' })).status, 200)
  assert.is((await call('GET', '/v2/keys/app/x', { auth: 'tmp:tmppw' })).status, 401)
})

test('300 concurrent authenticated reads with one password all succeed', async () => {
  // That they share one verified password (no KDF run per request) is checked on PasswordCache in
  // auth-units.test.ts, by what it returns, not by how long this takes.
  await call('GET', '/v2/keys/app/x', { auth: 'alice:newpw' })
  const rs = await Promise.all(Array.from({ length: 300 }, () => call('GET', '/v2/keys/app/x', { auth: 'alice:newpw' })))
  assert.ok(rs.every((r) => r.status === 200))
})

test('only password hashes are stored; the state is in snapshots', async () => {
  const state = server.backend.authState!()
  const alice = state.getUser('alice')!
  assert.match(alice.password, /^\$scrypt\$/)
  assert.not.ok(JSON.stringify(state.toJSON()).includes('newpw'))
  // Snapshot round trip of the state machine keeps users, roles and the switch.
  const sm = new StateMachine()
  sm.auth = state
  const copy = new StateMachine()
  copy.restore(sm.snapshotData(), 10, 1)
  assert.equal(copy.auth.toJSON(), state.toJSON())
  // A snapshot from before auth existed restores to "auth off, no users".
  const legacy = JSON.parse(sm.snapshotData()) as Record<string, unknown>
  delete legacy.auth
  copy.restore(JSON.stringify(legacy), 11, 1)
  assert.is(copy.auth.enabled, false)
  assert.is(copy.auth.userNames().length, 0)
})

test('no plain-text password reaches the WAL or snapshots (the proposer hashes first)', async () => {
  const files: string[] = []
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name)
      if (e.isDirectory()) walk(f)
      else files.push(f)
    }
  }
  walk(dataDir)
  assert.ok(files.length > 0)
  let sawHash = false
  for (const f of files) {
    const text = readFileSync(f).toString('latin1')
    for (const pw of ['rootpw', 'alicepw', 'newpw', 'tmppw']) assert.not.ok(text.includes(pw), `${pw} found in ${f}`)
    if (text.includes('$scrypt$')) sawHash = true
  }
  assert.ok(sawHash, 'the hashes are in the log')
})

test('auth state survives a restart (WAL replay)', async () => {
  await server.close()
  server = await startServer({ name: 'a1', dataDir, listenClientUrls: ['http://127.0.0.1:0'] })
  assert.is((await call('GET', '/v2/auth/enable')).json.enabled, true)
  assert.is((await call('PUT', '/v2/keys/other', { auth: 'alice:newpw', form: { value: 'x' } })).status, 401)
  assert.is((await call('PUT', '/v2/keys/app/z', { auth: 'alice:newpw', form: { value: 'x' } })).status, 201)
  assert.is((await call('GET', '/v2/auth/users', { auth: 'root:rootpw' })).json.users.length, 2)
})

test.run()
