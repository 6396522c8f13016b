// `raftkv lock` and `raftkv elect` on both APIs (raftkv v2, etcd v3; the API detected from the
// endpoint): the command runs while the lock is held with the fencing token in its environment,
// its exit status is raftkv's, a lost lock stops the command (SIGTERM) and exits 2; elect prints
// the leader key and proposal like etcdctl, and resigns on SIGTERM.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Election, Lock, formatToken } from '../../recipes/index.js'
import type { AnyClient } from '../../recipes/api.js'
import { startRaftkv, type Child } from '../support/procs.js'
import { until, within } from '../support/wait.js'
import { clientFor, targets } from './targets.js'

for (const target of targets().filter((t) => t.label !== 'etcd v2')) {
  const test = suite(`raftkv lock / elect [${target.label}]`)
  let cluster: { endpoints: string[]; close(): Promise<void> }
  let client: AnyClient
  const children: Child[] = []
  const cli = (args: string[]): Child => {
    const c = startRaftkv([...args.slice(0, 1), `--endpoints=${cluster.endpoints.join(',')}`, ...args.slice(1)])
    children.push(c)
    return c
  }

  test.before(async () => {
    cluster = await target.start()
    client = clientFor(target.api, cluster.endpoints)
  })
  test.after(async () => {
    for (const c of children) await c.kill()
    client?.close()
    await cluster?.close()
  })

  test('lock NAME -- cmd: runs cmd holding the lock, token in RAFTKV_LOCK_TOKEN, exits with its status, releases', async () => {
    const name = '/cli/jobs'
    const c = cli(['lock', name, '--ttl=3', '--', process.execPath, '-e',
      'console.log("token=" + process.env.RAFTKV_LOCK_TOKEN + " key=" + process.env.ETCD_LOCK_KEY); setTimeout(() => process.exit(7), 2500)'])
    await c.waitForOutput(/token=\S+ key=\S+/, 20_000)
    const [, token, key] = /token=(\S+) key=(\S+)/.exec(c.stdout())!
    const lock = new Lock(client, name, { ttl: 3 })
    assert.is(await lock.tryAcquire(), undefined, 'the lock is held while the command runs')
    const holder = await lock.holder()
    assert.is(holder?.key, key)
    assert.is(formatToken(holder!.token), token, 'the command got the holder\'s fencing token')
    assert.equal(await within(15_000, c.exited, 'raftkv lock exit'), { code: 7, signal: null })
    const h = await lock.tryAcquire()
    assert.ok(h, 'released once the command ended')
    assert.ok(h!.token.index > holder!.token.index)
    await h!.release()
  })

  test('lock NAME -- cmd: a lost lock stops the command and raftkv exits 2', async () => {
    const name = '/cli/lost'
    const c = cli(['lock', name, '--ttl=2', '--', process.execPath, '-e',
      'process.on("SIGTERM", () => { console.log("got SIGTERM"); process.exit(0) }); console.log("working"); setInterval(() => {}, 1000)'])
    await c.waitForOutput('working', 20_000)
    const holder = await new Lock(client, name).holder()
    assert.ok(holder)
    const removedAt = Date.now()
    await client.delete(holder!.key) // behind the holder's back
    const exit = await within(10_000, c.exited, 'raftkv lock exit after the loss')
    assert.is(exit.code, 2)
    assert.match(c.stdout(), 'got SIGTERM')
    assert.match(c.stderr(), /lost/)
    assert.ok(Date.now() - removedAt <= 2000 + 3000, 'stopped within the TTL')
  })

  test('lock NAME without a command: prints the key, holds until SIGTERM, then releases', async () => {
    const name = '/cli/hold'
    const c = cli(['lock', name, '--ttl=3'])
    await c.waitForOutput(/\S+\n/, 20_000)
    const key = c.stdout().trim()
    assert.is((await new Lock(client, name).holder())?.key, key)
    c.signal('SIGTERM')
    assert.is((await within(10_000, c.exited, 'exit')).code, 0)
    assert.is(await new Lock(client, name).holder(), undefined, 'released on SIGTERM')
  })

  test('elect NAME PROPOSAL: prints key and proposal when leading, resigns on SIGTERM; --listen follows', async () => {
    const name = '/cli/sched'
    const e = new Election(client, name, { ttl: 2 })
    const leader = cli(['elect', name, 'hello', '--ttl=2'])
    await leader.waitForOutput(/\S+\nhello\n/, 20_000)
    const key = leader.stdout().split('\n')[0]
    const l = await e.leader()
    assert.is(l?.key, key)
    assert.is(l?.value, 'hello')
    const listener = cli(['elect', name, '--listen'])
    await listener.waitForOutput(`${key}\nhello`, 20_000)
    const second = cli(['elect', name, 'world', '--ttl=2'])
    await until(async () => (await e.leader()) && (await queued(client, name)) >= 2, 20_000, 'second candidate queued')
    assert.not.match(second.stdout(), 'world', 'the second candidate waits')
    leader.signal('SIGTERM')
    assert.is((await within(10_000, leader.exited, 'leader exit')).code, 0)
    await second.waitForOutput(/\S+\nworld\n/, 10_000)
    await listener.waitForOutput('world', 10_000)
    assert.is((await e.leader())?.value, 'world')
  })

  test.run()
}

async function queued(client: AnyClient, name: string): Promise<number> {
  if ('range' in client) return (await client.range(name + '/', { prefix: true, countOnly: true })).count
  return (await client.list(name).catch(() => [])).length
}
