// ClientV3 auth against a real etcd 3.4 with auth enabled (set up with etcdctl) and simple tokens
// that expire after 2 idle seconds: authenticate errors, the token in Authorization, permission
// errors, and a new token taken transparently when the old one expired (KV calls and a watch).

import { execFileSync } from 'node:child_process'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  AuthFailedError, AuthRequiredError, ClientV3, PermissionDeniedError, type FetchLike,
} from '../../src/index.js'
import { startCluster, within, type Cluster } from '../client/fixtures.js'
import { sleep, waitFor } from './helpers.js'

const TOKEN_TTL_S = 2
const test = suite('client v3 auth [etcd]')
let cluster: Cluster
let url: string

/** A fetch that counts the authenticate calls going through it. */
function countingFetch(): { fetch: FetchLike; authCalls: () => number } {
  let n = 0
  const f: FetchLike = (input, init) => {
    if (input.endsWith('/v3/auth/authenticate')) n++
    return fetch(input, init)
  }
  return { fetch: f, authCalls: () => n }
}

test.before(async () => {
  cluster = await startCluster('etcd', { etcdArgs: ['--auth-token', 'simple', '--auth-token-ttl', String(TOKEN_TTL_S)] })
  url = cluster.endpoints[0]!
  const ctl = (...args: string[]): void => {
    execFileSync('etcdctl', ['--endpoints', url, ...args], { stdio: 'pipe', env: { ...process.env, ETCDCTL_API: '3' }, timeout: 20_000 })
  }
  ctl('user', 'add', 'root:rootpw')
  ctl('role', 'add', 'root')
  ctl('user', 'grant-role', 'root', 'root')
  ctl('user', 'add', 'alice:alicepw')
  ctl('role', 'add', 'reader')
  ctl('role', 'grant-permission', 'reader', 'read', 'ro/', '--prefix=true')
  ctl('user', 'grant-role', 'alice', 'reader')
  ctl('auth', 'enable')
})
test.after(async () => {
  await cluster?.close()
})

test('authenticate: a token for good credentials, AUTH_FAILED for bad ones', async () => {
  const c = new ClientV3({ endpoints: [url] })
  const ok = await c.authenticate('root', 'rootpw')
  assert.type(ok.token, 'string')
  assert.ok(ok.token.length > 0)
  const err = await c.authenticate('root', 'nope').catch((e: unknown) => e)
  assert.ok(err instanceof AuthFailedError, String(err))
  assert.is(err.code, 'AUTH_FAILED')
})

test('without credentials a call is AUTH_REQUIRED; with them it works', async () => {
  const anon = new ClientV3({ endpoints: [url] })
  const err = await anon.put('a/k', 'v').catch((e: unknown) => e)
  assert.ok(err instanceof AuthRequiredError, String(err))
  assert.is(err.code, 'AUTH_REQUIRED')
  const root = new ClientV3({ endpoints: [url], auth: { username: 'root', password: 'rootpw' } })
  await root.put('ro/k', 'v')
  assert.is((await root.get('ro/k'))!.valueString, 'v')
  const wrong = new ClientV3({ endpoints: [url], auth: { username: 'root', password: 'bad' } })
  assert.ok((await wrong.get('ro/k').catch((e: unknown) => e)) instanceof AuthFailedError)
})

test('a user without write permission gets PERMISSION_DENIED; reads in its range work', async () => {
  const alice = new ClientV3({ endpoints: [url], auth: { username: 'alice', password: 'alicepw' } })
  assert.is((await alice.get('ro/k'))!.valueString, 'v')
  const err = await alice.put('ro/k', 'x').catch((e: unknown) => e)
  assert.ok(err instanceof PermissionDeniedError, String(err))
  assert.is(err.code, 'PERMISSION_DENIED')
  const outside = await alice.get('other/k').catch((e: unknown) => e)
  assert.ok(outside instanceof PermissionDeniedError, String(outside))
  // A watch on keys the user may not read ends with the error (after one try with a new token).
  const denied = await within(10_000, alice.watch('other/', { prefix: true }).next(), 'watch').catch((e: unknown) => e)
  assert.ok(denied instanceof PermissionDeniedError, String(denied))
  const allowed = alice.watch('ro/', { prefix: true, startRevision: 1 })
  const first = await within(10_000, allowed.next(), 'allowed watch')
  assert.ok(!first.done && first.value.type === 'put' && first.value.kv.keyString === 'ro/k')
  allowed.close()
})

test('an expired token is replaced by a new one without the caller noticing', async () => {
  const counted = countingFetch()
  const c = new ClientV3({ endpoints: [url], auth: { username: 'root', password: 'rootpw' }, fetch: counted.fetch })
  await c.put('exp/k', '1')
  assert.is(counted.authCalls(), 1)
  await c.get('exp/k')
  assert.is(counted.authCalls(), 1, 'the token is reused while valid')
  // The server forgets an idle simple token after its TTL: show it with a raw request first.
  const { token } = await c.authenticate('root', 'rootpw')
  await sleep(TOKEN_TTL_S * 1000 + 1500)
  const raw = await fetch(`${url}/v3/kv/range`, { method: 'POST', headers: { authorization: token }, body: JSON.stringify({ key: btoa('exp/k') }) })
  assert.match(await raw.text(), /invalid auth token/)
  const before = counted.authCalls()
  await c.put('exp/k', '2')
  assert.is(counted.authCalls(), before + 1, 'one new authenticate')
  assert.is((await c.get('exp/k'))!.valueString, '2')
})

test('a watch that reopens after its token expired takes a new token and misses nothing', async () => {
  const counted = countingFetch()
  const c = new ClientV3({ endpoints: [url], auth: { username: 'root', password: 'rootpw' }, fetch: counted.fetch })
  const writer = new ClientV3({ endpoints: [url], auth: { username: 'root', password: 'rootpw' } })
  const start = (await writer.put('wa/k', '0')).header.revision
  const seen: string[] = []
  let failed: unknown
  // A silent stream is reopened after 3.5 s, when the watch's token (2 s TTL, unused since the
  // watch was created) has expired on the server.
  const w = c.watch('wa/k', { startRevision: start, idleTimeoutMs: 3500 })
  const consumer = (async () => {
    try {
      for await (const ev of w) {
        if (ev.type === 'put') seen.push(ev.kv.valueString)
        if (seen.length === 2) break
      }
    } catch (err) {
      failed = err
    }
  })()
  await waitFor(() => seen.length === 1, 5000, 'first event')
  assert.is(counted.authCalls(), 1)
  await waitFor(() => counted.authCalls() >= 2, 15_000, 'a new token for the reopened watch')
  await writer.put('wa/k', '1')
  await within(15_000, consumer, 'watch')
  assert.is(failed, undefined)
  assert.equal(seen, ['0', '1'])
  c.close()
  writer.close()
})

test.run()
