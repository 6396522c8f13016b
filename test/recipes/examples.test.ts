// The examples in examples/ run as written: each is started as its own process against an
// in-process raftkv member on a free port (ETCD_ENDPOINTS), bounded by EXAMPLE_ROUNDS, and must
// exit 0 with the output a user would expect.

import { spawn } from 'node:child_process'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { repoRoot, startCluster, type Cluster } from '../client/fixtures.js'

let cluster: Cluster

function run(example: string, env: Record<string, string> = {}, timeoutMs = 30_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'examples', example)], {
      cwd: repoRoot,
      env: { ...process.env, ETCD_ENDPOINTS: cluster.endpoints.join(','), EXAMPLE_ROUNDS: '3', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    p.stdout.on('data', (d) => (out += d))
    p.stderr.on('data', (d) => (out += d))
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs)
    p.on('exit', (code) => { clearTimeout(t); resolve({ code, out }) })
  })
}

test.before(async () => { cluster = await startCluster('raftkv') })
test.after(async () => { await cluster?.close() })

test('examples/lock-worker.ts: two workers take turns; report runs count up with increasing tokens', async () => {
  const [a, b] = await Promise.all([run('lock-worker.ts', { WORKER: 'A' }), run('lock-worker.ts', { WORKER: 'B' })])
  assert.is(a.code, 0, a.out)
  assert.is(b.code, 0, b.out)
  const lines = [...a.out.split('\n'), ...b.out.split('\n')].filter((l) => l.includes('report run #'))
  assert.is(lines.length, 6, a.out + b.out)
  const runs = lines.map((l) => Number(/run #(\d+)/.exec(l)![1])).sort((x, y) => x - y)
  assert.equal(runs, [1, 2, 3, 4, 5, 6], 'every guarded update landed once')
})

test('examples/election.ts: three workers, reigns hand over, the observer follows', async () => {
  const r = await run('election.ts')
  assert.is(r.code, 0, r.out)
  const elected = r.out.split('\n').filter((l) => / elected, term /.test(l))
  assert.is(elected.length, 3, r.out)
  const terms = elected.map((l) => Number(/term (\d+)/.exec(l)![1]))
  assert.ok(terms[0]! < terms[1]! && terms[1]! < terms[2]!, `terms increase: ${terms}`)
  assert.ok(/observer: leader is worker-/.test(r.out), r.out)
  assert.ok(r.out.includes('election example: 3 reigns, done'))
})

test('examples/registry.ts: the watcher sees instances come, change and go', async () => {
  const r = await run('registry.ts', { EXAMPLE_ROUNDS: '6' })
  assert.is(r.code, 0, r.out)
  for (const s of ['watcher: added web-1', 'watcher: added web-2', 'watcher: added web-3', 'watcher: updated web-2', 'watcher: removed web-3', 'registry example: done']) {
    assert.ok(r.out.includes(s), `missing "${s}" in:\n${r.out}`)
  }
  const picks = r.out.split('\n').filter((l) => l.startsWith('client: round')).map((l) => l.split('-> ')[1])
  assert.is(picks.length, 6)
  assert.ok(!picks.slice(4).includes('web-3'), `web-3 is not picked after it left: ${picks}`)
})

test.run()
