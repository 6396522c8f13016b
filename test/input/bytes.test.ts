// Keys, values and prevValue are compared byte for byte: bytes that are not UTF-8 are refused
// (400, errorCode 209) instead of being decoded to U+FFFD, so two different byte strings never
// become one key or one value. Valid UTF-8, escaped or raw, behaves as before.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startServer, type RunningServer } from '../../server/index.js'
import { raw } from '../http/raw-client.js'

const test = suite('byte-exact keys and values')
let server: RunningServer
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' }

test.before(async () => {
  server = await startServer({ listenClientUrls: ['http://127.0.0.1:0'] })
  await server.ready()
})
test.after(async () => {
  await server.close()
})

const PAIRS = [
  ['%FF', '%EF%BF%BD'],
  ['%FE', '%FF'],
  ['%80', '%81'],
  ['%C0%AE', '%C0%AF'],
  ['%ED%A0%80', '%ED%A0%81'],
  ['%F4%90%80%80', '%F4%90%80%81'],
] as const

const errorOf = (body: string): { errorCode: number; cause: string } => JSON.parse(body)

PAIRS.forEach(([a, b], i) => {
  test(`key ${a} is refused and cannot alias ${b} (PUT, GET, DELETE, prevValue swap, conditional delete)`, async () => {
    const dir = `/v2/keys/fz/encoding/${i}/`
    const put = await raw(server.url, 'PUT', dir + a, { body: 'value=first', headers: FORM })
    assert.is(put.status, 400)
    assert.equal(errorOf(put.body), { errorCode: 209, message: 'Invalid field', cause: 'key is not valid UTF-8', index: 0 } as never)
    for (const [method, q] of [['GET', ''], ['DELETE', ''], ['PUT', '?value=x&prevValue=first'], ['DELETE', '?prevValue=first']] as const) {
      const other = await raw(server.url, method, dir + b + q)
      // b is either invalid too (400) or the valid U+FFFD, which no write created (404 / 100).
      if (b === '%EF%BF%BD') {
        assert.is(other.status, 404, `${method} ${b}${q}`)
        assert.is(errorOf(other.body).errorCode, 100)
      } else {
        assert.is(other.status, 400, `${method} ${b}${q}`)
        assert.is(errorOf(other.body).errorCode, 209)
      }
    }
    const list = await raw(server.url, 'GET', dir)
    assert.is(list.status, 404, 'nothing was created under ' + dir)
  })

  test(`value ${a} and prevValue ${b} are refused; nothing written or deleted`, async () => {
    const key = `/v2/keys/fz/values/${i}`
    assert.is((await raw(server.url, 'PUT', key, { body: 'value=kept', headers: FORM })).status, 201)
    const put = await raw(server.url, 'PUT', key, { body: `value=${a}`, headers: FORM })
    assert.is(put.status, 400)
    assert.is(errorOf(put.body).cause, 'invalid value for "value": not valid UTF-8')
    const query = await raw(server.url, 'PUT', `${key}?value=${a}`)
    assert.is(query.status, 400)
    const cad = await raw(server.url, 'DELETE', `${key}?prevValue=${b}`)
    if (b === '%EF%BF%BD') {
      // U+FFFD itself is valid text: an ordinary failed comparison, as in etcd.
      assert.is(cad.status, 412)
      assert.is(errorOf(cad.body).errorCode, 101)
    } else {
      assert.is(cad.status, 400)
      assert.is(errorOf(cad.body).cause, 'invalid value for "prevValue": not valid UTF-8')
    }
    const cas = await raw(server.url, 'PUT', `${key}?prevValue=${a}`, { body: 'value=swapped', headers: FORM })
    assert.is(cas.status, 400)
    const get = await raw(server.url, 'GET', key)
    assert.is(JSON.parse(get.body).node.value, 'kept')
  })
})

test('compare-and-delete with a different invalid byte never deletes (the etcd example)', async () => {
  const key = '/v2/keys/fz/values/50'
  assert.is((await raw(server.url, 'PUT', key, { body: 'value=%FF', headers: FORM })).status, 400)
  assert.is((await raw(server.url, 'PUT', key, { body: 'value=v', headers: FORM })).status, 201)
  const del = await raw(server.url, 'DELETE', `${key}?prevValue=%FE`)
  assert.is(del.status, 400)
  assert.is((await raw(server.url, 'GET', key)).status, 200)
})

test('raw (unescaped) invalid bytes in a form body are refused too', async () => {
  const r = await raw(server.url, 'PUT', '/v2/keys/fz/raw', { body: Buffer.from([...Buffer.from('value='), 0xff]), headers: FORM })
  assert.is(r.status, 400)
  assert.is(errorOf(r.body).cause, 'invalid value for "value": not valid UTF-8')
  assert.is((await raw(server.url, 'GET', '/v2/keys/fz/raw')).status, 404)
})

test('valid UTF-8 is unchanged: escaped and raw keys and values, U+FFFD itself, prevValue swap', async () => {
  const put = await raw(server.url, 'PUT', '/v2/keys/fz/utf8/%C3%A9%E2%82%AC%F0%9F%98%80', { body: Buffer.from('value=é€😀', 'utf8'), headers: FORM })
  assert.is(put.status, 201)
  const node = JSON.parse(put.body).node
  assert.is(node.key, '/fz/utf8/é€😀')
  assert.is(node.value, 'é€😀')
  const cas = await raw(server.url, 'PUT', '/v2/keys/fz/utf8/%C3%A9%E2%82%AC%F0%9F%98%80?prevValue=%C3%A9%E2%82%AC%F0%9F%98%80&value=next')
  assert.is(cas.status, 200)
  const fffd = await raw(server.url, 'PUT', '/v2/keys/fz/utf8/%EF%BF%BD?value=%EF%BF%BD')
  assert.is(fffd.status, 201)
  assert.is(JSON.parse(fffd.body).node.value, '\ufffd')
})

test('an unknown parameter whose name is not UTF-8 is ignored, as etcd ignores unknown ones', async () => {
  const r = await raw(server.url, 'PUT', '/v2/keys/fz/param?%FF=1&value=ok')
  assert.is(r.status, 201)
  const bad = await raw(server.url, 'GET', '/v2/keys/fz/param?recursive=%FF')
  assert.is(bad.status, 400)
  assert.is(errorOf(bad.body).cause, 'invalid value for "recursive"')
})

test('non-keys paths that are not UTF-8 get a 400 with a message', async () => {
  const r = await raw(server.url, 'GET', '/v2/members/%FF')
  assert.is(r.status, 400)
  assert.equal(JSON.parse(r.body), { message: 'path is not valid UTF-8' })
})

test.run()
