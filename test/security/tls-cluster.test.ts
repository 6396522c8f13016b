// TLS for clients and peers (CLI-3 `--cert-file`..`--peer-client-cert-auth`, CLI-7, AUTH-13 CN
// auth): three raftkv processes with https client and peer URLs, client-cert auth on both ports,
// certificates from a test CA made with openssl. Checks that writes replicate over https peers,
// that a client without a certificate (or with one from another CA) is refused at the handshake,
// that a peer with a certificate from another CA can neither join nor deliver Raft messages, that
// a verified certificate's CN authenticates as that user once auth is on, and that the SDK and a
// recipe work over https.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import https from 'node:https'
import { readFileSync } from 'node:fs'
import crossFetch from 'cross-fetch'
import { Client } from '../../src/index.js'
import { Counter, Lock } from '../../recipes/index.js'
import type { FetchLike } from '../../src/types.js'
import { form, makePki, request, TlsCluster, type Pki } from './tls-fixture.js'
import { sleep } from '../support/wait.js'

const test = suite('tls cluster')
let pki: Pki
let cluster: TlsCluster

test.before(async () => {
  pki = makePki()
  cluster = new TlsCluster(pki)
  await cluster.start(3)
})

test.after(async () => {
  await cluster?.close()
  pki?.close()
})

test('writes through one https member are read (quorum) from every other', async () => {
  const [a, b, c] = cluster.members
  const w = await request(a!.clientUrl + '/v2/keys/tls/x', { method: 'PUT', ...form({ value: 'over-tls' }), tls: cluster.goodClient })
  assert.is(w.status, 201, w.body)
  for (const m of [b!, c!]) {
    const r = await request(m.clientUrl + '/v2/keys/tls/x?quorum=true', { tls: cluster.goodClient })
    assert.is(r.status, 200, r.body)
    assert.is(r.json.node.value, 'over-tls')
  }
  const members = await request(a!.clientUrl + '/v2/members', { tls: cluster.goodClient })
  assert.is(members.json.members.length, 3)
  for (const m of members.json.members) {
    assert.match(m.peerURLs[0], /^https:\/\//)
    assert.match(m.clientURLs[0], /^https:\/\//)
  }
})

test('--client-cert-auth: no client certificate, or one from another CA, fails at the handshake', async () => {
  const url = cluster.members[0]!.clientUrl + '/v2/keys/tls/x'
  const noCert = await request(url, { tls: { ca: pki.ca } }).then(() => 'answered', (e: Error) => e.message)
  assert.not.equal(noCert, 'answered', 'a client without a certificate got an HTTP answer')
  const rogue = await request(url, { tls: { ca: pki.ca, cert: pki.rogueClient } }).then(() => 'answered', (e: Error) => e.message)
  assert.not.equal(rogue, 'answered', 'a client with a certificate from another CA got an HTTP answer')
  // Plain http on the https port is not served either.
  const plain = await request(url.replace('https:', 'http:')).then((r) => r.status, () => 0)
  assert.ok(plain === 0 || plain === 400, `plain http answered ${plain}`)
})

test('--peer-client-cert-auth: a certificate from another CA cannot send Raft messages', async () => {
  const peerUrl = cluster.members[0]!.peerUrl
  // The peer port answers a CA-signed peer certificate at the HTTP level...
  const good = await request(peerUrl + '/members', { tls: { ca: pki.ca, cert: pki.peer } })
  assert.is(good.status, 200)
  // ...and refuses a rogue one, or none, during the handshake (before any Raft message is read).
  for (const cert of [pki.roguePeer, undefined]) {
    const r = await request(peerUrl + '/raft', { method: 'POST', body: 'x', tls: { ca: pki.ca, cert } }).then(() => 'answered', (e: Error) => e.message)
    assert.not.equal(r, 'answered', `peer port answered ${cert ? 'a rogue' : 'no'} certificate`)
  }
})

test('a member with a CA-signed peer certificate joins over https (join fetch + Raft), then leaves', async () => {
  const [a] = cluster.members
  const { member: m, id } = await cluster.addMember('s4')
  const until = Date.now() + 20_000
  let value: string | undefined
  while (Date.now() < until && value !== 'over-tls') {
    value = await request(m.clientUrl + '/v2/keys/tls/x', { tls: cluster.goodClient, timeoutMs: 1000 }).then((r) => r.json?.node?.value as string | undefined, () => undefined)
    if (value !== 'over-tls') await sleep(200)
  }
  assert.is(value, 'over-tls', `the new member did not catch up\n${m.output().slice(-1500)}`)
  const del = await request(`${a!.clientUrl}/v2/members/${id}`, { method: 'DELETE', tls: cluster.goodClient })
  assert.is(del.status, 204, del.body)
  const exited = await Promise.race([m.exited!, sleep(10_000).then(() => 'running' as const)])
  assert.not.equal(exited, 'running', 'a removed member stops')
  m.proc = undefined
  cluster.members.splice(cluster.members.indexOf(m), 1)
})

test('a member with a peer certificate from another CA cannot join', async () => {
  const [a] = cluster.members
  // It trusts the right CA (so it could verify the others) but presents a foreign certificate.
  const { member: m } = await cluster.addMember('rogue', cluster.tlsArgs(pki.roguePeer, pki.ca))
  const exited = await Promise.race([m.exited!, sleep(8000).then(() => 'running' as const)])
  // Either it gave up (could not fetch the member list) or it runs without ever being published.
  const list = await request(a!.clientUrl + '/v2/members', { tls: cluster.goodClient })
  const entry = list.json.members.find((x: { peerURLs: string[] }) => x.peerURLs.includes(m.peerUrl))
  assert.ok(entry, 'the added member is listed')
  assert.is(entry.name, '', `the rogue member published itself (exit: ${String(exited)})\n${m.output().slice(-1500)}`)
  await cluster.kill(m)
  // Remove it again; the cluster keeps working.
  const del = await request(`${a!.clientUrl}/v2/members/${entry.id}`, { method: 'DELETE', tls: cluster.goodClient })
  assert.is(del.status, 204, del.body)
  const w = await request(a!.clientUrl + '/v2/keys/tls/after-rogue', { method: 'PUT', ...form({ value: '1' }), tls: cluster.goodClient })
  assert.is(w.status, 201, w.body)
})

test('with auth on, a verified client certificate authenticates as the user named by its CN', async () => {
  const base = cluster.members[0]!.clientUrl
  const tls = cluster.goodClient // CN=alice
  const json = (method: string, path: string, body: unknown, auth?: string): Promise<{ status: number; json: any; body: string }> =>
    request(base + path, {
      method,
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: 'Basic ' + Buffer.from(auth).toString('base64') } : {}) },
      tls,
    })
  assert.is((await json('PUT', '/v2/auth/users/root', { user: 'root', password: 'rootpw' })).status, 201)
  assert.is((await json('PUT', '/v2/auth/roles/app', { role: 'app', permissions: { kv: { read: ['/app/*'], write: ['/app/*'] } } })).status, 201)
  assert.is((await json('PUT', '/v2/auth/users/alice', { user: 'alice', password: 'alicepw', roles: ['app'] })).status, 200)
  assert.is((await request(base + '/v2/auth/enable', { method: 'PUT', tls })).status, 200)
  assert.is((await json('PUT', '/v2/auth/roles/guest', { role: 'guest', revoke: { kv: { read: ['/*'], write: ['/*'] } } }, 'root:rootpw')).status, 200)
  try {
    // No Authorization header: the certificate's CN (alice) is the user.
    const ok = await request(base + '/v2/keys/app/x', { method: 'PUT', ...form({ value: 'cn' }), tls })
    assert.is(ok.status, 201, ok.body)
    const denied = await request(base + '/v2/keys/other', { method: 'PUT', ...form({ value: 'cn' }), tls })
    assert.is(denied.status, 401)
    assert.is(denied.json.errorCode, 110)
    // The root CN may manage auth without a password; alice's may not.
    assert.is((await request(base + '/v2/auth/users', { tls: { ca: pki.ca, cert: pki.rootClient } })).status, 200)
    assert.is((await request(base + '/v2/auth/users', { tls })).status, 401)
    // Every member enforces the replicated auth state.
    const other = await request(cluster.members[2]!.clientUrl + '/v2/keys/other?quorum=true', { tls })
    assert.is(other.status, 401)
  } finally {
    const off = await request(base + '/v2/auth/enable', { method: 'DELETE', headers: { authorization: 'Basic ' + Buffer.from('root:rootpw').toString('base64') }, tls })
    assert.is(off.status, 200, off.body)
  }
})

test('the SDK over https: `fetchOptions.agent` with the default fetch, or a custom fetch; recipes work', async () => {
  const agent = new https.Agent({ keepAlive: true, ca: readFileSync(pki.ca), cert: readFileSync(pki.client.cert), key: readFileSync(pki.client.key) })
  const endpoints = cluster.members.map((m) => m.clientUrl)
  // 1. The default fetch on Node (cross-fetch) takes an agent through `fetchOptions`.
  const client = new Client({ endpoints, fetchOptions: { agent } })
  // 2. Any fetch can be wrapped instead (here cross-fetch again, passing the agent itself).
  const tlsFetch: FetchLike = (url, init) => (crossFetch as unknown as (u: string, i: object) => ReturnType<FetchLike>)(url, { ...init, agent })
  const wrapped = new Client({ endpoints, fetch: tlsFetch })
  // Without the certificate the members refuse the client.
  const bare = new Client({ endpoints, retry: false, timeout: 3000 })
  try {
    const set = await client.set('/sdk/k', 'v')
    assert.is(set.node.value, 'v')
    assert.is((await wrapped.get('/sdk/k', { quorum: true })).node.value, 'v')
    const refused = await bare.get('/sdk/k').then(() => 'answered', (e: unknown) => e)
    assert.is.not(refused, 'answered')
    // Recipes (lock: watches + CAS; counter) over https.
    const counter = new Counter(client, '/sdk/counter')
    const lock = new Lock(client, '/sdk/lock')
    await Promise.all([1, 2, 3].map(() => lock.withLock(() => counter.add(1))))
    assert.is(await counter.get(), 3)
    // A watch stream over https sees a change made through another member.
    const watcher = client.watch('/sdk/w')
    const next = (async () => {
      for await (const ev of watcher) return ev
    })()
    await sleep(200)
    await wrapped.set('/sdk/w', 'changed')
    const ev = await next
    assert.is((ev as { node: { value: string } }).node.value, 'changed')
  } finally {
    client.close()
    wrapped.close()
    bare.close()
    agent.destroy()
  }
})

test.run()
