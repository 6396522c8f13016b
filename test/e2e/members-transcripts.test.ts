// The spec's `members` section (MEM-*) recorded against a fresh raftkv member and compared with the
// golden etcd transcripts. Its last cases add a member that never starts, so the member loses
// quorum and must answer as etcd does (writes time out with errorCode 300, /health 503).
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startServer } from '../../server/index.js'

const repoRoot = path.resolve(new URL('../..', import.meta.url).pathname)
const specDir = path.resolve(repoRoot, '../shared/spec')

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

test('record --only members against a fresh member: 24 passed, 0 failed', async () => {
  assert.ok(existsSync(path.join(specDir, 'record')), `spec tools not found in ${specDir}`)
  // --strict-reconfig-check as etcd 3.4's default; peer port on loopback like the recording.
  const server = await startServer({ name: 'rec1', listenClientUrls: ['http://127.0.0.1:0'], cors: ['*'] })
  const out = mkdtempSync(path.join(tmpdir(), 'raftkv-members-'))
  try {
    const rec = await run([server.url, out, '--only', 'members'], 90_000)
    assert.is(rec.code, 0, `record failed:\n${rec.out}`)
    const cmp = await run(['compare', path.join(specDir, 'transcripts'), out, '--only', 'members', '-q'], 30_000)
    const last = cmp.out.trim().split('\n').pop()
    assert.is(last, '24 passed, 0 failed', cmp.out)
  } finally {
    rmSync(out, { recursive: true, force: true })
    await server.close()
  }
})

test.run()
