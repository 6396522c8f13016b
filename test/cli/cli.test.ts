// The raftkv binary as a user runs it: a child process with etcd flags, exit codes, --help and
// --version, a member that serves requests, and a clean exit 0 on SIGTERM/SIGINT.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

const ROOT = new URL('../..', import.meta.url).pathname
const CLI = join(ROOT, 'server/cli.ts')
const children = new Set<ChildProcess>()
const dirs: string[] = []

interface Run {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

function run(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  let out = ''
  let err = ''
  child.stdout!.on('data', (c) => (out += String(c)))
  child.stderr!.on('data', (c) => (err += String(c)))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      children.delete(child)
      resolve({ code, signal })
    }),
  )
  return { child, stdout: () => out, stderr: () => err, exited }
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)))
  try {
    return await Promise.race([p, t])
  } finally {
    clearTimeout(timer)
  }
}

async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as { port: number }).port
  await new Promise((r) => s.close(r))
  return port
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'raftkv-cli-'))
  dirs.push(d)
  return d
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const cli = suite('cli')

cli.after.each(() => {
  for (const c of children) c.kill('SIGKILL')
})
cli.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

cli('--version prints etcd-like lines and exits 0', async () => {
  const r = run(['--version'])
  const { code } = await within(r.exited, 15_000, 'version')
  assert.is(code, 0)
  assert.match(r.stdout(), /^raftkv Version: \d+\.\d+\.\d+\n/)
  assert.match(r.stdout(), /\nAPI Version: 2\n/)
})

cli('--help prints grouped flags and the environment note, exits 0', async () => {
  const r = run(['-h'])
  const { code } = await within(r.exited, 15_000, 'help')
  assert.is(code, 0)
  assert.match(r.stdout(), /Clustering:\n  --initial-advertise-peer-urls/)
  assert.match(r.stdout(), /ETCD_SOME_FLAG/)
})

cli('an unknown flag is a usage error: exit 2, one line naming the flag', async () => {
  const r = run(['--nope'])
  const { code } = await within(r.exited, 15_000, 'unknown flag')
  assert.is(code, 2)
  assert.match(r.stderr(), /^raftkv: error: flag provided but not defined: -nope\n/)
})

cli('an invalid setting exits 1 with etcd wording', async () => {
  const r = run(['--heartbeat-interval', '300'])
  const { code } = await within(r.exited, 15_000, 'invalid')
  assert.is(code, 1)
  assert.is(r.stderr(), 'raftkv: error: --election-timeout[1000ms] should be at least as 5 times as --heartbeat-interval[300ms]\n')
})

cli('a name missing from --initial-cluster is refused before binding anything', async () => {
  const r = run(['--name', 'x', '--data-dir', join(tempDir(), 'd'), '--initial-cluster', 'y=http://127.0.0.1:2380'])
  const { code } = await within(r.exited, 15_000, 'bootstrap')
  assert.is(code, 1)
  assert.match(r.stderr(), /couldn't find local name "x" in the initial cluster configuration/)
})

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  cli(`serves the v2 API on the flags' address (env vars too) and exits 0 on ${signal}`, async () => {
    const [client, peer] = [await freePort(), await freePort()]
    const url = `http://127.0.0.1:${client}`
    const r = run(
      ['-listen-client-urls', url, '-advertise-client-urls', url, '-listen-peer-urls', `http://127.0.0.1:${peer}`, '-initial-advertise-peer-urls', `http://127.0.0.1:${peer}`],
      { ETCD_NAME: 'cli1', ETCD_DATA_DIR: join(tempDir(), 'data'), ETCD_INITIAL_CLUSTER: `cli1=http://127.0.0.1:${peer}` },
    )
    await waitFor(() => r.stdout().includes('ready to serve client requests'), 15_000, 'ready line')
    const put = await fetch(`${url}/v2/keys/cli-test`, { method: 'PUT', body: new URLSearchParams({ value: 'hello' }) })
    assert.ok(put.status === 201 || put.status === 200, `PUT status ${put.status}`)
    const got = (await (await fetch(`${url}/v2/keys/cli-test`)).json()) as { node: { value: string } }
    assert.is(got.node.value, 'hello')
    const members = (await (await fetch(`${url}/v2/members`)).json()) as { members: { name: string }[] }
    assert.is(members.members[0]!.name, 'cli1')
    const firstLine = JSON.parse(r.stdout().split('\n')[0]!) as Record<string, unknown>
    assert.is(firstLine.member, 'cli1', 'logs are JSON with the member name when stdout is not a TTY')
    r.child.kill(signal)
    const { code } = await within(r.exited, 12_000, 'graceful exit')
    assert.is(code, 0)
    assert.match(r.stdout(), /shutting down/)
  })
}

cli.run()
