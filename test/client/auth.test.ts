// Client SDK Basic auth against the v2 auth API: with auth on and the guest role unable to write,
// anonymous writes fail with UnauthorizedError (110) and a client with `auth` succeeds. Runs on
// every backend that serves /v2/auth (skipped with a message where it answers 404).

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Client, UnauthorizedError } from '../../src/index.js'
import { backends, startCluster, type Cluster } from './fixtures.js'

const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`

for (const backend of backends()) {
  const test = suite(`client auth [${backend}]`)
  let cluster: Cluster
  let supported = true

  test.before(async () => {
    cluster = await startCluster(backend)
    const url = cluster.endpoints[0]!
    const probe = await fetch(`${url}/v2/auth/enable`)
    if (probe.status === 404) {
      supported = false
      console.log(`SKIP client auth [${backend}]: /v2/auth is not served`)
      return
    }
    // A root user with a non-ASCII password (exercises the UTF-8 Basic encoding), auth on, and a
    // guest role that may read but not write.
    const put = (path: string, body: unknown, auth?: string): Promise<Response> =>
      fetch(`${url}${path}`, { method: 'PUT', headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) }, body: JSON.stringify(body) })
    assert.ok((await put('/v2/auth/users/root', { user: 'root', password: 'pässwörd' })).status < 300)
    assert.is((await put('/v2/auth/enable', {})).status, 200)
    const revoke = await put('/v2/auth/roles/guest', { role: 'guest', revoke: { kv: { write: ['/*'] } } }, basic('root', 'pässwörd'))
    assert.is(revoke.status, 200)
  })
  test.after(async () => {
    await cluster?.close()
  })

  test('anonymous writes get UnauthorizedError; `auth` credentials are sent as Basic auth', async () => {
    if (!supported) return
    const anonymous = new Client({ endpoints: cluster.endpoints })
    const root = new Client({ endpoints: cluster.endpoints, auth: { username: 'root', password: 'pässwörd' } })
    const wrong = new Client({ endpoints: cluster.endpoints, auth: { username: 'root', password: 'nope' } })
    try {
      const err = await anonymous.set('/auth/k', 'v').then(() => undefined, (e: unknown) => e)
      assert.instance(err, UnauthorizedError)
      assert.is((err as UnauthorizedError).code, 'UNAUTHORIZED')
      assert.is((err as UnauthorizedError).errorCode, 110)
      const ok = await root.set('/auth/k', 'v')
      assert.is(ok.node.value, 'v')
      assert.is((await anonymous.get('/auth/k')).node.value, 'v', 'guest may still read')
      assert.instance(await wrong.get('/auth/k').then(() => undefined, (e: unknown) => e), UnauthorizedError)
    } finally {
      anonymous.close()
      root.close()
      wrong.close()
    }
  })

  test.run()
}
