// examples/list.ts runs as written, as its own process, against raftkv (v2 API) and etcd (v3 API):
// every job is handled once by one of the two workers, the counts and the float sum agree, and
// nothing is left in the queue or in "processing".

import { spawn } from 'node:child_process'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { repoRoot } from '../support/paths.js'
import { targets } from '../recipes/targets.js'

function run(env: Record<string, string>, timeoutMs = 40_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'examples', 'list.ts')], {
      cwd: repoRoot, env: { ...process.env, EXAMPLE_ROUNDS: '6', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    p.stdout.on('data', (d) => (out += d))
    p.stderr.on('data', (d) => (out += d))
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs)
    p.on('exit', (code) => { clearTimeout(t); resolve({ code, out }) })
  })
}

for (const target of targets().filter((t) => t.label === 'raftkv v2' || t.label === 'etcd v3')) {
  test(`examples/list.ts [${target.label}]: each job done once, counts and float sum agree, nothing left`, async () => {
    const cluster = await target.start()
    try {
      const r = await run({ ETCD_ENDPOINTS: cluster.endpoints.join(','), RAFTKV_API: target.api })
      assert.is(r.code, 0, r.out)
      const done = r.out.split('\n').filter((l) => / job \d+ done$/.test(l)).map((l) => Number(/job (\d+)/.exec(l)![1])).sort((a, b) => a - b)
      assert.equal(done, [1, 2, 3, 4, 5, 6], r.out)
      // work = 10 + (id % 3) * 10 ms for ids 1..6: 20+30+10+20+30+10 = 120 ms
      assert.ok(r.out.includes('counted 6; work time 0.12 s'), r.out)
      assert.match(r.out, /latest result: job \d done by worker-[12]/)
      assert.ok(r.out.includes('list example: 6 jobs, queue 0, processing 0, done'), r.out)
    } finally {
      await cluster.close()
    }
  })
}

test.run()
