// Real-client compatibility: etcdctl 3.4 in v2 mode (ETCDCTL_API=2) against a fresh raftkv member.
// The command sequence and its expected stdout/stderr/exit codes (etcdctl-expected.json) were
// recorded once from a fresh etcd 3.4.23 (--enable-v2); raftkv must produce the same bytes,
// indexes in error messages included.
import { readFileSync } from 'node:fs'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { waitReady } from '../http/raw-client.js'
import { runToEnd, startChild } from '../support/procs.js'
import { startServer, type RunningServer } from '../../server/index.js'

interface Expected { args: string[]; stdout: string; stderr: string; code: number }
const expected = JSON.parse(readFileSync(new URL('./etcdctl-expected.json', import.meta.url), 'utf8')) as Expected[]

const test = suite('etcdctl v2 compatibility')
let server: RunningServer

function etcdctl(args: string[], timeoutMs = 10_000): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return runToEnd('etcdctl', ['--endpoints', server.url, ...args], { env: { ...process.env, ETCDCTL_API: '2' }, timeoutMs })
}

test.before(async () => {
  server = await startServer({ name: 'ctl1', listenClientUrls: ['http://127.0.0.1:0'] })
  await waitReady(server.url)
})

test.after(async () => {
  await server.close()
})

test('set, get, mk, mkdir, update, rm, rmdir, ls -r --sort, watch --after-index and errors match etcd byte for byte', async () => {
  for (const c of expected) {
    const r = await etcdctl(c.args)
    const what = `etcdctl ${c.args.join(' ')}`
    assert.is(r.stdout, c.stdout, `${what}: stdout`)
    assert.is(r.stderr, c.stderr, `${what}: stderr`)
    assert.is(r.code, c.code, `${what}: exit code`)
  }
})

test('a live etcdctl watch prints the next change and exits', async () => {
  const watching = etcdctl(['watch', '/live/key'])
  await new Promise((r) => setTimeout(r, 400))
  const set = await etcdctl(['set', '/live/key', 'hello'])
  assert.is(set.code, 0)
  const w = await watching
  assert.is(w.stdout, 'hello\n')
  assert.is(w.code, 0)
})

test('member list and cluster-health see one healthy leader', async () => {
  const list = await etcdctl(['member', 'list'])
  assert.is(list.code, 0, list.stderr)
  assert.match(list.stdout, new RegExp(`^[0-9a-f]+: name=ctl1 peerURLs=\\S+ clientURLs=${server.url} isLeader=true\\n$`))
  const health = await etcdctl(['cluster-health'])
  assert.is(health.code, 0, health.stderr)
  assert.match(health.stdout, /is healthy: got healthy result from/)
  assert.match(health.stdout, /cluster is healthy/)
})

test('a watch is released when etcdctl is killed (watchers counter goes back)', async () => {
  const child = startChild('etcdctl', ['--endpoints', server.url, 'watch', '/gone'], { env: { ...process.env, ETCDCTL_API: '2' } })
  const watchers = () => server.backend.store.stats().watchers
  const deadline = Date.now() + 5000
  while (watchers() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  assert.is(watchers(), 1)
  child.signal('SIGKILL')
  while (watchers() !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  assert.is(watchers(), 0)
})

test.run()
