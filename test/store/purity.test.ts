// Purity guard: the store is a deterministic state machine, so its sources must not read clocks,
// use randomness or timers, touch the process or import Node built-ins.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

const ROOT = new URL('../../server/store/', import.meta.url).pathname

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : []
  })
}

const FORBIDDEN: [string, RegExp][] = [
  ['Date', /\bDate\b/],
  ['Math.random', /Math\.random/],
  ['timers', /\b(setTimeout|setInterval|setImmediate|queueMicrotask)\b/],
  ['performance', /\bperformance\b/],
  ['process.', /\bprocess\./],
  ['node: import', /(from\s*|import\s*\(\s*|require\s*\(\s*)['"]node:/],
  ['built-in import', /(from\s*|import\s*\(\s*|require\s*\(\s*)['"](fs|path|os|crypto|http|https|net|child_process|timers|worker_threads)['"]/],
]

test('purity: server/store/** has no Date, Math.random, timers, process., node: or built-in imports', () => {
  const list = files(ROOT)
  assert.ok(list.length >= 8, 'found the store sources')
  const hits: string[] = []
  for (const f of list) {
    readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
      for (const [name, re] of FORBIDDEN) if (re.test(line)) hits.push(`${f}:${i + 1} ${name}: ${line.trim()}`)
    })
  }
  assert.equal(hits, [])
})

test('purity: the guard itself catches a forbidden line', () => {
  assert.ok(FORBIDDEN.some(([, re]) => re.test("import { readFileSync } from 'node:fs'")))
  assert.ok(FORBIDDEN.some(([, re]) => re.test('const t = Date.now()')))
  assert.not.ok(FORBIDDEN.some(([, re]) => re.test('readonly node: NodeJSON,')))
})

test.run()
