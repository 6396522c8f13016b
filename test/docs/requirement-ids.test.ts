// Every requirement ID the code, tests, fixtures and docs cite (KEYS-12, WATCH-10, ...) is
// defined in the docs, once: a reader who meets an ID in a comment can always look it up.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { repoRoot } from './markdown.js'

/** A definition is a list item that starts with the bold ID: `- **KEYS-12** ...`. */
const DEFINITION = /^- \*\*([A-Z][A-Z0-9]*-\d+)\*\*/

/** Where citations are looked for, and which files. */
const SCAN = ['server', 'src', 'recipes', 'test', 'scripts', 'bench', 'examples', 'docs', 'README.md']
const SCANNED_FILE = /\.(ts|mts|mjs|js|py|md|json)$/
const SKIP_DIR = new Set(['node_modules', 'dist', 'test-output', 'bench-results'])

function filesUnder(p: string): string[] {
  const st = statSync(p, { throwIfNoEntry: false })
  if (!st) return []
  if (st.isFile()) return SCANNED_FILE.test(p) ? [p] : []
  return readdirSync(p).filter((n) => !SKIP_DIR.has(n)).flatMap((n) => filesUnder(path.join(p, n)))
}

/** ID -> where it is defined (`docs/page.md:line`), from the docs pages. */
export function definitions(pages: { file: string; text: string }[]): { defined: Map<string, string[]> } {
  const defined = new Map<string, string[]>()
  for (const { file, text } of pages) {
    text.split('\n').forEach((line, i) => {
      const m = DEFINITION.exec(line)
      if (m) defined.set(m[1]!, [...(defined.get(m[1]!) ?? []), `${file}:${i + 1}`])
    })
  }
  return { defined }
}

/** Citations of IDs with a known prefix that no definition covers, as `file:line: ID`. */
export function undefinedCitations(files: { file: string; text: string }[], defined: Map<string, unknown>): string[] {
  const prefixes = [...new Set([...defined.keys()].map((id) => id.replace(/-\d+$/, '')))]
  const cite = new RegExp(`\\b(?:${prefixes.join('|')})-\\d+\\b`, 'g')
  const missing: string[] = []
  for (const { file, text } of files) {
    text.split('\n').forEach((line, i) => {
      for (const m of line.matchAll(cite)) if (!defined.has(m[0])) missing.push(`${file}:${i + 1}: ${m[0]}`)
    })
  }
  return missing
}

const docsDir = path.join(repoRoot, 'docs')
const pages = readdirSync(docsDir).filter((f) => f.endsWith('.md')).map((f) => ({ file: `docs/${f}`, text: readFileSync(path.join(docsDir, f), 'utf8') }))
const { defined } = definitions(pages)

test('the docs define the requirement IDs, each once', () => {
  assert.ok(defined.size >= 150, `only ${defined.size} requirement IDs defined in docs/`)
  const twice = [...defined].filter(([, where]) => where.length > 1).map(([id, where]) => `${id}: ${where.join(', ')}`)
  assert.equal(twice, [], twice.join('\n'))
})

test('every requirement ID cited in the repository is defined in docs/', () => {
  const files = SCAN.flatMap((p) => filesUnder(path.join(repoRoot, p))).map((f) => ({ file: path.relative(repoRoot, f), text: readFileSync(f, 'utf8') }))
  assert.ok(files.length > 100, 'the scan found the source tree')
  const missing = undefinedCitations(files, defined)
  assert.equal(missing, [], `cited but not defined in docs/:\n${missing.join('\n')}`)
})

test('the checker reports a planted citation of an undefined ID, and ignores other dashes', () => {
  const docs = definitions([{ file: 'docs/x.md', text: '# X\n- **KEYS-1** Keys.\n- **WATCH-2** Watches.\n' }])
  const planted = ['KEYS', '99'].join('-') // assembled, so this file does not cite it itself
  const code = [
    '// KEYS-1 and WATCH-2 are defined',
    `// ${planted} is not`,
    "const hash = 'SHA-256' // not a requirement prefix; nor is UTF-8",
  ].join('\n')
  assert.equal(undefinedCitations([{ file: 'server/x.ts', text: code }], docs.defined), [`server/x.ts:2: ${planted}`])
})

test.run()
