// List on every backend and both APIs, in one process: Redis semantics (both ends, index and range
// reads, trim, move), exact big ints, a typed error for a reader of the wrong type, blocking pop
// with timeout and abort. The multi-process checks are in list-procs.ts.

import * as assert from 'uvu/assert'
import { List, WrongTypeError, types } from '../../recipes/index.js'
import type { AnyClient } from '../../recipes/api.js'
import { within } from '../client/fixtures.js'
import { targetSuite, targets } from '../recipes/targets.js'

for (const target of targets()) {
  const { test, newClient } = targetSuite('structures list', target, 10_000)
  let client: AnyClient
  test.before(() => { client = newClient() })

  test('push/pop at both ends, index and range reads, length, trim, move, typed elements', async () => {
    const l = new List(client, '/t/list', types.int)
    await l.pushRight(1n, 2n, 3n)
    await l.pushLeft(0n, -1n)
    assert.equal(await l.range(), [-1n, 0n, 1n, 2n, 3n])
    assert.is(await l.length(), 5)
    assert.is(await l.at(0), -1n)
    assert.is(await l.at(-1), 3n)
    assert.is(await l.at(9), undefined)
    assert.equal(await l.range(1, -2), [0n, 1n, 2n])
    await l.pushRight(2n ** 70n)
    assert.is(await l.popRight(), 2n ** 70n, 'ints beyond 2^53 stay exact')
    assert.is(await l.popLeft(), -1n)
    assert.is(await l.trim(1, 1), 3)
    assert.equal(await l.range(), [1n])
    const dst = new List(client, '/t/list-dst', types.int)
    await dst.pushRight(7n)
    assert.is(await l.move(dst, 'left', 'left'), 1n)
    assert.equal(await l.range(), [])
    assert.equal(await dst.range(), [1n, 7n])
    assert.is(await l.move(dst, 'right', 'left'), undefined)
    assert.is(await l.popLeft(), undefined)
    // A reader of another type gets a clear, typed error.
    const wrong = new List(client, '/t/list-dst', types.string)
    try {
      await wrong.range()
      assert.unreachable('a string reader read ints')
    } catch (err) {
      assert.instance(err, WrongTypeError)
      assert.is((err as WrongTypeError).code, 'WRONG_TYPE')
      assert.match((err as Error).message, /type int, expected string/)
    }
    await within(5000, dst.blockingPop('right', { timeout: 3000 }), 'pop of an element already there')
    const t0 = Date.now()
    await dst.popLeft()
    try {
      await dst.blockingPop('left', { timeout: 400 })
      assert.unreachable('blocking pop of an empty list returned')
    } catch (err) {
      assert.is((err as { code?: string }).code, 'RECIPE_TIMEOUT')
      assert.ok(Date.now() - t0 >= 400)
    }
    const ctl = new AbortController()
    const p = dst.blockingPop('left', { signal: ctl.signal })
    setTimeout(() => ctl.abort(), 100)
    try {
      await within(3000, p, 'aborted pop')
      assert.unreachable('aborted pop returned')
    } catch (err) {
      assert.is((err as { code?: string }).code, 'RECIPE_ABORTED')
    }
  })

  test.run()
}
