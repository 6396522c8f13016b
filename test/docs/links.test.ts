// The README and the pages in docs/ stay navigable: every relative link and #anchor resolves (in
// every Markdown file of the project), every page is reachable from the docs index, and the README
// stays a short front page.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { anchorsOf, brokenLinks, linksOf, missingPaths, repoRoot } from './markdown.js'

const docsDir = path.join(repoRoot, 'docs')
const readme = path.join(repoRoot, 'README.md')
const docPages = readdirSync(docsDir).filter((f) => f.endsWith('.md')).map((f) => path.join(docsDir, f))

/** Every Markdown file of the project (the READMEs beside the code too), not dependencies or output. */
function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name.startsWith('.') || ['node_modules', 'dist', 'test-output', 'bench-results'].includes(e.name) || e.name.endsWith('.etcd')) return []
    const p = path.join(dir, e.name)
    return e.isDirectory() ? markdownFiles(p) : e.name.endsWith('.md') ? [p] : []
  })
}

test("every relative link and anchor in the project's Markdown resolves", () => {
  const files = markdownFiles(repoRoot)
  assert.ok(files.includes(readme) && docPages.every((p) => files.includes(p)), 'README.md and docs/ are checked')
  const problems = files.flatMap((f) => brokenLinks(f))
  assert.equal(problems, [], problems.join('\n'))
})

test("every repository path the project's Markdown names in code spans exists", () => {
  const missing = markdownFiles(repoRoot).flatMap((f) => missingPaths(f))
  assert.equal(missing, [], `moved or renamed? update the docs:\n${missing.join('\n')}`)
  const planted = missingPaths(path.join(docsDir, 'planted.md'), 'run `node --import tsx tools/no-such-tool.ts`, see `test/ops/metrics` and `server/<name>/`')
  assert.equal(planted, ['docs/planted.md:1: tools/no-such-tool.ts'])
})

test('the docs index links every page in docs/, and the README links the index', () => {
  const index = path.join(docsDir, 'README.md')
  const linked = new Set(linksOf(readFileSync(index, 'utf8')).map((l) => path.resolve(docsDir, l.target.split('#')[0]!)))
  const missing = docPages.filter((p) => p !== index && !linked.has(p)).map((p) => path.relative(repoRoot, p))
  assert.equal(missing, [], `docs/README.md does not link: ${missing.join(', ')}`)
  const fromReadme = linksOf(readFileSync(readme, 'utf8')).map((l) => l.target)
  assert.ok(fromReadme.includes('docs/README.md'), 'README.md links docs/README.md')
})

test('README.md stays a front page (at most 12 KiB)', () => {
  const size = statSync(readme).size
  assert.ok(size <= 12 * 1024, `README.md is ${size} bytes; move reference material to docs/`)
})

test('the checker reports planted broken links and ignores code', () => {
  const page = path.join(docsDir, 'planted.md')
  const text = [
    '# A page',
    '## Metrics (`GET /metrics`)',
    'See [ops](operations.md#monitoring), [self](#metrics-get-metrics) and [net](https://example.org/x).',
    'Broken: [gone](no-such-page.md), [bad anchor](operations.md#no-such-heading), [up](../../outside.md).',
    '```md',
    '[inside code](nowhere.md)',
    '```',
    'Inline code is not a link: `[x](nowhere.md)`.',
  ].join('\n')
  const problems = brokenLinks(page, text)
  assert.equal(problems.length, 3, problems.join('\n'))
  assert.match(problems[0]!, 'no-such-page.md (no such file)')
  assert.match(problems[1]!, 'operations.md#no-such-heading (no heading makes #no-such-heading)')
  assert.match(problems[2]!, '(points outside the repository)')
})

test('anchors follow GitHub: punctuation dropped, repeats numbered', () => {
  const anchors = anchorsOf('# Security: TLS and auth\n## Embedding a member (tests, apps)\n## Tests\n## Tests\n')
  assert.equal([...anchors], ['security-tls-and-auth', 'embedding-a-member-tests-apps', 'tests', 'tests-1'])
})

test.run()
