// Test helper: runs shared/spec's `record` tool against a server and compares the result with the
// golden etcd transcripts. CI has a copy of shared/ next to the repository (../shared/spec).
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import * as assert from 'uvu/assert'

const repoRoot = path.resolve(new URL('../..', import.meta.url).pathname)
export const specDir = path.resolve(repoRoot, '../shared/spec')

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

/**
 * Records `sections` (comma-separated) against `url` and asserts the comparison with the golden
 * transcripts ends with `expected` (e.g. '174 passed, 0 failed'). `extra` goes to `record`.
 */
export async function recordAndCompare(url: string, sections: string, expected: string, extra: string[] = [], recordTimeoutMs = 90_000): Promise<void> {
  assert.ok(existsSync(path.join(specDir, 'record')), `spec tools not found in ${specDir}`)
  const out = mkdtempSync(path.join(tmpdir(), 'raftkv-transcripts-'))
  try {
    const rec = await run([url, out, '--only', sections, ...extra], recordTimeoutMs)
    assert.is(rec.code, 0, `record failed:\n${rec.out}`)
    const cmp = await run(['compare', path.join(specDir, 'transcripts'), out, '--only', sections, '-q'], 30_000)
    const last = cmp.out.trim().split('\n').pop()
    assert.is(last, expected, cmp.out)
    assert.is(cmp.code, 0)
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
}
