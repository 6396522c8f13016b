// Tree on every backend and both APIs: a nested object written and read back in one read, merge
// and replace, names with slashes, watch yielding consistent versions; on v3 a multi-leaf write is
// one txn, so a watcher never sees half of it.

import * as assert from 'uvu/assert'
import { Tree, WrongTypeError, types, type TreeNode } from '../../recipes/index.js'
import type { AnyClient } from '../../recipes/api.js'
import { within } from '../client/fixtures.js'
import { targetSuite, targets } from '../recipes/targets.js'

for (const target of targets()) {
  const { test, newClient } = targetSuite('structures tree', target, 10_000)
  let client: AnyClient
  test.before(() => { client = newClient() })

  test('write a nested object, read it back in one read, merge, replace, wrong type', async () => {
    const t = new Tree(client, '/t/tree', types.int)
    await t.write({ a: 1n, b: { c: 2n, 'd/e': { f: 2n ** 63n } } })
    assert.equal(await t.read(), { a: 1n, b: { c: 2n, 'd/e': { f: 2n ** 63n } } })
    assert.is(await t.get(['b', 'd/e', 'f']), 2n ** 63n)
    await t.write({ b: { c: 3n }, g: 4n })
    assert.equal(await t.read(), { a: 1n, b: { c: 3n, 'd/e': { f: 2n ** 63n } }, g: 4n })
    await t.write({ b: { c: 5n } }, { replace: true })
    assert.equal(await t.read(), { b: { c: 5n } })
    try {
      await new Tree(client, '/t/tree', types.string).read()
      assert.unreachable('read ints as strings')
    } catch (err) {
      assert.instance(err, WrongTypeError)
    }
    await t.clear()
    assert.equal(await t.read(), {})
  })

  test('watch yields the tree after each change' + (target.api === 'v3' ? '; a two-leaf write is never seen half done' : ''), async () => {
    const t = new Tree(client, '/t/tree-w', types.int)
    await t.write({ x: 0n, y: { z: 0n } })
    const ctl = new AbortController()
    const seen: TreeNode<bigint>[] = []
    const watching = (async () => {
      for await (const v of t.watch({ signal: ctl.signal })) {
        seen.push(v)
        if ((v.x as bigint) === 5n && ((v.y as TreeNode<bigint>).z as bigint) === 5n) return
      }
    })()
    // The first yield is the read the watch starts with: writes go only after it, or it may see them.
    await within(10_000, (async () => { while (seen.length === 0) await new Promise((r) => setTimeout(r, 5)) })(), 'watcher yields the first tree')
    for (let i = 1n; i <= 5n; i++) {
      await t.write({ x: i, y: { z: i } })
      await new Promise((r) => setTimeout(r, 30))
    }
    await within(10_000, watching, 'watcher sees the last write')
    ctl.abort()
    assert.equal(seen[0], { x: 0n, y: { z: 0n } })
    assert.ok(seen.length >= 2)
    if (target.api === 'v3') {
      for (const v of seen) assert.is(v.x, (v.y as TreeNode<bigint>).z, `half-written tree seen: ${String(v.x)} vs ${String((v.y as TreeNode<bigint>).z)}`)
    }
  })

  test.run()
}
