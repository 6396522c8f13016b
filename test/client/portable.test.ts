// The SDK and the recipes must run unchanged in browsers and edge runtimes: no file under src/ or
// recipes/ may import a Node built-in (`node:*` or a bare built-in name such as `fs`, `http`,
// `buffer`), nor use Node-only globals (Buffer, process, require).

import { builtinModules } from 'node:module'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { repoRoot } from './fixtures.js'

function walk(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name)
    return statSync(p).isDirectory() ? walk(p) : /\.(ts|mts|js|mjs)$/.test(name) ? [p] : []
  })
}

const builtins = new Set(builtinModules.flatMap((m) => [m, m.split('/')[0]!]))
/** Every module specifier in static imports/exports, dynamic import() and require(). */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)['"]([^'"]+)['"]/g

/** Removes comments so that prose mentioning `process` or `node:` does not count. */
function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1')
}

const files = [...walk(path.join(repoRoot, 'src')), ...walk(path.join(repoRoot, 'recipes'))]

test('src/ exists and is scanned', () => {
  assert.ok(files.some((f) => f.endsWith(path.join('src', 'index.ts'))))
})

test('no Node built-in imports in src/ and recipes/', () => {
  const offenders: string[] = []
  for (const f of files) {
    const src = stripComments(readFileSync(f, 'utf8'))
    for (const m of src.matchAll(SPECIFIER)) {
      const spec = m[1]!
      if (spec.startsWith('node:') || builtins.has(spec) || builtins.has(spec.split('/')[0]!)) {
        offenders.push(`${path.relative(repoRoot, f)}: ${spec}`)
      }
    }
  }
  assert.equal(offenders, [])
})

test('no Node-only globals (Buffer, process, require, __dirname) in src/ and recipes/', () => {
  const offenders: string[] = []
  for (const f of files) {
    const src = stripComments(readFileSync(f, 'utf8')).replace(/(['"`])(?:\\.|(?!\1).)*\1/g, '""')
    for (const g of ['Buffer', 'process', 'require', '__dirname', '__filename']) {
      // A bare reference counts; a property name (`g.process`, `{ process?: T }`) does not, so
      // feature detection through globalThis stays possible.
      if (new RegExp(`(?<![\\w.$])${g}\\b(?!\\s*\\??:)`).test(src)) offenders.push(`${path.relative(repoRoot, f)}: ${g}`)
    }
  }
  assert.equal(offenders, [])
})

test('the globals check flags bare use only', () => {
  const re = (g: string): RegExp => new RegExp(`(?<![\\w.$])${g}\\b(?!\\s*\\??:)`)
  assert.ok(re('process').test('const x = process.env.X'))
  assert.ok(re('Buffer').test('Buffer.from(s)'))
  assert.not.ok(re('process').test('const g = globalThis as { process?: P }; g.process?.versions'))
})

test('the scanner itself catches a built-in import', () => {
  const sample = "import { readFile } from 'node:fs'\nconst x = await import('http')\nimport os from 'os'"
  const found = [...sample.matchAll(SPECIFIER)].map((m) => m[1])
  assert.equal(found, ['node:fs', 'http', 'os'])
})

test.run()
