// Smoke test of `npm run bench`: a few tiny runs against a single raftkv member must produce
// numbers (> 0 op/s, no errors) and a valid JSON result. The benchmark itself is not a test.
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

const root = new URL('../..', import.meta.url).pathname
const test = suite('bench smoke')

interface Merged { ops: number; errors: number; opsPerSec: number; p50Ms: number; p99Ms: number }
interface ResultDoc { cells: { members: number; workload: string; clients: number; raftkv?: Merged; etcd?: Merged }[]; runs: unknown[] }

function runBench(args: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/main.ts', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    // SIGTERM lets the bench stop the servers it started before it exits.
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs)
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out }) })
  })
}

test('put, get and watch on one raftkv member give numbers and a JSON file', async () => {
  const outDir = mkdtempSync(join(tmpdir(), 'raftkv-bench-smoke-'))
  try {
    const { code, out } = await runBench([
      '--target', 'raftkv', '--members', '1', '--only', 'put,get,watch', '--clients', '4',
      '--duration', '0.6', '--warmup', '0.1', '--rounds', '1', '--out', outDir,
    ], 40_000)
    assert.is(code, 0, `bench exited with ${code}:\n${out}`)
    const files = readdirSync(outDir).filter((f) => f.endsWith('.json'))
    assert.is(files.length, 1, `expected one JSON result in ${outDir}:\n${out}`)
    const doc = JSON.parse(readFileSync(join(outDir, files[0]), 'utf8')) as ResultDoc
    assert.is(doc.cells.length, 3)
    for (const cell of doc.cells) {
      const r = cell.raftkv
      assert.ok(r !== undefined, `no raftkv result for ${cell.workload}`)
      assert.ok(r.ops > 0 && r.opsPerSec > 0, `${cell.workload}: no operations:\n${out}`)
      assert.is(r.errors, 0, `${cell.workload}: ${r.errors} errors:\n${out}`)
      assert.ok(r.p50Ms > 0 && r.p99Ms >= r.p50Ms, `${cell.workload}: bad latencies ${r.p50Ms}/${r.p99Ms}`)
      assert.is(cell.etcd, undefined)
    }
    assert.match(out, /raftkv op\/s/)
  } finally {
    rmSync(outDir, { recursive: true, force: true })
  }
})

test.run()
