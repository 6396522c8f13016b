// The front door of the client listeners: request lines that are not HTTP/1.0 or 1.1, bad Host
// headers and transfer codings raftkv does not decode are refused before any handler runs (and
// write nothing), and pipelined requests take effect in order.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startServer, type RunningServer } from '../../server/index.js'
import { exchange, request } from './wire.js'

const test = suite('front door')
let server: RunningServer

const FORM = 'Content-Type: application/x-www-form-urlencoded'

async function canary(): Promise<string> {
  const r = await exchange(server.url, request('GET /v2/keys/fz-canary HTTP/1.1\nHost: a'), { expect: 1 })
  return (JSON.parse(r.responses[0]!.body) as { node: { value: string; modifiedIndex: number } }).node.value
}

test.before(async () => {
  server = await startServer({ listenClientUrls: ['http://127.0.0.1:0'] })
  await server.ready()
})
test.after(async () => {
  await server.close()
})
test.before.each(async () => {
  const r = await exchange(server.url, request('PUT /v2/keys/fz-canary?value=original HTTP/1.1\nHost: a'), { expect: 1 })
  assert.ok(r.responses[0]!.status < 300)
})

// etcd (Go) closes the connection without an answer for all of these.
for (const [name, line] of [
  ['no HTTP version', 'PUT /v2/keys/fz-canary?value=overwritten'],
  ['HTTP/0.9', 'PUT /v2/keys/fz-canary?value=overwritten HTTP/0.9'],
  ['HTTP/2.0 on an HTTP/1 connection', 'PUT /v2/keys/fz-canary?value=overwritten HTTP/2.0\nHost: a'],
  ['DELETE without a version', 'DELETE /v2/keys/fz-canary'],
] as const) {
  test(`${name}: connection closed, nothing written`, async () => {
    const r = await exchange(server.url, request(line))
    assert.ok(r.closed && r.silent, `expected a silent close, got ${JSON.stringify(r.raw.slice(0, 200))}`)
    assert.is(await canary(), 'original')
  })
}

for (const [name, hosts, reason] of [
  ['two Host headers', 'Host: a\nHost: b', 'Bad Request'],
  ['Host with a space', 'Host: a b', 'Bad Request: malformed Host header'],
  ['Host @@', 'Host: @@', 'Bad Request: malformed Host header'],
  ['Host that is a URL', 'Host: http://x/', 'Bad Request: malformed Host header'],
  ['Host with a byte above 0x7f', 'Host: \u00e4', 'Bad Request: malformed Host header'],
] as const) {
  test(`${name}: 400, nothing written`, async () => {
    const r = await exchange(server.url, request(`PUT /v2/keys/fz-canary?value=overwritten HTTP/1.1\n${hosts}`))
    assert.is(r.responses.length, 1)
    assert.is(r.responses[0]!.status, 400)
    assert.is(r.responses[0]!.reason, reason)
    assert.is(r.responses[0]!.body, '400 ' + reason)
    assert.ok(r.closed)
    assert.is(await canary(), 'original')
  })
}

test('valid hosts still pass: name:port, IPv6 literal, empty, HTTP/1.0 without Host', async () => {
  for (const head of ['Host: example.com:2379', 'Host: [::1]:80', 'Host: ']) {
    const r = await exchange(server.url, request(`GET /v2/keys/fz-canary HTTP/1.1\n${head}`), { expect: 1 })
    assert.is(r.responses[0]?.status, 200, head)
  }
  const r = await exchange(server.url, request('GET /v2/keys/fz-canary HTTP/1.0'))
  assert.is(r.responses[0]?.status, 200)
})

for (const te of ['gzip, chunked', 'identity, chunked', 'identity']) {
  test(`Transfer-Encoding: ${te}: 501, nothing written`, async () => {
    const r = await exchange(server.url, request(`PUT /v2/keys/fz-canary HTTP/1.1\nHost: a\n${FORM}\nTransfer-Encoding: ${te}`, '11\r\nvalue=overwritten\r\n0\r\n\r\n'))
    assert.is(r.responses.length, 1, 'the refused body is not answered again: ' + r.raw.slice(0, 300))
    assert.is(r.responses[0]?.status, 501, r.raw.slice(0, 200))
    assert.is(r.responses[0]!.body, 'Unsupported transfer encoding')
    assert.ok(r.closed)
    assert.is(await canary(), 'original')
  })
}

test('Transfer-Encoding: chunked (any case) is decoded and served', async () => {
  const r = await exchange(server.url, request(`PUT /v2/keys/fz-canary HTTP/1.1\nHost: a\n${FORM}\nTransfer-Encoding: Chunked`, '8\r\nvalue=ch\r\n3\r\nunk\r\n0\r\n\r\n'), { expect: 1 })
  assert.is(r.responses[0]?.status, 200)
  assert.is(await canary(), 'chunk')
})

test('a request line longer than etcd reads (4096 bytes) gets 414 and writes nothing; one byte shorter is served', async () => {
  const fixed = 'PUT /v2/keys/fz-long/'.length + ' HTTP/1.1\r\n'.length
  const at = (n: number): string => `PUT /v2/keys/fz-long/${'k'.repeat(n - fixed)} HTTP/1.1`
  const over = await exchange(server.url, request(`${at(4097)}\nHost: a`))
  assert.is(over.responses[0]?.status, 414)
  assert.ok(over.closed)
  const ok = await exchange(server.url, request(`${at(4096).replace('PUT', 'GET')}\nHost: a`), { expect: 1 })
  assert.is(ok.responses[0]?.status, 404)
  assert.is((await exchange(server.url, request('GET /v2/keys/fz-long/ HTTP/1.1\nHost: a'), { expect: 1 })).responses[0]?.status, 404)
})

test('pipelined PUT, PUT, GET: the GET sees both PUTs', async () => {
  for (let i = 0; i < 5; i++) {
    const key = `/v2/keys/pipe${i}`
    const r = await exchange(
      server.url,
      request(`PUT ${key}?value=p1 HTTP/1.1\nHost: a`) + request(`PUT ${key}?value=p2 HTTP/1.1\nHost: a`) + request(`GET ${key} HTTP/1.1\nHost: a`),
      { expect: 3 },
    )
    assert.equal(r.responses.map((x) => x.status), [201, 200, 200])
    assert.is(JSON.parse(r.responses[2]!.body).node.value, 'p2')
  }
})

test('pipelined DELETE then GET, and GET then PUT then GET: effects in order', async () => {
  const r = await exchange(
    server.url,
    request('GET /v2/keys/fz-canary HTTP/1.1\nHost: a') +
      request(`PUT /v2/keys/fz-canary HTTP/1.1\nHost: a\n${FORM}\nContent-Length: 11`, 'value=later') +
      request('GET /v2/keys/fz-canary HTTP/1.1\nHost: a') +
      request('DELETE /v2/keys/fz-canary HTTP/1.1\nHost: a') +
      request('GET /v2/keys/fz-canary HTTP/1.1\nHost: a'),
    { expect: 5 },
  )
  assert.equal(r.responses.map((x) => x.status), [200, 200, 200, 200, 404])
  assert.is(JSON.parse(r.responses[0]!.body).node.value, 'original')
  assert.is(JSON.parse(r.responses[2]!.body).node.value, 'later')
})

test('pipelined GETs are all answered, in order', async () => {
  let bytes = ''
  for (let i = 0; i < 20; i++) bytes += request(`GET /v2/keys/fz-canary?n=${i} HTTP/1.1\nHost: a`)
  const r = await exchange(server.url, bytes, { expect: 20 })
  assert.is(r.responses.length, 20)
  assert.ok(r.responses.every((x) => x.status === 200))
})

test('a refused request ends the connection: later pipelined writes do not run', async () => {
  const r = await exchange(
    server.url,
    request('GET /v2/keys/fz-canary HTTP/1.1\nHost: a') +
      request('PUT /v2/keys/fz-canary?value=bad HTTP/1.1\nHost: a b') +
      request('PUT /v2/keys/fz-canary?value=after HTTP/1.1\nHost: a'),
  )
  assert.equal(r.responses.map((x) => x.status), [200, 400])
  assert.is(await canary(), 'original')
})

test.run()
