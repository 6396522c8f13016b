// Routing over a live member with a raw HTTP client (no URL normalisation): route table and 404
// (GEN-1), 301 path cleaning (GEN-2), %-decoding (GEN-3), 405 + Allow (GEN-4), CORS (GEN-5),
// content types (GEN-6) and Go's JSON escaping (GEN-7).
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { cleanPath, escapePath, keyFromPath, needsCleaning } from '../../server/http/path.js'
import { startServer, type RunningServer } from '../../server/index.js'
import { raw, waitReady } from './raw-client.js'

const pure = suite('path helpers')

pure('cleanPath follows Go ServeMux (trailing slash kept)', () => {
  assert.is(cleanPath('/v2/keys//a'), '/v2/keys/a')
  assert.is(cleanPath('/v2/keys/a/../b/'), '/v2/keys/b/')
  assert.is(cleanPath('/../x'), '/x')
  assert.is(cleanPath('/a/.'), '/a')
  assert.is(needsCleaning('/v2/keys/a/'), false)
  assert.is(needsCleaning('/v2/keys/.hidden'), false)
  assert.is(needsCleaning('/v2/keys/./a'), true)
  assert.is(escapePath('/v2/keys/sp ace/ü'), '/v2/keys/sp%20ace/%C3%BC')
})

pure('keyFromPath derives store keys (KEYS-1)', () => {
  assert.is(keyFromPath(''), '/')
  assert.is(keyFromPath('/a/b/'), '/a/b')
  assert.is(keyFromPath('/a//b/./c/..'), '/a/b')
})

pure.run()

const live = suite('routing on a live member')
let server: RunningServer

live.before(async () => {
  server = await startServer({ name: 'rt', listenClientUrls: ['http://127.0.0.1:0'], cors: ['http://allowed.test'] })
  await waitReady(server.url)
})
live.after(async () => {
  await server.close()
})

live('unknown paths are plain-text 404s', async () => {
  for (const p of ['/v2/nothing', '/v2/stats/', '/v2/machines/', '/v2/keysx', '/', '/v2/auth']) {
    const r = await raw(server.url, 'GET', p)
    assert.is(r.status, 404, p)
    assert.is(r.body, '404 page not found\n')
    assert.is(r.headers['content-type'], 'text/plain; charset=utf-8')
    assert.is(r.headers['x-content-type-options'], 'nosniff')
  }
})

live('405 carries the Allow list of the route', async () => {
  const cases: [string, string, string][] = [
    ['PATCH', '/v2/keys/x', 'HEAD,GET,PUT,POST,DELETE'],
    ['POST', '/version', 'GET'],
    ['PUT', '/health', 'GET'],
    ['DELETE', '/v2/machines', 'GET,HEAD'],
    ['POST', '/v2/stats/store', 'GET'],
    ['PATCH', '/v2/members', 'GET,POST,DELETE,PUT'],
  ]
  for (const [m, p, allow] of cases) {
    const r = await raw(server.url, m, p)
    assert.is(r.status, 405, `${m} ${p}`)
    assert.is(r.headers.allow, allow)
    assert.is(r.body, 'Method Not Allowed\n')
  }
  const noId = await raw(server.url, 'DELETE', '/v2/members')
  assert.is(noId.status, 405)
  assert.is(noId.headers.allow, undefined)
  assert.ok(noId.headers['x-etcd-cluster-id'])
})

live('unclean paths are redirected with the query kept, and nothing is written', async () => {
  const g = await raw(server.url, 'GET', '/v2/keys//r/a?recursive=true')
  assert.is(g.status, 301)
  assert.is(g.headers.location, '/v2/keys/r/a?recursive=true')
  assert.is(g.body, '<a href="/v2/keys/r/a?recursive=true">Moved Permanently</a>.\n\n')
  const p = await raw(server.url, 'PUT', '/v2/keys/r/x/../y', { body: 'value=1', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } })
  assert.is(p.status, 301)
  assert.is(p.headers.location, '/v2/keys/r/y')
  assert.is(p.body, '')
  assert.is(p.headers['content-type'], undefined)
  assert.is((await raw(server.url, 'GET', '/v2/keys/r/y')).status, 404)
  const enc = await raw(server.url, 'GET', '/v2/keys/a%2F%2Fb')
  assert.is(enc.status, 301)
  assert.is(enc.headers.location, '/v2/keys/a/b')
})

live('percent-decoding: %2F separates, %20 is a space, + stays a plus; bad escapes are 400', async () => {
  const put = await raw(server.url, 'PUT', '/v2/keys/enc%2Fa%20b+c?value=1')
  assert.is(put.status, 201)
  assert.is(JSON.parse(put.body).node.key, '/enc/a b+c')
  const bad = await raw(server.url, 'GET', '/v2/keys/%zz')
  assert.is(bad.status, 400)
})

live('CORS: listed origins are echoed, others get nothing; OPTIONS is always 200 and empty', async () => {
  const ok = await raw(server.url, 'GET', '/version', { headers: { Origin: 'http://allowed.test' } })
  assert.is(ok.headers['access-control-allow-origin'], 'http://allowed.test')
  assert.is(ok.headers['access-control-allow-methods'], 'POST, GET, OPTIONS, PUT, DELETE')
  assert.is(ok.headers['access-control-allow-headers'], 'accept, content-type, authorization')
  const other = await raw(server.url, 'GET', '/version', { headers: { Origin: 'http://evil.test' } })
  assert.is(other.headers['access-control-allow-origin'], undefined)
  const opt = await raw(server.url, 'OPTIONS', '/v2/keys/anything', { headers: { Origin: 'http://evil.test' } })
  assert.is(opt.status, 200)
  assert.is(opt.body, '')
  const opt404 = await raw(server.url, 'OPTIONS', '/no/such/route')
  assert.is(opt404.status, 200)
})

live('CORS "*" sets the headers on every response, 404 and 405 included', async () => {
  const s = await startServer({ name: 'cors', listenClientUrls: ['http://127.0.0.1:0'], cors: ['*'] })
  try {
    for (const [m, p] of [['GET', '/nope'], ['PATCH', '/v2/keys/a'], ['GET', '/v2/keys//a']]) {
      const r = await raw(s.url, m!, p!)
      assert.is(r.headers['access-control-allow-origin'], '*', `${m} ${p}`)
    }
  } finally {
    await s.close()
  }
  const none = await startServer({ name: 'nocors', listenClientUrls: ['http://127.0.0.1:0'] })
  try {
    const r = await raw(none.url, 'GET', '/version', { headers: { Origin: 'http://x.test' } })
    assert.is(r.headers['access-control-allow-origin'], undefined)
  } finally {
    await none.close()
  }
})

live('content types and Go JSON escaping', async () => {
  const v = await raw(server.url, 'GET', '/version')
  assert.is(v.headers['content-type'], 'application/json')
  assert.not.ok(v.body.endsWith('\n'))
  const put = await raw(server.url, 'PUT', '/v2/keys/esc', { body: 'value=%3Ca%26b%3E%E2%80%A8%08', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } })
  assert.ok(put.body.includes('"value":"\\u003ca\\u0026b\\u003e\\u2028\\u0008"'), put.body)
  assert.ok(put.body.endsWith('}\n'))
  const h = await raw(server.url, 'GET', '/health')
  assert.is(h.headers['content-type'], 'text/plain; charset=utf-8')
  assert.is(h.body, '{"health":"true"}')
  const m = await raw(server.url, 'GET', '/v2/machines')
  assert.is(m.body, server.url)
})

live.run()
