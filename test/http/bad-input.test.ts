// Hostile and broken input against a live member: every request gets an answer in etcd's format,
// nothing is half-written, the process survives, watchers are released on disconnect.
import net from 'node:net'
import http from 'node:http'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startServer, type RunningServer } from '../../server/index.js'
import { DEFAULT_MAX_REQUEST_BYTES } from '../../server/http/body.js'
import { raw, waitReady } from './raw-client.js'

const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' }
const test = suite('bad input')
let server: RunningServer

const index = async (): Promise<string> => (await raw(server.url, 'GET', '/v2/keys/')).headers['x-etcd-index'] as string
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms
  while (!cond() && Date.now() < end) await sleep(20)
}

/** Sends raw bytes on a socket and resolves with whatever came back before close/timeout. */
function rawSocket(bytes: string | Buffer, ms = 2000): Promise<string> {
  const u = new URL(server.url)
  return new Promise((resolve) => {
    const sock = net.connect(Number(u.port), u.hostname)
    let got = ''
    const done = () => {
      clearTimeout(timer)
      sock.destroy()
      resolve(got)
    }
    const timer = setTimeout(done, ms)
    sock.on('data', (d) => (got += d))
    sock.on('close', done)
    sock.on('error', done)
    sock.write(bytes)
  })
}

test.before(async () => {
  server = await startServer({ name: 'bad', listenClientUrls: ['http://127.0.0.1:0'] })
  await waitReady(server.url)
})
test.after(async () => {
  await server.close()
})

test('malformed form body: 210 with Go text, nothing written', async () => {
  const before = await index()
  const r = await raw(server.url, 'PUT', '/v2/keys/bad/form', { body: 'value=%zz&ttl=5', headers: FORM })
  assert.is(r.status, 400)
  assert.equal(JSON.parse(r.body), { errorCode: 210, message: 'Invalid POST form', cause: 'invalid URL escape "%zz"', index: 0 })
  assert.is(r.headers['x-etcd-index'], '0')
  assert.is(r.headers['x-raft-index'], undefined)
  assert.is(await index(), before)
  assert.is((await raw(server.url, 'GET', '/v2/keys/bad/form')).status, 404)
})

test('semicolons in the query and malformed Content-Types are 210 errors, as in etcd (Go 1.19)', async () => {
  const before = await index()
  const q = await raw(server.url, 'PUT', '/v2/keys/bad/semi?value=1;x=2')
  assert.equal(JSON.parse(q.body), { errorCode: 210, message: 'Invalid POST form', cause: 'invalid semicolon separator in query', index: 0 })
  const ct = await raw(server.url, 'PUT', '/v2/keys/bad/ct', { body: 'value=1', headers: { 'Content-Type': 'application/x-www-form-urlencoded;;' } })
  assert.equal(JSON.parse(ct.body), { errorCode: 210, message: 'Invalid POST form', cause: 'mime: invalid media parameter', index: 0 })
  const ok = await raw(server.url, 'PUT', '/v2/keys/bad/ct', { body: 'value=1', headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' } })
  assert.is(JSON.parse(ok.body).node.value, '1')
  assert.is(Number(await index()), Number(before) + 1)
})

test('bad ttl, prevIndex, waitIndex and booleans: etcd codes, nothing written', async () => {
  const before = await index()
  const cases: [string, string, string, number][] = [
    ['PUT', '/v2/keys/bad/t', 'value=1&ttl=abc', 202],
    ['PUT', '/v2/keys/bad/t', 'value=1&ttl=1e3', 202],
    ['PUT', '/v2/keys/bad/t', 'value=1&prevIndex=-3', 203],
    ['PUT', '/v2/keys/bad/t', 'value=1&dir=yes', 209],
    ['POST', '/v2/keys/bad/t', 'value=1&ttl=', 0],
  ]
  for (const [m, p, body, code] of cases) {
    const r = await raw(server.url, m, p, { body, headers: FORM })
    if (code === 0) {
      assert.is(r.status, 201, body)
      continue
    }
    assert.is(JSON.parse(r.body).errorCode, code, body)
  }
  const w = await raw(server.url, 'GET', '/v2/keys/bad/t?wait=true&waitIndex=x')
  assert.is(JSON.parse(w.body).errorCode, 203)
  assert.is(Number(await index()), Number(before) + 1) // only the valid POST wrote
})

test('oversized form body (> 10 MiB): 210 "http: POST too large", nothing written, server fine', async () => {
  const before = await index()
  const big = Buffer.alloc(DEFAULT_MAX_REQUEST_BYTES + 10, 'a')
  big.write('value=', 0)
  const r = await raw(server.url, 'PUT', '/v2/keys/bad/big', { body: big, headers: FORM, timeoutMs: 15000 }).catch((e: Error) => e)
  if (!(r instanceof Error)) {
    assert.is(r.status, 400)
    assert.equal(JSON.parse(r.body), { errorCode: 210, message: 'Invalid POST form', cause: 'http: POST too large', index: 0 })
  }
  assert.is(await index(), before)
  assert.is((await raw(server.url, 'GET', '/v2/keys/bad/big')).status, 404)
})

test('a large value just under the limit is stored byte-exact', async () => {
  const value = 'x'.repeat(1024 * 1024) + 'é'
  const r = await raw(server.url, 'PUT', '/v2/keys/bad/large', { body: 'value=' + encodeURIComponent(value), headers: FORM, timeoutMs: 15000 })
  assert.is(r.status, 201)
  const g = await raw(server.url, 'GET', '/v2/keys/bad/large', { timeoutMs: 15000 })
  assert.is(JSON.parse(g.body).node.value, value)
})

test('over-long key: 414 (longer request line than etcd reads), nothing written', async () => {
  const before = await index()
  const r = await raw(server.url, 'PUT', '/v2/keys/' + 'k'.repeat(9000) + '?value=1')
  assert.is(r.status, 414)
  const huge = await raw(server.url, 'PUT', '/v2/keys/' + 'k'.repeat(20000) + '?value=1')
  assert.is(huge.status, 431)
  assert.is(await index(), before)
})

test('bytes after a Connection: close request are ignored; the response still arrives', async () => {
  const got = await rawSocket('GET /v2/keys/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nstray bytes')
  assert.match(got, /^HTTP\/1\.1 200 OK/)
  assert.match(got, /"action":"get"/)
})

test('unknown methods, garbage request lines and aborted bodies do not crash or hang', async () => {
  assert.is((await raw(server.url, 'PATCH', '/v2/keys/x')).status, 405)
  assert.match(await rawSocket('FOO /v2/keys/x HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 400/)
  // Not METHOD SP target SP version: etcd drops the connection without an answer, and so does raftkv.
  const t0 = Date.now()
  assert.is(await rawSocket('this is not http\r\n\r\n'), '')
  assert.ok(Date.now() - t0 < 1500, 'closed, not left hanging')
  // Body announced but cut off: the request is dropped, nothing is written.
  const before = await index()
  await rawSocket('PUT /v2/keys/bad/cut HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nvalue=par', 300)
  await sleep(100)
  assert.is(await index(), before)
  assert.is((await raw(server.url, 'GET', '/v2/keys/bad/cut')).status, 404)
  assert.is((await raw(server.url, 'GET', '/version')).status, 200)
})

test('non-form bodies are ignored (PARAM-1); JSON members bodies are validated', async () => {
  const r = await raw(server.url, 'PUT', '/v2/keys/bad/json', { body: '{"value":"x"}', headers: { 'Content-Type': 'application/json' } })
  assert.is(JSON.parse(r.body).node.value, '')
  const m1 = await raw(server.url, 'POST', '/v2/members', { body: '{"peerURLs":', headers: { 'Content-Type': 'application/json' } })
  assert.equal([m1.status, JSON.parse(m1.body)], [400, { message: 'unexpected end of JSON input' }])
  const m2 = await raw(server.url, 'POST', '/v2/members', { body: '{}', headers: { 'Content-Type': 'text/plain' } })
  assert.equal([m2.status, m2.body], [415, '{"message":"Bad Content-Type text/plain, accept application/json"}'])
  const m3 = await raw(server.url, 'PUT', '/v2/members/abc', { body: '{"peerURLs":["notaurl"]}', headers: { 'Content-Type': 'application/json' } })
  assert.equal([m3.status, JSON.parse(m3.body)], [400, { message: 'URL scheme must be http, https, unix, or unixs: notaurl' }])
  const m4 = await raw(server.url, 'DELETE', '/v2/members/zzz')
  assert.equal([m4.status, m4.body], [404, '{"message":"No such member: zzz"}'])
  const m6 = await raw(server.url, 'POST', '/v2/members', { body: 'null', headers: { 'Content-Type': 'application/json' } })
  assert.equal([m6.status, m6.body], [400, '{"message":"no valid URLs given"}'])
  const m7 = await raw(server.url, 'DELETE', '/v2/members/00000000000000001')
  assert.equal([m7.status, m7.body], [404, '{"message":"No such member: 1"}'])
  const m5 = await raw(server.url, 'GET', '/v2/members/1234')
  assert.equal([m5.status, m5.body], [404, '{"message":"Not found"}'])
})

test('long-poll and stream watchers are released when the client disconnects (WATCH-13)', async () => {
  const stats = () => server.backend.store.stats().watchers
  const u = new URL(server.url)
  const reqs = ['/v2/keys/bad/w1?wait=true', '/v2/keys/bad?wait=true&recursive=true&stream=true'].map((p) => {
    const req = http.request({ host: u.hostname, port: u.port, path: p, agent: false })
    req.on('error', () => {})
    req.end()
    return req
  })
  await waitFor(() => stats() === 2)
  assert.is(stats(), 2)
  for (const r of reqs) r.destroy()
  await waitFor(() => stats() === 0)
  assert.is(stats(), 0)
})

test('a stream watch delivers several events on one response and survives many writes', async () => {
  const u = new URL(server.url)
  const events: string[] = []
  const req = http.request({ host: u.hostname, port: u.port, path: '/v2/keys/bad/s?wait=true&recursive=true&stream=true', agent: false })
  req.on('error', () => {})
  const gotHeaders = new Promise<void>((resolve) => {
    req.on('response', (res) => {
      res.setEncoding('utf8')
      let buf = ''
      res.on('data', (d: string) => {
        buf += d
        let i
        while ((i = buf.indexOf('\n')) >= 0) {
          events.push(buf.slice(0, i))
          buf = buf.slice(i + 1)
        }
      })
      resolve()
    })
  })
  req.end()
  await gotHeaders
  for (let i = 0; i < 50; i++) await raw(server.url, 'PUT', `/v2/keys/bad/s/${i}?value=${i}`)
  await waitFor(() => events.length === 50)
  req.destroy()
  assert.is(events.length, 50)
  assert.is(JSON.parse(events[49]!).node.key, '/bad/s/49')
})

test('close() ends open watches and stops the member', async () => {
  const s = await startServer({ name: 'closing', listenClientUrls: ['http://127.0.0.1:0'] })
  const pending = raw(s.url, 'GET', '/v2/keys/x?wait=true', { timeoutMs: 5000 })
  await waitFor(() => s.backend.store.stats().watchers === 1)
  const t0 = Date.now()
  await s.close()
  assert.ok(Date.now() - t0 < 2000)
  const r = await pending.catch((e: Error) => e)
  if (!(r instanceof Error)) assert.is(r.body, '')
})

test.run()
