// Acceptance test of the v2 auth API (spec section 18, MEM-9, HDR-1, ERR-4): a fresh member is
// recorded with shared/spec's `record --only auth` and compared with the golden etcd 3.4
// transcripts (11-auth.json): every one of the 59 cases must match. Run over a Raft member (auth
// changes replicated through the log), over the in-memory backend (member-local auth state) and
// over an https client listener.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { SingleMemberBackend, startServer, type RunningServer } from '../../server/index.js'
import { makePki } from './tls-fixture.js'

const repoRoot = path.resolve(new URL('../..', import.meta.url).pathname)
// CI has a copy of shared/ next to the repository.
const specDir = path.resolve(repoRoot, '../shared/spec')

const test = suite('auth golden transcripts')

function run(args: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(specDir, 'record'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, out })
    })
  })
}

async function recordAndCompare(server: RunningServer, extra: string[] = []): Promise<void> {
  const out = mkdtempSync(path.join(tmpdir(), 'raftkv-auth-transcripts-'))
  try {
    const rec = await run([server.url, out, '--only', 'auth', ...extra], 60_000)
    assert.is(rec.code, 0, `record failed:\n${rec.out}`)
    const cmp = await run(['compare', path.join(specDir, 'transcripts'), out, '--only', 'auth', '-q'], 30_000)
    const last = cmp.out.trim().split('\n').pop()
    assert.is(last, '59 passed, 0 failed', cmp.out)
    assert.is(cmp.code, 0)
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
}

test('record --only auth against a fresh Raft member: 59 passed, 0 failed', async () => {
  assert.ok(existsSync(path.join(specDir, 'record')), `spec tools not found in ${specDir}`)
  const server = await startServer({ name: 'rec1', listenClientUrls: ['http://127.0.0.1:0'], cors: ['*'] })
  try {
    await recordAndCompare(server)
  } finally {
    await server.close()
  }
})

test('the same 59 cases over the in-memory single-member backend', async () => {
  const backend = new SingleMemberBackend({ name: 'rec1', peerURLs: ['http://127.0.0.1:2380'], clientURLs: [], clusterToken: 'etcd-cluster' })
  const server = await startServer({ name: 'rec1', listenClientUrls: ['http://127.0.0.1:0'], cors: ['*'], backend })
  try {
    backend.setClientURLs(server.clientUrls)
    await recordAndCompare(server)
  } finally {
    await server.close()
  }
})

test('the same 59 cases over an https client listener (record --insecure)', async () => {
  const pki = makePki()
  const server = await startServer({
    name: 'rec1',
    listenClientUrls: ['https://127.0.0.1:0'],
    cors: ['*'],
    clientTls: { certFile: pki.server.cert, keyFile: pki.server.key, trustedCaFile: '', clientCertAuth: false },
  })
  try {
    assert.match(server.url, /^https:/)
    await recordAndCompare(server, ['--insecure'])
  } finally {
    await server.close()
    pki.close()
  }
})

test.run()
