// Seeded random requests against a live member: every request gets a well-formed HTTP answer
// (keys errors as etcd JSON), the process never crashes and the member keeps serving.
// Replay a failure with FUZZ_SEED=<n>.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startServer, type RunningServer } from '../../server/index.js'
import { raw, waitReady } from './raw-client.js'
import { mulberry32 as prng } from '../support/prng.js'

const SEED = Number(process.env.FUZZ_SEED ?? 20261125)
const COUNT = Number(process.env.FUZZ_COUNT ?? 600)

const test = suite('http fuzz')
let server: RunningServer

test.before(async () => {
  server = await startServer({ name: 'fuzz', listenClientUrls: ['http://127.0.0.1:0'] })
  await waitReady(server.url)
})
test.after(async () => {
  await server.close()
})

test(`${COUNT} random requests (seed ${SEED}) all get answers; the member survives`, async () => {
  const rnd = prng(SEED)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!
  const pieces = ['a', 'b', '_h', '..', '.', '', '%2F', '%20', '%zz', '%', '%C3%A9', '%FF', '+', ';', '~', '00000000000000000001']
  const names = ['value', 'ttl', 'dir', 'prevExist', 'prevValue', 'prevIndex', 'recursive', 'sorted', 'wait', 'waitIndex', 'stream', 'quorum', 'refresh', 'noValueOnSuccess', 'x']
  const vals = ['', 'true', 'false', '1', '0', '-1', 'abc', '%zz', '99999999999999999999', '5', 'T', '%', 'a+b', ';', '18446744073709551615']
  const types = ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8', 'text/plain', 'application/json', 'multipart/form-data; boundary=x', ';;', '', 'application/x-www-form-urlencoded;;']
  const roots = ['/v2/keys', '/v2/keys/', '/v2/members', '/v2/members/', '/v2/stats/', '/v2/machines', '/version', '/health', '/metrics', '/', '/v2//keys']
  const methods = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS']
  const query = () => Array.from({ length: Math.floor(rnd() * 4) }, () => `${pick(names)}=${pick(vals)}`).join('&')
  let answered = 0
  for (let i = 0; i < COUNT; i++) {
    const root = pick(roots)
    const path = root + Array.from({ length: Math.floor(rnd() * 4) }, () => '/' + pick(pieces)).join('')
    let q = query()
    // Never block on a live watch: the fuzz is about parsing, watches are tested elsewhere.
    if (/wait=(true|1|T)/.test(q)) q += '&quorum=true'
    const method = pick(methods)
    const withBody = method === 'PUT' || method === 'POST' || rnd() < 0.1
    const ct = pick(types)
    const headers: Record<string, string> = {}
    if (withBody && ct !== '') headers['Content-Type'] = ct
    const body = withBody ? (ct.includes('json') ? pick(['{"peerURLs":["notaurl"]}', '{"peerURLs":[]}', 'null', '{', '[]']) : query()) : undefined
    const what = `#${i} ${method} ${path}?${q} [${ct}] ${body ?? ''}`
    const r = await raw(server.url, method, q ? `${path}?${q}` : path, { body, headers, timeoutMs: 5000 }).catch((e: Error) => e)
    assert.ok(!(r instanceof Error), `${what}: ${r instanceof Error ? r.message : ''}`)
    if (r instanceof Error) continue
    assert.ok(r.status >= 200 && r.status < 600, what)
    assert.ok(r.status !== 500 || r.body.includes('"errorCode":300') || r.body.includes('Internal Server Error'), `${what}: ${r.body}`)
    if (path.startsWith('/v2/keys') && r.status >= 400 && r.status !== 404 && r.status !== 405 && method !== 'HEAD' && r.headers['content-type'] === 'application/json') {
      const e = JSON.parse(r.body) as { errorCode: number; message: string; index: number }
      assert.type(e.errorCode, 'number', what)
      assert.type(e.index, 'number', what)
    }
    answered++
  }
  assert.is(answered, COUNT)
  // No valid member change is in the mix (adding one would cost the quorum), so the member is
  // still healthy and writable.
  const h = await raw(server.url, 'GET', '/health')
  assert.is(h.status, 200)
  const w = await raw(server.url, 'PUT', '/v2/keys/fuzz/after?value=ok')
  assert.ok(w.status === 200 || w.status === 201, w.body)
})

test.run()
