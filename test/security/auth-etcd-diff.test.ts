// Differential test of auth-API corner cases beyond the golden transcripts (AUTH-4..14): Go JSON
// decoding quirks (case-insensitive keys, trailing data, null, wrong types), etcd's
// "nothing changed" rules (nil vs empty lists, unsorted lists), create-time grant/revoke, the root
// user and role, trailing slashes, method checks, Basic-auth header variants, members root checks.
// Each request goes to a fresh etcd 3.4 and a fresh raftkv member; status, content type, cluster
// id presence and body must match (indexes excepted: etcd's auth bookkeeping consumes more).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startServer, type RunningServer } from '../../server/index.js'
import { haveEtcd } from '../support/paths.js'
import { startEtcdServer } from '../support/procs.js'

const B = (s: string): string => 'Basic ' + Buffer.from(s).toString('base64')
const ROOT = B('root:rootpw')

/** [method, path, body, Authorization (default root for auth/members paths; null = none)] */
type Req = [string, string, (string | null)?, (string | null)?]

const CASES: Req[] = [
  ['PUT', '/v2/auth/users/root', '{"user":"root","password":"rootpw"}'],
  ['PUT', '/v2/auth/users/bob', '{"user":"bob","password":"pw"}'],
  ['PUT', '/v2/auth/users/bob', '{"user":"bob"}'],
  ['PUT', '/v2/auth/users/bob', '{"user":"bob"}'],
  ['PUT', '/v2/auth/users/carol', '{"user":"carol","password":"pw","roles":["z","a"]}'],
  ['PUT', '/v2/auth/users/carol', '{"user":"carol"}'],
  ['PUT', '/v2/auth/users/carol', '{"user":"carol"}'],
  ['PUT', '/v2/auth/roles/r1', '{"role":"r1","grant":{"kv":{}}}'],
  ['GET', '/v2/auth/roles/r1'],
  ['PUT', '/v2/auth/roles/r1', '{"role":"r1","revoke":{"kv":{"read":["/x"]}}}'],
  ['PUT', '/v2/auth/roles/r1', '{"role":"r1","revoke":{"kv":{"read":["/x"]}}}'],
  ['PUT', '/v2/auth/roles/r2', '{"role":"r2","permissions":{"kv":{"read":["/b","/a"]}}}'],
  ['PUT', '/v2/auth/roles/r2', '{"role":"r2","grant":{"kv":{"write":["/w"]}}}'],
  ['PUT', '/v2/auth/roles/r3', '{"role":"r3"} trailing garbage'],
  ['PUT', '/v2/auth/roles/r4', '{"ROLE":"r4","Permissions":{"KV":{"READ":["/q"]}}}'],
  ['PUT', '/v2/auth/users/dave', '{"User":"dave","PASSWORD":"pw"}'],
  ['PUT', '/v2/auth/users/eve', '{"user":"eve","password":5}'],
  ['PUT', '/v2/auth/users/eve', '{"user":"eve","password":null}'],
  ['PUT', '/v2/auth/users/eve', 'null'],
  ['PUT', '/v2/auth/users/eve', '[]'],
  ['PUT', '/v2/auth/users/eve', ''],
  ['PUT', '/v2/auth/users/root', '{"user":"root","password":"rootpw","roles":["r2"]}'],
  ['GET', '/v2/auth/users/root'],
  ['GET', '/v2/auth/users/'],
  ['GET', '/v2/auth/roles/'],
  ['HEAD', '/v2/auth/enable'],
  ['POST', '/v2/auth/enable'],
  ['GET', '/v2/auth/enable/'],
  ['GET', '/v2/auth'],
  ['GET', '/v2/auth/'],
  ['POST', '/v2/auth/users'],
  ['POST', '/v2/auth/users/x'],
  ['GET', '/v2/auth/users/x/y/z'],
  ['PUT', '/v2/auth/users/%C3%BC', '{"user":"ü","password":"pw"}'],
  ['GET', '/v2/auth/users/%C3%BC'],
  ['PUT', '/v2/auth/roles/root', '{"role":"root","grant":{"kv":{"read":["/x"]}}}'],
  ['DELETE', '/v2/auth/roles/root'],
  ['PUT', '/v2/auth/enable'],
  ['GET', '/v2/keys', null, null],
  ['GET', '/v2/keys/', null, null],
  ['GET', '/v2/keys/?recursive=true', null, null],
  ['GET', '/v2/keys/foo', null, 'basic ' + Buffer.from('root:rootpw').toString('base64')],
  ['GET', '/v2/keys/foo', null, 'BASIC ' + Buffer.from('root:rootpw').toString('base64')],
  ['GET', '/v2/keys/foo', null, 'Basic ' + Buffer.from('root:rootpw').toString('base64').replace(/=+$/, '')],
  ['GET', '/v2/keys/foo', null, ''],
  ['GET', '/v2/keys/foo', null, 'Basic'],
  ['GET', '/v2/keys/foo', null, B('root:rootpw:extra')],
  ['GET', '/v2/auth/users', null, B('carol:pw')],
  ['PUT', '/v2/members/abc', '{"peerURLs":["http://127.0.0.1:1"]}', null],
  ['DELETE', '/v2/members', null],
  ['DELETE', '/v2/auth/users/root', null],
  ['DELETE', '/v2/auth/enable', null],
  ['PUT', '/v2/auth/users/bob', '{"user":"bob","revoke":["x"],"grant":["x"]}'],
  ['PUT', '/v2/auth/users/bob', '{"user":"bob","grant":["x","x"]}'],
  ['PUT', '/v2/auth/roles/r5', '{"role":"r5","grant":{"kv":{"read":["/a","/a"]}}}'],
  ['PUT', '/v2/auth/roles/r2', '{"role":"r2","grant":{"kv":{"read":["/n","/n"]}}}'],
  ['PUT', '/v2/auth/roles/r2', '{"role":"r2","permissions":{"kv":{"read":["/z"]}},"revoke":{"kv":{"read":["/a"]}}}'],
  ['PUT', '/v2/auth/roles/r2', '{"role":"r2","permissions":{"kv":{}},"revoke":{"kv":{"read":["/a"]}}}'],
  ['GET', '/v2/auth/roles'],
  ['GET', '/v2/auth/users'],
]

async function run(base: string): Promise<string[]> {
  const out: string[] = []
  for (const [method, p, body, auth] of CASES) {
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    const a = auth === undefined ? (p.startsWith('/v2/auth') || p.startsWith('/v2/members') ? ROOT : null) : auth
    if (a !== null) headers.authorization = a
    const r = await fetch(base + p, { method, headers, body: body ?? undefined, redirect: 'manual', signal: AbortSignal.timeout(10_000) })
    const text = (await r.text()).replace(/"index":\d+/g, '"index":N')
    out.push(`${method} ${p} ${body ?? ''} [${a ?? '-'}] -> ${r.status} ${r.headers.get('content-type')} cluster-id:${r.headers.has('x-etcd-cluster-id')} ${text}`)
  }
  return out
}

const test = suite('auth corner cases vs etcd')
const dir = mkdtempSync(path.join(tmpdir(), 'raftkv-auth-diff-'))
let server: RunningServer

test.after(async () => {
  await server?.close()
  rmSync(dir, { recursive: true, force: true })
})

test(`${CASES.length} auth corner cases answer as etcd 3.4 does`, async () => {
  if (!haveEtcd()) {
    console.log('SKIP: no etcd binary')
    return
  }
  server = await startServer({ name: 'd1', listenClientUrls: ['http://127.0.0.1:0'] })
  const etcd = await startEtcdServer(dir)
  let theirs: string[]
  try {
    theirs = await run(etcd.url)
  } finally {
    await etcd.child.kill()
  }
  const ours = await run(server.url)
  for (let i = 0; i < CASES.length; i++) assert.is(ours[i], theirs[i])
})

test.run()
