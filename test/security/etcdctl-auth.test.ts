// etcdctl v2's `user`, `role` and `auth` commands (ETCDCTL_API=2, `--username user:pw`) against a
// fresh raftkv member and a fresh real etcd 3.4 (--enable-v2, when installed): the same command
// sequence must print the same stdout/stderr and exit with the same codes on both. Without etcd
// the raftkv output is still checked against the key lines etcd prints.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startServer, type RunningServer } from '../../server/index.js'
import { etcdBin as ETCD, haveEtcd } from '../support/paths.js'
import { runToEnd, startEtcdServer } from '../support/procs.js'
const ROOT = ['--username', 'root:rootpw']

/** The command sequence (no shell: patterns like /* reach etcdctl as typed). */
const SEQUENCE: string[][] = [
  ['user', 'add', 'root:rootpw'],
  ['user', 'list'],
  ['user', 'get', 'root'],
  ['role', 'list'],
  ['role', 'add', 'app'],
  ['role', 'add', 'app'],
  ['role', 'grant', 'app', '--path', '/app/*', '--readwrite'],
  ['role', 'grant', 'app', '--path', '/shared', '--read'],
  ['role', 'get', 'app'],
  ['role', 'list'],
  ['user', 'add', 'alice:alicepw'],
  ['user', 'add', 'alice:alicepw'],
  ['user', 'grant', 'alice', '--roles', 'app'],
  ['user', 'get', 'alice'],
  ['user', 'get', 'nosuch'],
  ['auth', 'enable'],
  ['auth', 'enable'],
  ['set', '/app/x', '1'],
  [...ROOT, 'role', 'revoke', 'guest', '--path', '/*', '--write'],
  ['set', '/app/x', '2'],
  ['get', '/app/x'],
  ['--username', 'alice:alicepw', 'set', '/app/x', '3'],
  ['--username', 'alice:alicepw', 'set', '/other', '1'],
  ['--username', 'alice:wrong', 'get', '/app/x'],
  ['user', 'list'],
  [...ROOT, 'user', 'list'],
  [...ROOT, 'role', 'get', 'guest'],
  [...ROOT, 'user', 'revoke', 'alice', '--roles', 'app'],
  [...ROOT, 'user', 'revoke', 'alice', '--roles', 'app'],
  [...ROOT, 'user', 'get', 'alice'],
  [...ROOT, 'user', 'remove', 'alice'],
  [...ROOT, 'user', 'remove', 'alice'],
  [...ROOT, 'role', 'remove', 'app'],
  [...ROOT, 'role', 'remove', 'app'],
  [...ROOT, 'role', 'remove', 'root'],
  [...ROOT, 'user', 'remove', 'root'],
  ['auth', 'disable'],
  [...ROOT, 'auth', 'disable'],
  ['auth', 'disable'],
  ['user', 'list'],
]

interface Out { stdout: string; stderr: string; code: number | null }

function etcdctl(endpoint: string, args: string[], timeoutMs = 15_000): Promise<Out> {
  return runToEnd('etcdctl', ['--endpoints', endpoint, ...args], { env: { ...process.env, ETCDCTL_API: '2' }, timeoutMs })
}

async function runSequence(endpoint: string): Promise<Out[]> {
  const outs: Out[] = []
  for (const args of SEQUENCE) outs.push(await etcdctl(endpoint, args))
  return outs
}

const test = suite('etcdctl v2 user/role/auth')
let server: RunningServer
const dir = mkdtempSync(path.join(tmpdir(), 'raftkv-etcdctl-auth-'))

test.before(async () => {
  server = await startServer({ name: 'ctl1', listenClientUrls: ['http://127.0.0.1:0'] })
})

test.after(async () => {
  await server?.close()
  rmSync(dir, { recursive: true, force: true })
})

test('the same etcdctl user/role/auth session prints the same on raftkv as on etcd', async () => {
  const ours = await runSequence(server.url)
  const show = (i: number): string => `etcdctl ${SEQUENCE[i]!.join(' ')}`
  // Key lines etcd prints (checked even without an etcd binary).
  const find = (args: string): Out => ours[SEQUENCE.findIndex((a) => a.join(' ') === args)]!
  assert.is(find('user add root:rootpw').stdout, 'User root created\n')
  assert.is(find('role get app').stdout, 'Role: app\nKV Read:\n\t/app/*\n\t/shared\nKV Write:\n\t/app/*\n')
  assert.is(find('auth enable').stdout, 'Authentication Enabled\n')
  assert.is(find('--username alice:alicepw set /other 1').stderr, 'Error:  110: The request requires user authentication (Insufficient credentials) [0]\n')
  assert.is(find('--username root:rootpw user list').stdout, 'alice\nroot\n')

  if (!haveEtcd()) {
    console.log(`SKIP etcd comparison: ${ETCD} not found`)
    return
  }
  const etcd = await startEtcdServer(dir)
  let theirs: Out[]
  try {
    theirs = await runSequence(etcd.url)
  } finally {
    await etcd.child.kill()
  }
  for (let i = 0; i < SEQUENCE.length; i++) {
    assert.is(ours[i]!.stdout, theirs[i]!.stdout, `${show(i)}: stdout`)
    assert.is(ours[i]!.stderr, theirs[i]!.stderr, `${show(i)}: stderr`)
    assert.is(ours[i]!.code, theirs[i]!.code, `${show(i)}: exit code`)
  }
})

test.run()
