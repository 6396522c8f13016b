// The round trips docs/data-structures.md states per operation are what the recipes send: every
// request of a client is counted (uncontended, on each backend and API).

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Client, ClientV3, type FetchLike } from '../../src/index.js'
import { List, Reference, TypedMap, TypedValue, Tree, types } from '../../recipes/index.js'
import type { AnyClient } from '../../recipes/api.js'
import { targets } from '../recipes/targets.js'

for (const target of targets()) {
  const test = suite(`structures round trips [${target.label}]`)
  let cluster: { endpoints: string[]; close(): Promise<void> }
  let client: AnyClient
  let sent = 0
  const counting: FetchLike = async (url, init) => {
    sent++
    return fetch(url, init as RequestInit) as unknown as ReturnType<FetchLike>
  }
  const cost = async (fn: () => Promise<unknown>): Promise<number> => {
    const before = sent
    await fn()
    return sent - before
  }

  test.before(async () => {
    cluster = await target.start()
    const opts = { endpoints: cluster.endpoints, timeout: 10_000, fetch: counting }
    client = target.api === 'v3' ? new ClientV3(opts) : new Client(opts)
    await new TypedValue(client, '/t/c/warm', types.int).get() // first request of a client may sync members
  })
  test.after(async () => {
    client?.close()
    await cluster?.close()
  })

  test('list: push 1, pop 2, range 1, move 2 on v3 and 7 on v2', async () => {
    const l = new List(client, '/t/c/list', types.string)
    const d = new List(client, '/t/c/dst', types.string)
    assert.is(await cost(() => l.pushRight('a')), 1)
    assert.is(await cost(() => l.pushLeft('b')), 1)
    assert.is(await cost(() => l.range()), 1)
    assert.is(await cost(() => l.popLeft()), 2)
    assert.is(await cost(() => l.move(d, 'left', 'right')), target.api === 'v3' ? 2 : 7)
    assert.is(await cost(() => d.length()), 1)
  })

  test('map: set 1, get 1, incr 2, entries 1; reference deref h+1 on v3, 2h+1 on v2; tree read 1', async () => {
    const m = new TypedMap<string, bigint>(client, '/t/c/map', types.int)
    assert.is(await cost(() => m.set('a', 1n)), 1)
    assert.is(await cost(() => m.get('a')), 1)
    assert.is(await cost(() => m.incr('a')), 2)
    assert.is(await cost(() => m.entries()), 1)
    await new Reference(client, '/t/c/r2', types.int).set('/t/c/map/a')
    const r = new Reference(client, '/t/c/r1', types.int)
    await r.set('/t/c/r2')
    const h = 2
    assert.is(await cost(() => r.deref()), target.api === 'v3' ? h + 1 : 2 * h + 1)
    const t = new Tree(client, '/t/c/tree', types.int)
    assert.is(await cost(() => t.write({ a: 1n, b: { c: 2n } })), target.api === 'v3' ? 1 : 2)
    assert.is(await cost(() => t.read()), 1)
  })

  test.run()
}
