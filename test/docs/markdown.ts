// Reads the project's Markdown the way GitHub renders it, far enough to check it: the links and
// images outside code, and the anchors its headings get. Used by the docs tests.
import { existsSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'

export const repoRoot = path.resolve(new URL('../..', import.meta.url).pathname)

/** For each line of a Markdown text: whether it belongs to a fenced code block (fences included). */
export function codeLines(text: string): boolean[] {
  let fence: string | undefined
  return text.split('\n').map((line) => {
    const m = /^\s{0,3}(`{3,}|~{3,})/.exec(line)
    if (fence !== undefined) {
      if (m && m[1]![0] === fence[0] && m[1]!.length >= fence.length) fence = undefined
      return true
    }
    if (m) fence = m[1]!
    return m !== null
  })
}

/** The text of a Markdown file with fenced code blocks and inline code blanked out (lines kept). */
export function proseOf(text: string): string {
  const code = codeLines(text)
  return text
    .split('\n')
    .map((line, i) => (code[i] ? '' : line.replace(/(`+)[^`]*?\1/g, '')))
    .join('\n')
}

export interface Link { target: string; line: number }

/** Inline links and images `[text](target)` outside code; titles ("...") are dropped. */
export function linksOf(text: string): Link[] {
  const links: Link[] = []
  proseOf(text).split('\n').forEach((line, i) => {
    for (const m of line.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      links.push({ target: m[1]!, line: i + 1 })
    }
  })
  return links
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .replace(/`/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')
}

/** Every anchor a Markdown file offers: its headings' slugs (repeats get -1, -2...) and explicit ids. */
export function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  const code = codeLines(text)
  text.split('\n').forEach((line, i) => {
    if (code[i]) return
    const m = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line)
    if (m) {
      const base = slug(m[1]!)
      const n = seen.get(base) ?? 0
      seen.set(base, n + 1)
      anchors.add(n === 0 ? base : `${base}-${n}`)
    }
    for (const a of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(a[1]!)
  })
  return anchors
}

/**
 * The broken links of one Markdown file: relative targets that do not exist in the working tree
 * and anchors that no heading of the target page makes. External URLs are not fetched.
 */
export function brokenLinks(file: string, text = readFileSync(file, 'utf8')): string[] {
  const problems: string[] = []
  const where = (l: Link) => `${path.relative(repoRoot, file)}:${l.line}: ${l.target}`
  for (const l of linksOf(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(l.target)) continue // http:, https:, mailto:
    const [rawPath, anchor] = l.target.split('#', 2) as [string, string | undefined]
    const target = rawPath === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(rawPath))
    if (!target.startsWith(repoRoot + path.sep) && target !== repoRoot) {
      problems.push(`${where(l)} (points outside the repository)`)
      continue
    }
    if (target !== file && !existsSync(target)) {
      problems.push(`${where(l)} (no such file)`)
      continue
    }
    if (anchor === undefined) continue
    if (target !== file && (statSync(target).isDirectory() || !target.endsWith('.md'))) {
      problems.push(`${where(l)} (an anchor into something that is not a Markdown page)`)
      continue
    }
    const anchors = anchorsOf(target === file ? text : readFileSync(target, 'utf8'))
    if (!anchors.has(decodeURIComponent(anchor))) problems.push(`${where(l)} (no heading makes #${anchor})`)
  }
  return problems
}

/** Paths under the repository's top-level folders, inside a code span. */
const CODE_SPAN = /`([^`]+)`/g
const REPO_PATH = /(?:^|[\s'"(=])((?:server|src|recipes|test|bench|tools|scripts|docs|examples|\.ci)\/[^\s'"`)]*)/g

/**
 * Repository paths named in code spans (`server/wal/`, `test/ops/metrics`) that do not exist; a
 * test may be named without its `.test.ts`. Globs and placeholders (`*`, `<name>`) are skipped.
 */
export function missingPaths(file: string, text = readFileSync(file, 'utf8')): string[] {
  const missing: string[] = []
  text.split('\n').forEach((line, i) => {
    for (const m of [...line.matchAll(CODE_SPAN)].flatMap((span) => [...span[1]!.matchAll(REPO_PATH)])) {
      const named = m[1]!.replace(/[:#].*$/, '').replace(/[.,;]+$/, '')
      if (/[*<{]/.test(named)) continue
      const p = path.join(repoRoot, named)
      if (![p, `${p}.ts`, `${p}.test.ts`].some((c) => existsSync(c))) missing.push(`${path.relative(repoRoot, file)}:${i + 1}: ${m[1]}`)
    }
  })
  return missing
}
