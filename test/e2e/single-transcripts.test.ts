// Acceptance test of the HTTP v2 API of one member: a fresh in-process member (port 0, --cors '*')
// is recorded with shared/spec's `record` tool and compared with the golden etcd 3.4 transcripts
// (v2-api.md appendix A). Every case of the single-member sections must match.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { SingleMemberBackend, startServer, type RunningServer } from '../../server/index.js'

const repoRoot = path.resolve(new URL('../..', import.meta.url).pathname)
// CI has a copy of shared/ next to the repository.
const specDir = path.resolve(repoRoot, '../shared/spec')
const SECTIONS = 'misc,keys,params,ttl,cas,dirs,order,hidden,stats,watch'

const test = suite('single-member golden transcripts')

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

async function recordAndCompare(server: RunningServer): Promise<void> {
  const out = mkdtempSync(path.join(tmpdir(), 'raftkv-transcripts-'))
  try {
    const rec = await run([server.url, out, '--only', SECTIONS], 90_000)
    assert.is(rec.code, 0, `record failed:\n${rec.out}`)
    const cmp = await run(['compare', path.join(specDir, 'transcripts'), out, '--only', SECTIONS, '-q'], 30_000)
    const last = cmp.out.trim().split('\n').pop()
    assert.is(last, '174 passed, 0 failed', cmp.out)
    assert.is(cmp.code, 0)
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
}

test(`record ${SECTIONS} against a fresh member: 174 passed, 0 failed`, async () => {
  assert.ok(existsSync(path.join(specDir, 'record')), `spec tools not found in ${specDir}`)
  const server = await startServer({ name: 'rec1', listenClientUrls: ['http://127.0.0.1:0'], cors: ['*'] })
  try {
    await recordAndCompare(server)
  } finally {
    await server.close()
  }
})

// The HTTP layer alone, over the in-memory single-member backend: separates HTTP regressions
// from consensus ones when the test above fails.
test('the same 174 cases over the in-memory single-member backend', async () => {
  const backend = new SingleMemberBackend({ name: 'rec1', peerURLs: ['http://127.0.0.1:2380'], clientURLs: [], clusterToken: 'etcd-cluster' })
  const server = await startServer({ name: 'rec1', listenClientUrls: ['http://127.0.0.1:0'], cors: ['*'], backend })
  try {
    backend.setClientURLs(server.clientUrls)
    await recordAndCompare(server)
  } finally {
    await server.close()
  }
})

test.run()
