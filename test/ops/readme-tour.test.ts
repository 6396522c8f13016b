// The README's curl tour, run as a reader runs it: every ```sh block of the "A curl tour" section,
// in order, with the real curl against a fresh member started with the defaults `npm start` uses
// (name default, advertised http://localhost:2379 and :2380), compared with the ```json block that
// follows it. Only wall-clock values are normalised: `expiration` times, and a `ttl` that may have
// ticked down by one second while the tour ran.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { reservePorts } from '../support/ports.js'
import { ROOT, cleanup, raftkv, tempDir, waitFor } from './proc.js'

const run = promisify(execFile)
const tour = suite('README curl tour')
tour.after(cleanup)

interface Step {
  command: string
  expected: string
  line: number
}

/** The sh/json pairs of the README section `## A curl tour`. */
export function tourSteps(readme: string): Step[] {
  const lines = readme.split('\n')
  const start = lines.findIndex((l) => /^## A curl tour/.test(l))
  if (start < 0) throw new Error('README has no "## A curl tour" section')
  const end = lines.findIndex((l, i) => i > start && /^## /.test(l))
  const steps: Step[] = []
  let i = start + 1
  const block = (at: number, lang: string): { body: string; next: number } | undefined => {
    if (lines[at] !== '```' + lang) return undefined
    const close = lines.indexOf('```', at + 1)
    return { body: lines.slice(at + 1, close).join('\n'), next: close + 1 }
  }
  while (i < (end < 0 ? lines.length : end)) {
    const sh = block(i, 'sh')
    if (!sh) {
      i++
      continue
    }
    const json = block(sh.next, 'json')
    if (!json) throw new Error(`README line ${i + 1}: a \`\`\`sh block of the tour without the \`\`\`json answer right after it`)
    steps.push({ command: sh.body.trim(), expected: json.body.trim(), line: i + 1 })
    i = json.next
  }
  return steps
}

/** `actual` with its wall-clock values made comparable to `expected`'s. */
function normalise(actual: string, expected: string): [string, string] {
  const clock = (s: string): string => s.replace(/"expiration":"[^"]*"/g, '"expiration":"<time>"')
  const ttls = [...expected.matchAll(/"ttl":(\d+)/g)].map((m) => Number(m[1]))
  let k = 0
  const a = actual.replace(/"ttl":(\d+)/g, (whole, n: string) => {
    const want = ttls[k++]
    return want !== undefined && (Number(n) === want || Number(n) === want - 1) ? `"ttl":${want}` : whole
  })
  return [clock(a), clock(expected)]
}

tour('every command of the README curl tour answers what the README prints, on a fresh member', async () => {
  const steps = tourSteps(readFileSync(join(ROOT, 'README.md'), 'utf8'))
  assert.ok(steps.length >= 8, `found ${steps.length} steps`)
  for (const s of steps) assert.match(s.command, /^curl -s ['"]?http:\/\/127\.0\.0\.1:2379\//, `README line ${s.line}: one curl command on :2379`)

  // `npm start`'s defaults, except where it listens (the tour's :2379 may be taken on this machine)
  const [client, peer] = await reservePorts(2)
  const url = `http://127.0.0.1:${client}`
  const member = raftkv(['--data-dir', join(tempDir(), 'default.etcd'), '--listen-client-urls', url, '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--advertise-client-urls', 'http://localhost:2379'])
  // ready: published, its internal writes done (the tour's first index is 4)
  await waitFor(() => member.out().includes('ready to serve client requests'), 30_000, 'member ready')

  for (const s of steps) {
    const command = s.command.replaceAll('http://127.0.0.1:2379', url)
    const { stdout } = await run('sh', ['-c', command], { timeout: 15_000 })
    const [got, want] = normalise(stdout.trim(), s.expected)
    assert.is(got, want, `README line ${s.line}: ${s.command}`)
  }
})

tour.run()
