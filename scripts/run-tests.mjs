#!/usr/bin/env node
// Runs every test file in its own process (uvu suites via the tsx loader), plus the tsd type
// tests, then prints one summary line "N passed, N failed" that CI reads.
// Usage: node scripts/run-tests.mjs [path-filter ...]   env: TEST_JOBS (default 2), TEST_TIMEOUT_S
import { spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const filters = process.argv.slice(2)
const jobs = Number(process.env.TEST_JOBS ?? 2)
const timeoutMs = Number(process.env.TEST_TIMEOUT_S ?? 300) * 1000

function walk(dir) {
  const out = []
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...walk(p))
    else if (/\.test\.(ts|mts|js|mjs)$/.test(name)) out.push(relative(root, p))
  }
  return out
}

const files = walk(join(root, 'test'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort()

/** A unit of work: a command whose output is parsed for uvu's totals. */
const units = files.map((f) => ({ name: f, cmd: process.execPath, args: ['--import', 'tsx', f], uvu: true }))
if (filters.length === 0 || filters.some((x) => 'types'.includes(x) || x.includes('types'))) {
  units.push({ name: 'tsd (test/types)', cmd: process.execPath, args: [join(root, 'node_modules/tsd/dist/cli.js'), '--files', 'test/types/*.test-d.ts'], uvu: false })
}

let passed = 0
let failed = 0
let skipped = 0
const failures = []

function runUnit(u) {
  return new Promise((resolve) => {
    const started = Date.now()
    const child = spawn(u.cmd, u.args, { cwd: root, env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      try { process.kill(-child.pid, 'SIGKILL') } catch {}
    }, timeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      // Kill anything the test file left behind in its process group.
      try { process.kill(-child.pid, 'SIGKILL') } catch {}
      const secs = ((Date.now() - started) / 1000).toFixed(1)
      let p = 0, f = 0, s = 0
      if (u.uvu) {
        const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? NaN)
        p = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? 0)
        s = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0)
        if (Number.isNaN(total)) f = 1
        else f = total - p - s
        if (code !== 0 && f === 0) f = 1
      } else {
        if (code === 0) p = 1
        else f = 1
      }
      if (timedOut) f = Math.max(f, 1)
      passed += p; failed += f; skipped += s
      const tag = f > 0 ? 'FAIL' : 'ok  '
      console.log(`${tag} ${u.name}  (${p} passed, ${f} failed${s ? `, ${s} skipped` : ''}; ${secs}s${timedOut ? '; TIMED OUT' : ''})`)
      if (f > 0) {
        failures.push(u.name)
        console.log(out.split('\n').map((l) => '     | ' + l).join('\n'))
      }
      resolve()
    })
  })
}

const queue = [...units]
await Promise.all(Array.from({ length: Math.max(1, jobs) }, async () => {
  while (queue.length) await runUnit(queue.shift())
}))

if (failures.length) console.log(`\nfailed files:\n${failures.map((f) => '  ' + f).join('\n')}`)
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(failed > 0 ? 1 : 0)
