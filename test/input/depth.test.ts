// No depth that can be written breaks a read: keys deeper than MAX_KEY_DEPTH are refused with 209;
// a key at the limit reads back (alone and in a recursive listing of the whole store), survives a
// snapshot and a restart. Members bodies nested beyond Go's limit get Go's 400, not a 500.
// A client hanging up mid-body, and malformed requests, are logged at debug level without a stack.
import net from 'node:net'
import path from 'node:path'
import { Writable } from 'node:stream'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startServer, type RunningServer } from '../../server/index.js'
import { createLogger } from '../../server/log.js'
import { MAX_KEY_DEPTH } from '../../server/http/keys.js'
import { raw } from '../http/raw-client.js'
import { exchange } from './wire.js'
import { cleanup, tempDir } from '../wal/helpers.js'

type LogLine = Record<string, unknown> & { msg?: string; level?: string }
const test = suite('depth and logging')
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' }
const base = tempDir('input-depth')
const dataDir = path.join(base, 's1.etcd')
const lines: LogLine[] = []
let server: RunningServer

function start(): Promise<RunningServer> {
  const dest = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as LogLine)
      cb()
    },
  })
  const logger = createLogger({ name: 's1', logLevel: 'debug' }, { destination: dest, pretty: false })
  // A snapshot every 20 entries, so the deep key is in one before the restart.
  return startServer({ name: 's1', dataDir, listenClientUrls: ['http://127.0.0.1:0'], snapshotCount: 20, logger })
}

const deep = (n: number, leaf = 'leaf'): string => '/v2/keys/deep' + '/d'.repeat(n - 2) + '/' + leaf

test.before(async () => {
  server = await start()
  await server.ready()
})
test.after(async () => {
  await server?.close()
  cleanup(base)
})

test(`a write deeper than ${MAX_KEY_DEPTH} levels is refused with 209; PUT dir and POST too`, async () => {
  for (const [method, p, body] of [
    ['PUT', deep(MAX_KEY_DEPTH + 1), 'value=x'],
    ['PUT', deep(MAX_KEY_DEPTH + 1), 'dir=true'],
    ['POST', deep(MAX_KEY_DEPTH), 'value=x'],
  ] as const) {
    const r = await raw(server.url, method, p, { body, headers: FORM })
    assert.is(r.status, 400, `${method} ${p.length}`)
    assert.equal(JSON.parse(r.body), { errorCode: 209, message: 'Invalid field', cause: `key is deeper than ${MAX_KEY_DEPTH} levels`, index: 0 })
  }
  // 3000 levels do not even fit in a request line etcd would read (4096 bytes): 414.
  assert.is((await raw(server.url, 'PUT', deep(3000), { body: 'value=x', headers: FORM })).status, 414)
  assert.is((await raw(server.url, 'GET', '/v2/keys/deep')).status, 404, 'nothing was created')
  // Reading a path that deep is fine: it just does not exist.
  assert.is((await raw(server.url, 'GET', deep(1500))).status, 404)
})

test('a key at the limit reads back, recursively and in the whole store, across snapshots and a restart', async () => {
  const put = await raw(server.url, 'PUT', deep(MAX_KEY_DEPTH), { body: 'value=bottom', headers: FORM })
  assert.is(put.status, 201)
  assert.is((await raw(server.url, 'POST', deep(MAX_KEY_DEPTH - 1, 'q'), { body: 'value=queued', headers: FORM })).status, 201)
  // Enough writes for several snapshots.
  for (let i = 0; i < 50; i++) assert.is((await raw(server.url, 'PUT', `/v2/keys/filler/${i % 5}`, { body: `value=${i}`, headers: FORM })).status < 300, true)
  const check = async (): Promise<void> => {
    for (const p of ['/v2/keys/deep?recursive=true', '/v2/keys/?recursive=true', '/v2/keys/?recursive=true&sorted=true', deep(MAX_KEY_DEPTH)]) {
      const r = await raw(server.url, 'GET', p, { timeoutMs: 15_000 })
      assert.is(r.status, 200, p)
      assert.ok(r.body.includes('"value":"bottom"'), p)
    }
  }
  await check()
  assert.ok(lines.some((l) => l.msg === 'saved snapshot'), 'a snapshot was taken')
  await server.close()
  server = await start()
  await server.ready()
  await check()
  assert.not.ok(lines.some((l) => l.level === 'error' || l.level === 'fatal'), JSON.stringify(lines.filter((l) => l.level === 'error')).slice(0, 500))
})

test('members: 40,000 [ and a valid 20,000-deep array answer Go\'s 400, not a 500', async () => {
  const json = { 'Content-Type': 'application/json' }
  for (const body of ['['.repeat(40_000), '['.repeat(20_000) + ']'.repeat(20_000), '{"peerURLs":' + '['.repeat(10_001)]) {
    const r = await raw(server.url, 'POST', '/v2/members', { body, headers: json })
    assert.is(r.status, 400)
    assert.equal(JSON.parse(r.body), { message: "invalid character '[' exceeded max depth" })
  }
  const ok = await raw(server.url, 'POST', '/v2/members', { body: '['.repeat(100) + ']'.repeat(100), headers: json })
  assert.is(ok.status, 400)
  assert.ok(JSON.parse(ok.body).message.startsWith('json: cannot unmarshal array'))
})

test('a client that hangs up mid-body is logged once at debug level, without a stack', async () => {
  const before = lines.length
  const u = new URL(server.url)
  await new Promise<void>((resolve) => {
    const s = net.connect(Number(u.port), u.hostname, () => {
      s.write('PUT /v2/keys/hangup HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nvalue=par')
      setTimeout(() => {
        s.destroy()
        resolve()
      }, 100)
    })
  })
  const until = Date.now() + 3000
  while (Date.now() < until && !lines.slice(before).some((l) => l.msg === 'client went away during its request')) await new Promise((r) => setTimeout(r, 20))
  const mine = lines.slice(before).filter((l) => String(l.url ?? '').includes('hangup'))
  assert.is(mine.length, 1, JSON.stringify(mine))
  assert.is(mine[0]!.level, 'debug')
  assert.is(mine[0]!.msg, 'client went away during its request')
  assert.not.ok(JSON.stringify(mine[0]).includes('stack'))
  assert.is((await raw(server.url, 'GET', '/v2/keys/hangup')).status, 404)
})

test('malformed requests are logged once at debug level, without a stack', async () => {
  const before = lines.length
  await exchange(server.url, 'PUT /v2/keys/refused?value=x HTTP/1.1\r\nHost: a b\r\n\r\n')
  await exchange(server.url, 'GET /v2/keys/ HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n')
  await exchange(server.url, 'PUT /v2/keys/refused?value=x\r\n\r\n')
  const until = Date.now() + 3000
  while (Date.now() < until && lines.length - before < 3) await new Promise((r) => setTimeout(r, 20))
  const mine = lines.slice(before)
  assert.equal(mine.map((l) => [l.level, l.msg]), [
    ['debug', 'malformed request refused'],
    ['debug', 'malformed request or client timeout'],
    ['debug', 'malformed request refused'],
  ])
  assert.not.ok(JSON.stringify(mine).includes('stack'))
  assert.is((await raw(server.url, 'GET', '/v2/keys/refused')).status, 404)
})

test.run()
