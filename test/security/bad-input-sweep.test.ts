// Bad-input sweep over every client endpoint of a live member with auth enabled: seeded random and
// malformed methods, paths (`..`, `//`, percent garbage, huge and unicode keys, absolute-form
// targets), headers (bad Basic auth, odd content types), bodies (malformed JSON and forms, huge,
// deeply nested) and numbers. Every request must get an answer (no hang; a watch that is
// legitimately waiting counts as answered once its 200 headers arrived), never a 500, and a
// rejected request (status >= 400) must leave the key space, the auth data and the member list
// exactly as they were. Replay with SWEEP_SEED=<n>; bounded by SWEEP_MS (default 12 s), plus the peer port (<= 8 s).
import http from 'node:http'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startServer, type RunningServer } from '../../server/index.js'
import { reservePort } from '../support/ports.js'
import { mulberry32 as prng } from '../support/prng.js'

const SEED = Number(process.env.SWEEP_SEED ?? 20261125)
const MAX = Number(process.env.SWEEP_COUNT ?? 6000)
const BUDGET_MS = Number(process.env.SWEEP_MS ?? 12_000)

interface Answer { status: number; body: string; pending?: boolean }

/** One request on a fresh connection, path sent byte for byte. A watch may stay open: it counts once its headers came. */
function send(base: string, method: string, path: string, headers: Record<string, string>, body: string | Buffer | undefined, timeoutMs: number): Promise<Answer | 'unsendable'> {
  const u = new URL(base)
  return new Promise((resolve, reject) => {
    let req: http.ClientRequest
    try {
      req = http.request({ host: u.hostname, port: u.port, method, path, headers, agent: false })
    } catch {
      resolve('unsendable') // Node's client refuses it (invalid method/header/path characters)
      return
    }
    let status = 0
    const timer = setTimeout(() => {
      if (status === 200 && /[?&]wait=/.test(path)) {
        req.destroy()
        resolve({ status, body: '', pending: true })
      } else {
        req.destroy()
        reject(new Error(`no answer within ${timeoutMs} ms: ${method} ${path.slice(0, 200)}`))
      }
    }, timeoutMs)
    req.on('response', (res) => {
      status = res.statusCode ?? 0
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (text += d.length + text.length > 4096 ? '' : d))
      res.on('close', () => {
        clearTimeout(timer)
        resolve({ status, body: text })
      })
    })
    req.on('error', (e) => {
      clearTimeout(timer)
      if (status !== 0) return // cut after the headers: already handled by 'close'
      reject(e)
    })
    if (body !== undefined) req.write(body)
    req.end()
  })
}

const test = suite('bad-input sweep')
let server: RunningServer

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64')

async function setup(): Promise<void> {
  const call = async (method: string, p: string, json?: unknown, cred?: string): Promise<number> => {
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (cred) headers.authorization = 'Basic ' + b64(cred)
    const r = await fetch(server.url + p, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) })
    await r.text()
    return r.status
  }
  assert.is(await call('PUT', '/v2/auth/users/root', { user: 'root', password: 'rootpw' }), 201)
  assert.is(await call('PUT', '/v2/auth/roles/app', { role: 'app', permissions: { kv: { read: ['/app/*'], write: ['/app/*'] } } }), 201)
  assert.is(await call('PUT', '/v2/auth/users/alice', { user: 'alice', password: 'alicepw', roles: ['app'] }), 200)
  assert.is(await call('PUT', '/v2/auth/enable'), 200)
  assert.is(await call('PUT', '/v2/auth/roles/guest', { role: 'guest', revoke: { kv: { write: ['/*'] } } }, 'root:rootpw'), 200)
  for (const k of ['/app/a', '/app/dir/b', '/other', '/_hidden']) {
    const r = await fetch(server.url + '/v2/keys' + k, { method: 'PUT', headers: { authorization: 'Basic ' + b64('root:rootpw'), 'content-type': 'application/x-www-form-urlencoded' }, body: 'value=seed' })
    assert.is(r.status, 201)
  }
}

function fingerprint(): string {
  const b = server.backend
  return b.store.toSnapshot() + '\n' + JSON.stringify(b.authState!().toJSON()) + '\n' + JSON.stringify(b.members().map((m) => [m.id, m.peerURLs]))
}

let peerUrl = ''

test.before(async () => {
  const port = await reservePort()
  peerUrl = `http://127.0.0.1:${port}`
  server = await startServer({
    name: 'sweep',
    listenClientUrls: ['http://127.0.0.1:0'],
    listenPeerUrls: [peerUrl],
    initialAdvertisePeerUrls: [peerUrl],
    initialCluster: [{ name: 'sweep', peerUrls: [peerUrl] }],
  })
  await setup()
})
test.after(async () => {
  await server?.close()
})

test(`seeded sweep (seed ${SEED}): answers, no 500, rejected requests change nothing`, async () => {
  const rnd = prng(SEED)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!
  const chance = (p: number): boolean => rnd() < p

  const methods = ['GET', 'GET', 'HEAD', 'PUT', 'PUT', 'POST', 'DELETE', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'FOO', 'get', 'PROPFIND', 'M-SEARCH', 'G E T', '']
  const segs = ['app', 'a', 'dir', 'b', 'other', '_hidden', '..', '.', '', '%2e%2e', '%2F', '%00', '%ff', '%zz', '%', 'é', '%C3%A9', '😀', '%F0%9F%98%80', 'x'.repeat(300), '*', '?', '#', ';', '\\', '~', '00000000000000000001', 'root', 'guest', 'alice', 'leader', '0', 'ffffffffffffffffff']
  const prefixes = ['/v2/keys', '/v2/keys', '/v2/keys', '/v2/members', '/v2/auth/enable', '/v2/auth/users', '/v2/auth/roles', '/v2/auth', '/v2/stats/self', '/v2/stats/leader', '/v2/stats/store', '/v2/stats', '/version', '/health', '/metrics', '/v2/machines', '', '/v2', '/v2/', '//v2/keys', '/v2/keys/../auth/users', 'http://host/v2/keys', '*']
  const params = ['value', 'ttl', 'dir', 'prevExist', 'prevValue', 'prevIndex', 'recursive', 'sorted', 'wait', 'waitIndex', 'stream', 'quorum', 'refresh', 'noValueOnSuccess', 'x', '', '%zz']
  // No value that makes a TTL key (its expiry would change the store between requests).
  const numbers = ['', 'true', 'false', '1', '-1', 'abc', '%zz', '99999999999999999999', '18446744073709551616', '1e3', '0x10', ' 5', 'NaN', '-0', '9'.repeat(400), '%00', 'é']
  const creds = [
    undefined, undefined, undefined, 'Basic ' + b64('root:rootpw'), 'Basic ' + b64('alice:alicepw'), 'basic ' + b64('alice:alicepw'),
    'Basic', 'Basic ', 'Basic !!!!', 'Basic ' + b64('nocolon'), 'Basic ' + b64(':'), 'Basic ' + b64('root:rootpw') + '=', 'Basic ' + b64('root:rootpw').slice(1),
    'Bearer abc', 'Digest username="root"', 'Basic ' + b64('ü:pw'), 'Basic ' + b64('root:' + 'x'.repeat(3000)), 'Basic ' + 'A'.repeat(6000), 'Basic ' + b64('alice:wrong'),
    'Basic ' + b64('nobody:x'), 'Basic ' + b64('root:rootpw') + ' ' + b64('x:y'), '',
  ]
  const ctypes = [undefined, 'application/x-www-form-urlencoded', 'application/json', 'text/plain', 'multipart/form-data; boundary=x', ';;', '', 'application/x-www-form-urlencoded; charset=%%', 'application/json; charset=utf-8']
  const jsonBodies = [
    '', 'null', '{}', '[]', '"x"', '5', 'notjson', '{"user":', '{"user":5}', '{"user":"alice","roles":"app"}', '{"user":"alice","grant":[1]}',
    '{"user":"alice","password":"alicepw"}', '{"USER":"alice","revoke":["app"]}', '{"user":"alice","grant":["app"],"roles":["x"]}', '{"user":"bob","password":""}',
    '{"role":"app","permissions":{"kv":{"read":"x"}}}', '{"role":"app","grant":{"kv":{"read":["/x"]}}}', '{"role":"app","revoke":{"kv":{"write":["/app/*"]}}}',
    '{"role":"root"}', '{"role":"guest","grant":{"kv":{"write":["/*"]}}}', '{"role":"r","permissions":null,"grant":null}', '{"peerURLs":["http://127.0.0.1:1"]}',
    '{"peerURLs":"x"}', '{"peerURLs":["ftp://x"]}', '{"user":"alice"} trailing', '[' .repeat(20000), '{"a":' .repeat(5000), '{"user":"\\ud800"}', '\u0000\u0001\u00ff',
  ]

  const started = Date.now()
  let count = 0
  let rejected = 0
  let unsendable = 0
  const statuses = new Map<number, number>()
  for (; count < MAX && Date.now() - started < BUDGET_MS; count++) {
    const method = pick(methods)
    let p = pick(prefixes)
    const nseg = Math.floor(rnd() * 4)
    for (let i = 0; i < nseg; i++) p += '/' + pick(segs)
    if (chance(0.03)) p += '/' + 'k'.repeat(Math.floor(rnd() * 12000)) // huge keys (some beyond the header limit)
    if (chance(0.1)) p += '/'
    const q: string[] = []
    const nparams = Math.floor(rnd() * 4)
    for (let i = 0; i < nparams; i++) q.push(pick(params) + (chance(0.9) ? '=' + pick(numbers) : ''))
    if (chance(0.5)) p += '?' + q.join(pick(['&', '&', ';', '&&']))
    if (!p.startsWith('/') && !p.startsWith('http') && p !== '*') p = '/' + p
    const headers: Record<string, string> = {}
    const cred = pick(creds)
    // A real member change as root would break quorum of this one-member cluster: not what we test.
    if (!(p.startsWith('/v2/members') && method !== 'GET' && cred === creds[3])) {
      if (cred !== undefined) headers.authorization = cred
    }
    const ct = pick(ctypes)
    if (ct !== undefined) headers['content-type'] = ct
    if (chance(0.05)) headers['content-length'] = pick(['abc', '-1', '99999999999', '0'])
    if (chance(0.03)) headers['transfer-encoding'] = pick(['chunked', 'gzip', 'x'])
    let body: string | Buffer | undefined
    const bodyKind = rnd()
    if (method === 'GET' && chance(0.8)) body = undefined
    else if (bodyKind < 0.4) body = pick(jsonBodies)
    else if (bodyKind < 0.75) body = q.join('&') + (chance(0.5) ? '&value=' + pick(numbers) : '')
    else if (bodyKind < 0.85) body = Buffer.from(Array.from({ length: Math.floor(rnd() * 2000) }, () => Math.floor(rnd() * 256)))
    else if (bodyKind < 0.87) body = 'value=' + 'v'.repeat(11 * 1024 * 1024) // beyond the 10 MiB form limit
    else if (bodyKind < 0.9) body = JSON.stringify({ user: 'alice', roles: Array.from({ length: 5000 }, (_, i) => 'r' + i) })
    if (headers['content-length'] !== undefined && body === undefined) body = ''

    const before = fingerprint()
    let a: Answer | 'unsendable'
    try {
      a = await send(server.url, method, p, headers, body, 5000)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      // The server may cut a connection whose framing it rejected (bad Content-Length /
      // Transfer-Encoding, over-long headers) without an HTTP answer, as Go's server does; and
      // a body sent after such a rejection meets a closed socket.
      if ((code === 'ECONNRESET' || code === 'EPIPE' || (e as Error).message === 'socket hang up') && (headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined || p.length > 8000 || (headers.authorization?.length ?? 0) > 5000)) {
        a = { status: 0, body: '' }
      } else {
        assert.unreachable(`request ${count} (${method} ${p.slice(0, 200)}): ${(e as Error).message}`)
        return
      }
    }
    if (a === 'unsendable') {
      unsendable++
      continue
    }
    statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1)
    const what = `request ${count}: ${method} ${p.slice(0, 200)} [${headers.authorization?.slice(0, 40) ?? '-'}] -> ${a.status} ${a.body.slice(0, 300)}`
    assert.ok(a.status !== 500, `500 answer: ${what}`)
    if (a.status >= 400 || a.status === 0) {
      rejected++
      assert.ok(fingerprint() === before, `a rejected request changed state: ${what}`)
    }
  }
  console.log(`  ${count} requests in ${Date.now() - started} ms (${rejected} rejected, ${unsendable} unsendable); statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((x, y) => x[0] - y[0])))}`)
  assert.ok(count >= 300, `only ${count} requests within the budget`)

  // The member still serves, and root still manages auth.
  const health = await fetch(server.url + '/health')
  assert.is(health.status, 200)
  const w = await fetch(server.url + '/v2/keys/app/after', { method: 'PUT', headers: { authorization: 'Basic ' + b64('root:rootpw'), 'content-type': 'application/x-www-form-urlencoded' }, body: 'value=ok' })
  assert.is(w.status, 201)
})

// The peer port: malformed Raft batches and snapshot streams, wrong or missing cluster/member ids,
// odd methods and paths. Peers are trusted once through the (TLS) handshake, so a well-formed
// message from a peer is a protocol action, not bad input: every message here is either
// undecodable or claims a sender other than the one in its headers (and is dropped).
test(`peer port sweep (seed ${SEED}): answers, no 500, nothing changes`, async () => {
  const rnd = prng(SEED + 1)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!
  const id = server.backend.memberId()
  const cid = server.backend.clusterId()
  const frame = (payload: Buffer | string, len?: number): Buffer => {
    const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload)
    const head = Buffer.alloc(4)
    head.writeUInt32BE(len ?? body.length)
    return Buffer.concat([head, body])
  }
  const arrays = ['[]', '[0]', '[99,"1","2"]', `[3,"dead","${id}",5]`, `[1,"x","${id}",1e400]`, '[-1,"a","b"]', `[3,"","${id}",1,1,1,1,1,1,[1,2,3]]`,
    `[3,"1","${id}",9,9,9,9,0,0,[1,1,0,5]]`, `[7,"x","${id}",1,0,0,0,0,0,0,0,[1,1,"x","d"]]`, '{"a":1}', 'null', '"str"', '[' .repeat(5000), `[3,"dead","${id}","9"]`]
  const bodies = (): Buffer => {
    const k = rnd()
    if (k < 0.3) return frame(pick(arrays))
    if (k < 0.4) return Buffer.concat([frame(pick(arrays)), frame(pick(arrays))])
    if (k < 0.5) return frame(pick(arrays), Math.floor(rnd() * 2 ** 32)) // lying length
    if (k < 0.6) return frame(pick(arrays)).subarray(0, 3 + Math.floor(rnd() * 5)) // truncated
    if (k < 0.85) return Buffer.from(Array.from({ length: Math.floor(rnd() * 3000) }, () => Math.floor(rnd() * 256)))
    return Buffer.alloc(0)
  }
  const paths = ['/raft/msg', '/raft/msg', '/raft/snapshot', '/raft/snapshot', '/members', '/raft', '/raft/msg/x', '/version', '/', '/raft/msg?x=1', '//raft/msg', '/%zz']
  const methods = ['POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE', 'HEAD', 'FOO']
  const before = fingerprint()
  const statuses = new Map<number, number>()
  const started = Date.now()
  let n = 0
  for (; n < 1500 && Date.now() - started < 8000; n++) {
    const headers: Record<string, string> = { 'content-type': pick(['application/octet-stream', 'application/json', 'text/plain']) }
    const c = rnd()
    if (c < 0.7) headers['x-etcd-cluster-id'] = cid
    else if (c < 0.85) headers['x-etcd-cluster-id'] = pick(['0', 'zz', 'ffffffffffffffffff', '1234', ''])
    const f = rnd()
    if (f < 0.6) headers['x-server-from'] = pick(['abc123', 'fffffffffffffffe', '7'])
    else if (f < 0.75) headers['x-server-from'] = pick(['zz', '', '-1', id])
    if (rnd() < 0.5) headers['x-raft-to'] = pick([id, id, 'abc', '0', 'zz'])
    const method = pick(methods)
    const p = pick(paths)
    let a: Answer | 'unsendable'
    try {
      a = await send(peerUrl, method, p, headers, method === 'GET' || method === 'HEAD' ? undefined : bodies(), 5000)
    } catch (e) {
      assert.unreachable(`peer request ${n} (${method} ${p}): ${(e as Error).message}`)
      return
    }
    if (a === 'unsendable') continue
    statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1)
    assert.ok(a.status !== 500, `peer request ${n}: ${method} ${p} ${JSON.stringify(headers)} -> 500 ${a.body.slice(0, 200)}`)
  }
  console.log(`  ${n} peer requests in ${Date.now() - started} ms; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((x, y) => x[0] - y[0])))}`)
  assert.ok(fingerprint() === before, 'peer garbage changed the store, auth data or members')
  assert.is(server.backend.leaderId(), id, 'the member is still the leader')
  const w = await fetch(server.url + '/v2/keys/app/after-peer', { method: 'PUT', headers: { authorization: 'Basic ' + b64('root:rootpw'), 'content-type': 'application/x-www-form-urlencoded' }, body: 'value=ok' })
  assert.is(w.status, 201)
})

test.run()
