// The raftkv binary as a user runs it: a child process with etcd flags, exit codes, --help and
// --version, a member that serves requests, and a clean exit 0 on SIGTERM/SIGINT.
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { loopbackUrl, reservePort } from '../support/ports.js'
import { readyUrls, startRaftkv, type Child } from '../support/procs.js'
import { removeDir, tempDir as newTempDir } from '../support/tmp.js'
import { until, within } from '../support/wait.js'

const children = new Set<Child>()
const dirs: string[] = []

/** The CLI with `args` and only PATH plus `env` in its environment. */
function run(args: string[], env: Record<string, string> = {}): Child {
  const child = startRaftkv(args, { env: { PATH: process.env.PATH ?? '', ...env } })
  children.add(child)
  return child
}

function tempDir(): string {
  const d = newTempDir('cli')
  dirs.push(d)
  return d
}

const cli = suite('cli')

cli.after.each(async () => {
  for (const c of children) await c.kill()
  children.clear()
})
cli.after(() => {
  for (const d of dirs) removeDir(d)
})

cli('--version prints etcd-like lines and exits 0', async () => {
  const r = run(['--version'])
  const { code } = await within(15_000, r.exited, 'version')
  assert.is(code, 0)
  assert.match(r.stdout(), /^raftkv Version: \d+\.\d+\.\d+\n/)
  assert.match(r.stdout(), /\nAPI Version: 2\n/)
})

cli('--help prints grouped flags and the environment note, exits 0', async () => {
  const r = run(['-h'])
  const { code } = await within(15_000, r.exited, 'help')
  assert.is(code, 0)
  assert.match(r.stdout(), /Clustering:\n  --initial-advertise-peer-urls/)
  assert.match(r.stdout(), /ETCD_SOME_FLAG/)
})

cli('an unknown flag is a usage error: exit 2, one line naming the flag', async () => {
  const r = run(['--nope'])
  const { code } = await within(15_000, r.exited, 'unknown flag')
  assert.is(code, 2)
  assert.match(r.stderr(), /^raftkv: error: flag provided but not defined: -nope\n/)
})

cli('an invalid setting exits 1 with etcd wording', async () => {
  const r = run(['--heartbeat-interval', '300'])
  const { code } = await within(15_000, r.exited, 'invalid')
  assert.is(code, 1)
  assert.is(r.stderr(), 'raftkv: error: --election-timeout[1000ms] should be at least as 5 times as --heartbeat-interval[300ms]\n')
})

cli('a name missing from --initial-cluster is refused before binding anything', async () => {
  const r = run(['--name', 'x', '--data-dir', join(tempDir(), 'd'), '--initial-cluster', 'y=http://127.0.0.1:2380'])
  const { code } = await within(15_000, r.exited, 'bootstrap')
  assert.is(code, 1)
  assert.match(r.stderr(), /couldn't find local name "x" in the initial cluster configuration/)
})

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  cli(`serves the v2 API on the flags' address (env vars too) and exits 0 on ${signal}`, async () => {
    const [client, peer] = [await reservePort(), await reservePort()]
    const url = `http://127.0.0.1:${client}`
    const r = run(
      ['-listen-client-urls', url, '-advertise-client-urls', url, '-listen-peer-urls', `http://127.0.0.1:${peer}`, '-initial-advertise-peer-urls', `http://127.0.0.1:${peer}`],
      { ETCD_NAME: 'cli1', ETCD_DATA_DIR: join(tempDir(), 'data'), ETCD_INITIAL_CLUSTER: `cli1=http://127.0.0.1:${peer}` },
    )
    await until(() => r.stdout().includes('ready to serve client requests'), 15_000, 'ready line')
    const put = await fetch(`${url}/v2/keys/cli-test`, { method: 'PUT', body: new URLSearchParams({ value: 'hello' }) })
    assert.ok(put.status === 201 || put.status === 200, `PUT status ${put.status}`)
    const got = (await (await fetch(`${url}/v2/keys/cli-test`)).json()) as { node: { value: string } }
    assert.is(got.node.value, 'hello')
    const members = (await (await fetch(`${url}/v2/members`)).json()) as { members: { name: string }[] }
    assert.is(members.members[0]!.name, 'cli1')
    const firstLine = JSON.parse(r.stdout().split('\n')[0]!) as Record<string, unknown>
    assert.is(firstLine.member, 'cli1', 'logs are JSON with the member name when stdout is not a TTY')
    r.signal(signal)
    const { code } = await within(12_000, r.exited, 'graceful exit')
    assert.is(code, 0)
    assert.match(r.stdout(), /shutting down/)
  })
}

cli('listens on port 0: the ready line reports the bound URL, which is also the advertised one', async () => {
  const peer = loopbackUrl(await reservePort())
  const r = run([
    '--name', 'zero', '--data-dir', join(tempDir(), 'data'),
    '--listen-client-urls', 'http://127.0.0.1:0', '--advertise-client-urls', 'http://127.0.0.1:0',
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `zero=${peer}`,
  ])
  const [url] = await readyUrls(r, 15_000)
  assert.match(url!, /^http:\/\/127\.0\.0\.1:\d+$/)
  assert.is.not(url, 'http://127.0.0.1:0')
  const members = (await (await fetch(`${url}/v2/members`)).json()) as { members: { name: string; clientURLs: string[] }[] }
  assert.equal(members.members[0]!.clientURLs, [url])
})

cli.run()
