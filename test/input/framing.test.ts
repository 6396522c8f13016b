// The framing check ahead of Node's HTTP parser (server/http/request-framing.ts, wired in by
// server/http/front-door.ts): a request line with extra spaces and a chunk size with more than 16
// hex digits are refused before any handler runs, as etcd (Go) refuses them, whole or split at any
// byte, alone or pipelined behind a good request, over http and https. Valid traffic (pipelined,
// keep-alive, big chunked bodies) is unaffected.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { startServer, type RunningServer } from '../../server/index.js'
import { FramingScanner, type FramingViolation } from '../../server/http/request-framing.js'
import { makePki, type Pki } from '../security/tls-fixture.js'
import { exchange, request, type ExchangeOptions } from './wire.js'

const FORM = 'Content-Type: application/x-www-form-urlencoded'
const GO_400 = 'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request'

const put = (line: string): string => request(`${line}\nHost: a\n${FORM}\nContent-Length: 17`, 'value=overwritten')
const chunkedPut = (sizeLine: string, path = '/v2/keys/fz-canary'): string =>
  request(`PUT ${path} HTTP/1.1\nHost: a\n${FORM}\nTransfer-Encoding: chunked`, `${sizeLine}\r\nvalue=overwritten\r\n0\r\n\r\n`)
const good = request('GET /v2/keys/fz-canary HTTP/1.1\nHost: a')

// Request lines etcd drops the connection on (it is their connection's first request).
const BAD_LINES: Array<[string, string]> = [
  ['two spaces before the target', 'PUT  /v2/keys/fz-canary?value=overwritten HTTP/1.1'],
  ['two spaces before the version', 'PUT /v2/keys/fz-canary?value=overwritten  HTTP/1.1'],
  ['a trailing space', 'PUT /v2/keys/fz-canary?value=overwritten HTTP/1.1 '],
  ['a leading space', ' PUT /v2/keys/fz-canary?value=overwritten HTTP/1.1'],
  ['a space inside the target', 'PUT /v2/keys/fz-canary?value=over written HTTP/1.1'],
  ['a tab between method and target', 'PUT\t/v2/keys/fz-canary?value=overwritten HTTP/1.1'],
  ['a version in lower case', 'PUT /v2/keys/fz-canary?value=overwritten http/1.1'],
  ['a version with two digits', 'PUT /v2/keys/fz-canary?value=overwritten HTTP/01.1'],
  ['a version without minor', 'PUT /v2/keys/fz-canary?value=overwritten HTTP/1'],
]

// Chunk-size lines (and chunk ends) Go's chunked reader refuses, with its reason (etcd's 210
// cause) and how many bytes of the body go on to the parser before the refusal.
const BAD_SIZES: Array<[string, string, string, number]> = [
  ['17 hex digits (leading zeros)', '0'.repeat(15) + '11', 'http chunk length too large', 16],
  ['17 hex digits and an extension', '0'.repeat(15) + '11;a=b', 'http chunk length too large', 16],
  ['5000 leading zeros', '0'.repeat(5000) + '11', 'header line too long', 16],
  ['18 digits f', 'f'.repeat(18), 'http chunk length too large', 16],
  ['4093 hex digits (a 4095-byte line)', '0'.repeat(4091) + '11', 'http chunk length too large', 16],
  ['4094 hex digits (a 4096-byte line)', '0'.repeat(4092) + '11', 'header line too long', 16],
  ['an extension making the line 4096 bytes', '11;' + 'x'.repeat(4091), 'header line too long', 4095],
  ['a size that is not hex', 'zz', 'invalid byte in chunk length', 0],
  ['a space inside the size', '1 1', 'invalid byte in chunk length', 1],
  ['a tab before the extension', '11\t;a', 'invalid byte in chunk length', 2],
  ['a CR alone after the size', '11\rx', 'invalid byte in chunk length', 3],
  ['a size shorter than the data (no CRLF after it)', 'e', 'malformed chunked encoding', 17],
]

// ---- the scanner alone: same answer whatever the split ----

const scanner = suite('framing scanner')

/**
 * Feeds `bytes` in pieces of `size` as the front door does (a request line split over pieces is
 * held back until complete); returns how many bytes went on to the parser and the violation.
 */
function feed(bytes: string, size: number): { passed: number; violation: string | undefined } {
  const s = new FramingScanner()
  const buf = Buffer.from(bytes, 'latin1')
  let passed = 0
  let held = 0
  for (let at = 0; at < buf.length && s.violation === undefined; at += size) {
    const piece = buf.subarray(at, at + size)
    const n = s.scan(piece)
    if (held > 0 && (n > 0 || s.violation === undefined)) {
      if (n === 0) {
        held += piece.length
        continue
      }
      passed += held
      held = 0
    }
    passed += n
    if (n < piece.length && s.violation === undefined && s.holdingLine) held = piece.length - n
  }
  const v = s.violation as FramingViolation | undefined
  return { passed, violation: v === undefined ? undefined : v.kind === 'request-line' ? 'request-line' : v.cause }
}

scanner('valid streams pass whole, in any split: pipelined, Content-Length, chunked with extensions and trailers, HTTP/1.0', () => {
  const body = 'x'.repeat(300)
  const stream =
    good +
    request(`PUT /v2/keys/a HTTP/1.1\nHost: a\n${FORM}\ncontent-length: 306`, `value=${body}`) +
    request(`POST /v2/keys/q HTTP/1.1\nHost: a\n${FORM}\nTRANSFER-ENCODING:  chunked `, `6;ext=1\r\nvalue=\r\n${(300).toString(16)}\r\n${body}\r\n${'0'.repeat(15)}0\r\nX-T: 1\r\n\r\n`) +
    '\r\n' +
    request('GET /v2/keys/a HTTP/1.0') +
    request(`PUT /v2/keys/b HTTP/1.1\nHost: a\nTransfer-Encoding: chunked`, '3\nabc\r\n0\n\n') +
    good
  for (const size of [1, 2, 3, 7, 64, stream.length]) assert.equal(feed(stream, size), { passed: stream.length, violation: undefined }, `pieces of ${size}`)
})

scanner('a bad request line is refused where its message starts, in any split', () => {
  for (const [name, line] of BAD_LINES) {
    const stream = good + put(line) + good
    // The good request before it passes, nothing of it (its line is held back until judged).
    for (const size of [1, 5, 61, stream.length]) assert.equal(feed(stream, size), { passed: good.length, violation: 'request-line' }, `${name}, pieces of ${size}`)
  }
})

scanner('a chunk size Go refuses is held back from its 17th digit (or its 4096th byte) on, in any split', () => {
  for (const [name, size, cause, passed] of BAD_SIZES) {
    const stream = chunkedPut(size)
    const headLen = stream.indexOf('\r\n\r\n') + 4
    // The head and the body up to the first byte Go refuses went on, however split.
    for (const piece of [1, 3, 1000, stream.length]) assert.equal(feed(stream, piece), { passed: headLen + passed, violation: cause }, `${name}, pieces of ${piece}`)
  }
  const lf = request(`PUT /k HTTP/1.1\nHost: a\nTransfer-Encoding: chunked`, '11\nvalue=overwritten\n0\n\n')
  assert.equal(feed(lf, 1), { passed: lf.indexOf('\r\n\r\n') + 4 + 20, violation: 'malformed chunked encoding' }, 'LF alone after the data')
  // 16 digits are fine; a 16-digit size too big to count is left to llhttp.
  const ok = chunkedPut('0'.repeat(14) + '11')
  assert.equal(feed(ok, 1), { passed: ok.length, violation: undefined })
  const big = chunkedPut('f'.repeat(16))
  assert.equal(feed(big, 1), { passed: big.length, violation: undefined })
})

scanner('what llhttp or the front door refuses anyway ends the checking, never a false refusal', () => {
  for (const odd of [
    request(`PUT /k HTTP/1.1\nHost: a\nTransfer-Encoding: gzip, chunked`, '5000000000000000000\r\n'),
    request(`PUT /k HTTP/1.1\nHost: a\nContent-Length: 3\nContent-Length: 4`, 'abcd'),
    request(`GET /k HTTP/1.1\nHost: a\nConnection: upgrade\nUpgrade: h2c`) + 'PRI  * HTTP/2.0',
    request(`PUT /k HTTP/1.1\nHost: a\nTransfer-Encoding: chunked`, '11;a\rb\r\nvalue=overwritten\r\n0\r\n\r\n'),
  ]) {
    assert.equal(feed(odd + put('PUT  /k HTTP/1.1'), 1), { passed: odd.length + put('PUT  /k HTTP/1.1').length, violation: undefined })
  }
})

scanner.run()

// ---- a real member ----

const test = suite('framing at the front door')
let server: RunningServer
let tlsServer: RunningServer
let pki: Pki
let tlsOpts: ExchangeOptions['tls']

async function value(url = server.url, opts: ExchangeOptions = {}): Promise<string> {
  const r = await exchange(url, good, { ...opts, expect: 1 })
  return (JSON.parse(r.responses[0]!.body) as { node: { value: string } }).node.value
}

async function reset(url = server.url, opts: ExchangeOptions = {}): Promise<void> {
  const r = await exchange(url, request('PUT /v2/keys/fz-canary?value=original HTTP/1.1\nHost: a'), { ...opts, expect: 1 })
  assert.ok(r.responses[0]!.status < 300)
}

test.before(async () => {
  pki = makePki()
  tlsOpts = { ca: readFileSync(pki.ca), servername: 'localhost' }
  server = await startServer({ listenClientUrls: ['http://127.0.0.1:0'] })
  tlsServer = await startServer({
    listenClientUrls: ['https://127.0.0.1:0'],
    clientTls: { certFile: pki.server.cert, keyFile: pki.server.key, trustedCaFile: '', clientCertAuth: false },
  })
  await Promise.all([server.ready(), tlsServer.ready()])
})
test.after(async () => {
  await Promise.all([server?.close(), tlsServer?.close()])
  pki?.close()
})
test.before.each(() => reset())

for (const [name, line] of BAD_LINES) {
  for (const piece of [undefined, 1]) {
    test(`${name}${piece ? ', sent byte by byte' : ''}: connection closed without an answer, nothing written`, async () => {
      const r = await exchange(server.url, put(line), { piece, gapMs: 1 })
      assert.ok(r.closed && r.silent, `expected a silent close, got ${JSON.stringify(r.raw.slice(0, 200))}`)
      assert.is(await value(), 'original')
    })
  }
}

for (const [name, size, cause] of BAD_SIZES) {
  for (const piece of [undefined, 1]) {
    test(`chunk size with ${name}${piece ? ', sent byte by byte' : ''}: 400 errorCode 210 "${cause}", closed, nothing written`, async () => {
      const r = await exchange(server.url, chunkedPut(size), { piece, gapMs: piece && size.length < 100 ? 1 : 0, ms: 10_000 })
      assert.is(r.responses.length, 1, r.raw.slice(0, 300))
      const a = r.responses[0]!
      assert.is(a.status, 400)
      assert.is(a.headers.connection, 'close')
      assert.equal(JSON.parse(a.body), { errorCode: 210, message: 'Invalid POST form', cause, index: 0 })
      assert.ok(r.closed)
      assert.is(await value(), 'original')
    })
  }
}

test('16 hex digits are still a chunk size: served', async () => {
  const r = await exchange(server.url, chunkedPut('0'.repeat(14) + '11'), { expect: 1 })
  assert.is(r.responses[0]?.status, 200)
  assert.is(await value(), 'overwritten')
})

test('members: a chunk size Go refuses is 400 {"message": reason}, as etcd', async () => {
  const r = await exchange(server.url, request('POST /v2/members HTTP/1.1\nHost: a\nContent-Type: application/json\nTransfer-Encoding: chunked', `${'0'.repeat(20)}2\r\n{}\r\n0\r\n\r\n`))
  assert.is(r.responses[0]?.status, 400)
  assert.equal(JSON.parse(r.responses[0]!.body), { message: 'http chunk length too large' })
  assert.ok(r.closed)
})

test('a GET whose chunked body is refused is answered, then the connection closes (as etcd)', async () => {
  const r = await exchange(server.url, chunkedPut('0'.repeat(17) + '1').replace('PUT', 'GET') + good)
  assert.equal(r.responses.map((x) => x.status), [200])
  assert.ok(r.closed)
})

test('pipelined: a good request, then a bad request line: the first is answered, the second gets Go\'s 400, nothing of it runs', async () => {
  for (const [name, line] of BAD_LINES) {
    for (const piece of [undefined, 1]) {
      const first = request(`PUT /v2/keys/fz-canary HTTP/1.1\nHost: a\n${FORM}\nContent-Length: 11`, 'value=first')
      const r = await exchange(server.url, first + put(line) + good, { piece })
      assert.equal(r.responses.map((x) => x.status), [200, 400], name)
      assert.ok(r.raw.endsWith(GO_400), `${name}: ${JSON.stringify(r.raw.slice(-200))}`)
      assert.ok(r.closed)
      assert.is(await value(), 'first', name)
      await reset()
    }
  }
})

test('pipelined: a good request, then HTTP/2.0 or HTTP/0.9: the first is answered, the second gets Go\'s 505, nothing of it runs', async () => {
  for (const v of ['HTTP/2.0', 'HTTP/0.9']) {
    const r = await exchange(server.url, good + put(`PUT /v2/keys/fz-canary ${v}`) + good)
    assert.equal(r.responses.map((x) => x.status), [200, 505], v)
    assert.ok(r.raw.endsWith('\r\n\r\n505 HTTP Version Not Supported: unsupported protocol version'), r.raw.slice(-100))
    assert.ok(r.closed)
    assert.is(await value(), 'original')
  }
})

test('pipelined: a good request, then a refused chunk size: first answered, second 400/210, nothing of it written', async () => {
  const first = request('PUT /v2/keys/fz-other?value=first HTTP/1.1\nHost: a')
  const r = await exchange(server.url, first + chunkedPut('0'.repeat(30) + '11') + good)
  assert.equal(r.responses.map((x) => x.status), [201, 400])
  assert.is(JSON.parse(r.responses[1]!.body).errorCode, 210)
  assert.ok(r.closed)
  assert.is(await value(), 'original')
})

test('a big valid chunked body (1 MiB in 64 KiB chunks with extensions, byte-split head) is stored whole', async () => {
  const v = 'v'.repeat(1 << 20)
  const body = `value=${v}`
  let chunks = ''
  for (let at = 0; at < body.length; at += 65536) {
    const part = body.slice(at, at + 65536)
    chunks += `${part.length.toString(16)};n=${at}\r\n${part}\r\n`
  }
  chunks += '0\r\n\r\n'
  const r = await exchange(server.url, request(`PUT /v2/keys/fz-canary HTTP/1.1\nHost: a\n${FORM}\nTransfer-Encoding: chunked`, chunks), { expect: 1, ms: 20_000, piece: 4093 })
  assert.is(r.responses[0]?.status, 200, r.raw.slice(0, 200))
  assert.is((await value()).length, v.length)
})

test('keep-alive: the same connection serves request after request (plain, chunked, pipelined)', async () => {
  const net = await import('node:net')
  const u = new URL(server.url)
  const sock = net.connect(Number(u.port), u.hostname)
  let got = ''
  sock.setEncoding('latin1')
  sock.on('data', (d: string) => (got += d))
  const answered = async (n: number): Promise<void> => {
    const until = Date.now() + 5000
    while ((got.match(/^HTTP\/1\.1 /gm) ?? []).length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 5))
  }
  try {
    sock.write(good)
    await answered(1)
    sock.write(chunkedPut('0011'))
    await answered(2)
    sock.write(good + put('PUT /v2/keys/fz-canary HTTP/1.1'))
    await answered(4)
    sock.write(good)
    await answered(5)
    assert.equal([...got.matchAll(/^HTTP\/1\.1 (\d+)/gm)].map((m) => m[1]), ['200', '200', '200', '200', '200'])
    assert.ok(!sock.destroyed)
  } finally {
    sock.destroy()
  }
})

test('a failure of the check itself leaves the connection to Node\'s parser: served, no crash', async () => {
  const scan = FramingScanner.prototype.scan
  FramingScanner.prototype.scan = () => {
    throw new Error('planted failure')
  }
  try {
    const r = await exchange(server.url, good + good, { expect: 2 })
    assert.equal(r.responses.map((x) => x.status), [200, 200])
  } finally {
    FramingScanner.prototype.scan = scan
  }
  assert.is((await exchange(server.url, put('PUT  /v2/keys/fz-canary HTTP/1.1'))).silent, true)
})

test('https: the same checks on a TLS listener; valid chunked requests served', async () => {
  const url = tlsServer.url
  const opts = { tls: tlsOpts }
  await reset(url, opts)
  const line = await exchange(url, put('PUT  /v2/keys/fz-canary?value=overwritten HTTP/1.1'), { ...opts, piece: 1, gapMs: 1 })
  assert.ok(line.closed && line.silent, JSON.stringify(line.raw.slice(0, 200)))
  const size = await exchange(url, chunkedPut('0'.repeat(5000) + '11'), { ...opts, piece: 1 })
  assert.is(size.responses[0]?.status, 400)
  assert.is(JSON.parse(size.responses[0]!.body).cause, 'header line too long')
  assert.is(await value(url, opts), 'original')
  const ok = await exchange(url, chunkedPut('11') + good, { ...opts, expect: 2 })
  assert.equal(ok.responses.map((x) => x.status), [200, 200])
  assert.is(JSON.parse(ok.responses[1]!.body).node.value, 'overwritten')
})

test.run()
