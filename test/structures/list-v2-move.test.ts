// The v2 move protocol when a mover stops half way (the states are written by hand, exactly as a
// mover that died at that step leaves them): after the commit, the element is in the destination
// only, and whoever reads or pops finishes the move; before the commit, it is in the source only,
// and the leftover destination element goes away once the source element is popped.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { Client } from '../../src/index.js'
import { List, types } from '../../recipes/index.js'
import { encodeValue } from '../../recipes/codec.js'
import { clientFor, targets } from '../recipes/targets.js'

for (const target of targets().filter((t) => t.api === 'v2')) {
  const test = suite(`structures list v2 move recovery [${target.label}]`)
  let cluster: { endpoints: string[]; close(): Promise<void> }
  let client: Client

  test.before(async () => {
    cluster = await target.start()
    client = clientFor('v2', cluster.endpoints, 10_000) as Client
  })
  test.after(async () => {
    client?.close()
    await cluster?.close()
  })

  /** Pushes `v` on `src` and leaves a pending destination element for it in `dst` (step 1). */
  async function pending(src: List<string>, dst: List<string>, v: string, id: string): Promise<{ s: { key: string; version: number; value: string }; pKey: string }> {
    await src.pushRight(v)
    const node = (await client.get(`${src.dir}/right`, { sorted: true })).node.nodes!.at(-1)!
    const s = { key: node.key, version: node.modifiedIndex, value: node.value! }
    const pKey = (await client.post(`${dst.dir}/right`, encodeValue(types.string, v, { from: { id, peer: s.key, ver: s.version } }))).node.key
    return { s, pKey }
  }

  /** Step 2, the commit: the source element marked as moved. */
  async function commit(s: { key: string; version: number; value: string }, pKey: string, id: string): Promise<void> {
    await client.compareAndSwap(s.key, JSON.stringify({ ...JSON.parse(s.value), to: { id, peer: pKey } }), { prevIndex: s.version })
  }

  const exists = (key: string): Promise<boolean> => client.get(key).then(() => true, () => false)

  test('died after the commit: the element is in the destination only; a read finishes the move', async () => {
    const src = new List(client, '/t/v2m/a-src', types.string)
    const dst = new List(client, '/t/v2m/a-dst', types.string)
    const { s, pKey } = await pending(src, dst, 'x', 'm1')
    assert.equal(await dst.range(), [], 'pending, not committed: invisible')
    assert.equal(await src.range(), ['x'])
    await commit(s, pKey, 'm1')
    assert.equal(await dst.range(), ['x'])
    assert.equal(await src.range(), [], 'the read of the source finished the move')
    assert.not.ok(await exists(s.key), 'source element deleted')
    assert.not.ok('from' in JSON.parse((await client.get(pKey)).node.value!), 'destination element unmarked')
    assert.is(await dst.popLeft(), 'x')
    assert.is(await src.popLeft(), undefined)
  })

  test('died after the commit, then the destination element is popped: popped once, source cleaned', async () => {
    const src = new List(client, '/t/v2m/b-src', types.string)
    const dst = new List(client, '/t/v2m/b-dst', types.string)
    const { s, pKey } = await pending(src, dst, 'y', 'm2')
    await commit(s, pKey, 'm2')
    assert.is(await dst.popRight(), 'y')
    assert.not.ok(await exists(s.key), 'the popper deleted the marked source')
    assert.equal(await src.range(), [])
    assert.equal(await dst.range(), [])
  })

  test('died before the commit: the element stays in the source; once popped there, the leftover goes', async () => {
    const src = new List(client, '/t/v2m/c-src', types.string)
    const dst = new List(client, '/t/v2m/c-dst', types.string)
    const { pKey } = await pending(src, dst, 'z', 'm3')
    assert.equal(await dst.range(), [])
    assert.is(await src.popLeft(), 'z')
    assert.equal(await dst.range(), [], 'a move that can no longer commit shows nothing')
    assert.not.ok(await exists(pKey), 'the leftover was deleted')
    // A later real move still works and is atomic.
    await src.pushRight('w')
    assert.is(await src.move(dst, 'left', 'left'), 'w')
    assert.equal([await src.range(), await dst.range()], [[], ['w']])
  })

  test('a blocking pop on the destination wakes when a move commits by a write to the source list only', async () => {
    const src = new List(client, '/t/v2m/d-src', types.string)
    const dst = new List(client, '/t/v2m/d-dst', types.string)
    const { s, pKey } = await pending(src, dst, 'v', 'm4')
    const popped = dst.blockingPop('left', { timeout: 8000 })
    await new Promise((r) => setTimeout(r, 300))
    await commit(s, pKey, 'm4')
    assert.is(await popped, 'v')
    assert.equal([await src.range(), await dst.range()], [[], []])
  })

  test.run()
}
