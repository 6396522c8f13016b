// How the HTTP layer reports a member that cannot commit (KEYS-22, MEM-2, MISC-2, STATS-2), using
// a stub Backend: the single-member backend with proposals and quorum reads failing and no leader.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createHandler, startServer, type RunningServer } from '../../server/index.js'
import { SingleMemberBackend } from '../../server/server.js'
import { RequestTimeoutError } from '../../server/cluster/errors.js'
import { raw } from './raw-client.js'

class NoQuorumBackend extends SingleMemberBackend {
  override propose(): Promise<never> {
    return Promise.reject(new RequestTimeoutError())
  }
  override linearizableRead(): Promise<void> {
    return Promise.reject(new RequestTimeoutError())
  }
  override leaderId(): string | undefined {
    return undefined
  }
  override leaderStats(): undefined {
    return undefined
  }
}

const test = suite('backend failures')
let server: RunningServer

test.before(async () => {
  const backend = new NoQuorumBackend({ name: 'nq', peerURLs: ['http://127.0.0.1:2380'], clientURLs: [], clusterToken: 'etcd-cluster' })
  server = await startServer({ name: 'nq', listenClientUrls: ['http://127.0.0.1:0'], backend })
})
test.after(async () => {
  await server.close()
})

test('a write that cannot commit is 500 errorCode 300, index 0, no X-Raft headers (KEYS-22)', async () => {
  const r = await raw(server.url, 'PUT', '/v2/keys/m/after?value=1')
  assert.is(r.status, 500)
  assert.is(r.body, '{"errorCode":300,"message":"Raft Internal Error","cause":"etcdserver: request timed out","index":0}\n')
  assert.is(r.headers['x-etcd-index'], '0')
  assert.is(r.headers['x-raft-index'], undefined)
  assert.ok(r.headers['x-etcd-cluster-id'])
})

test('quorum reads fail the same way; plain reads and watches stay local (KEYS-9)', async () => {
  const q = await raw(server.url, 'GET', '/v2/keys/?quorum=true')
  assert.is(q.status, 500)
  assert.is(JSON.parse(q.body).errorCode, 300)
  const g = await raw(server.url, 'GET', '/v2/keys/')
  assert.is(g.status, 200)
  assert.is(g.body, '{"action":"get","node":{"dir":true}}\n')
})

test('no leader: /health 503, /v2/members/leader 503, /v2/stats/leader 403, metrics say so', async () => {
  const h = await raw(server.url, 'GET', '/health')
  assert.equal([h.status, h.body, h.headers['content-type']], [503, '{"health":"false"}\n', 'text/plain; charset=utf-8'])
  const l = await raw(server.url, 'GET', '/v2/members/leader')
  assert.equal([l.status, l.body], [503, '{"message":"During election"}'])
  const s = await raw(server.url, 'GET', '/v2/stats/leader')
  assert.equal([s.status, s.body], [403, '{"message":"not current leader"}'])
  const m = await raw(server.url, 'GET', '/metrics')
  assert.match(m.body, /^etcd_server_has_leader 0$/m)
  assert.match(m.body, /^etcd_server_is_leader 0$/m)
})

test('ready() rejects while there is no leader and resolves on a healthy member', async () => {
  const err = await server.ready(300).then(() => undefined, (e: Error) => e)
  assert.match(String(err?.message), /not ready after 300 ms/)
  const healthy = await startServer({ name: 'ok', listenClientUrls: ['http://127.0.0.1:0'] })
  try {
    await healthy.ready(20_000)
    assert.is((await raw(healthy.url, 'GET', '/health')).status, 200)
  } finally {
    await healthy.close()
  }
})

test('a bug in the backend is answered 500 errorCode 300 and reported to onError; the server lives on', async () => {
  class BuggyBackend extends SingleMemberBackend {
    override propose(): Promise<never> {
      throw new TypeError('boom')
    }
  }
  const seen: string[] = []
  const backend = new BuggyBackend({ name: 'bug', peerURLs: ['http://127.0.0.1:2380'], clientURLs: [], clusterToken: 't' })
  const srv = http.createServer(createHandler(backend, { onError: (e) => seen.push((e as Error).message) }))
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`
  try {
    const r = await raw(url, 'PUT', '/v2/keys/x?value=1')
    assert.is(r.status, 500)
    assert.equal(JSON.parse(r.body), { errorCode: 300, message: 'Raft Internal Error', cause: 'boom', index: 0 })
    assert.equal(seen, ['boom'])
    assert.is((await raw(url, 'GET', '/v2/keys/')).status, 200)
  } finally {
    srv.close()
    await backend.close()
  }
})

test.run()
