// Smoke test of `npm run bench`: a few tiny runs against a single raftkv member must produce
// numbers (> 0 op/s, no errors) and a valid JSON result. The benchmark itself is not a test.
import { spawn } from 'node:child_process'
import { createServer, type AddressInfo } from 'node:net'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { RawConn } from '../../bench/raw-client.js'

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
      '--duration', '0.4', '--warmup', '0.1', '--cluster-warmup', '0.3', '--rounds', '1', '--out', outDir,
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

// The generator's own HTTP parser must survive responses split at any byte (headers, chunk
// sizes, bodies), or a run would hang instead of measuring.
test('raw client: Content-Length and chunked responses split byte by byte', async () => {
  const responses = [
    'HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"index":7}',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\n{"a":\r\nA\r\n"modifiedI\r\n10\r\nndex":1234567890\r\n1\r\n}\r\n0\r\n\r\n',
    'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n',
  ]
  let next = 0
  const server = createServer((sock) => {
    sock.on('data', async () => {
      const r = Buffer.from(responses[next++])
      for (let i = 0; i < r.length; i++) {
        sock.write(r.subarray(i, i + 1))
        if (i % 7 === 0) await new Promise((res) => setImmediate(res))
      }
    })
  })
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()))
  const conn = new RawConn('127.0.0.1', (server.address() as AddressInfo).port)
  try {
    const send = (wantBody: boolean): Promise<[number, string | null, boolean]> => new Promise((res) => {
      let headers = false
      conn.send({ method: 'GET', path: '/x', wantBody }, (status, body, err) => {
        if (err) throw err
        res([status, body?.toString() ?? null, headers])
      }, () => { headers = true })
    })
    assert.equal(await send(true), [201, '{"index":7}', true])
    assert.equal(await send(true), [200, '{"a":"modifiedIndex":1234567890}', true])
    assert.equal(await send(false), [404, null, false])
  } finally {
    conn.close()
    server.close()
  }
})

test.run()
