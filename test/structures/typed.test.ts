// Typed registers, maps and sets on every backend and both APIs: exact ints beyond 2^53, floats,
// bytes, a typed error for a reader of the wrong type, concurrent increments, an increment whose
// reply was lost counted once even when another writer changed the key right after it, and a
// per-field watch.

import * as assert from 'uvu/assert'
import type { FetchLike } from '../../src/index.js'
import { TypedMap, TypedSet, TypedValue, WrongTypeError, types } from '../../recipes/index.js'
import type { AnyClient } from '../../recipes/api.js'
import { within } from '../client/fixtures.js'
import { targetSuite, targets } from '../recipes/targets.js'

for (const target of targets()) {
  const { test, newClient } = targetSuite('structures typed values', target, 10_000)
  let client: AnyClient
  test.before(() => { client = newClient() })

  test('ints are exact beyond 2^53, floats add, bytes and strings round-trip, wrong type is refused', async () => {
    const m = new TypedMap<'hits' | 'big', bigint>(client, '/t/typed/ints', types.int)
    assert.is(await m.incr('hits'), 1n)
    assert.is(await m.incr('hits', 41), 42n)
    await m.set('big', 2n ** 64n)
    assert.is(await m.incr('big', 1n), 2n ** 64n + 1n)
    assert.equal(await m.entries(), [['big', 2n ** 64n + 1n], ['hits', 42n]])
    const f = new TypedMap<string, number>(client, '/t/typed/floats', types.float)
    assert.is(await f.incrFloat('t', 1.5), 1.5)
    assert.is(await f.incrFloat('t', -0.25), 1.25)
    const b = new TypedValue(client, '/t/typed/bytes', types.bytes)
    const raw = Uint8Array.from([0, 1, 2, 250, 255, 10])
    await b.set(raw)
    assert.equal(Array.from((await b.get())!), Array.from(raw))
    const s = new TypedValue(client, '/t/typed/str', types.string)
    await s.set('hé/llo')
    assert.is(await s.get(), 'hé/llo')
    for (const read of [() => new TypedMap(client, '/t/typed/ints', types.float).get('hits'), () => new TypedValue(client, '/t/typed/str', types.int).incr()]) {
      try {
        await read()
        assert.unreachable('read with the wrong type')
      } catch (err) {
        assert.instance(err, WrongTypeError)
        assert.is((err as WrongTypeError).code, 'WRONG_TYPE')
      }
    }
    assert.is(await s.get(), 'hé/llo', 'the refused increment wrote nothing')
  })

  test('concurrent incrFloat from 4 clients sums exactly; sets compare members by value', async () => {
    await Promise.all(Array.from({ length: 4 }, async () => {
      const m = new TypedMap<string, number>(newClient(), '/t/typed/sum', types.float)
      for (let i = 0; i < 5; i++) await m.incrFloat('x', 0.125)
    }))
    assert.is(await new TypedMap<string, number>(client, '/t/typed/sum', types.float).get('x'), 2.5)
    const set = new TypedSet(client, '/t/typed/set', types.json<{ a: number; b: number[] }>())
    assert.ok(await set.add({ a: 1, b: [2] }))
    assert.not.ok(await set.add({ b: [2], a: 1 }))
    assert.ok(await set.has({ a: 1, b: [2] }))
    assert.ok(await set.add({ a: 2, b: [] }))
    assert.is(await set.size(), 2)
    assert.ok(await set.delete({ a: 2, b: [] }))
    assert.equal(await set.values(), [{ a: 1, b: [2] }])
  })

  test('an increment whose reply was lost is counted once, even after another writer changed the key', async () => {
    const key = '/t/typed/lost'
    const other = new TypedValue(newClient(), key, types.float)
    await other.set(10)
    let dropped = 0
    const lossy: FetchLike = async (url, init) => {
      const res = await fetch(url, init as RequestInit)
      if (String(url).includes('/v3/watch')) return res as unknown as Awaited<ReturnType<FetchLike>> // a stream: pass it through
      const text = await res.text()
      const write = target.api === 'v3' ? String(url).includes('/kv/txn') : init.method !== 'GET'
      if (write && dropped === 0) {
        dropped++
        // Our write landed; another writer updates the key before we learn anything.
        await other.incrFloat(100)
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
      }
      return { status: res.status, headers: res.headers, text: async () => text }
    }
    const mine = new TypedValue(newClient({ fetch: lossy, retry: false }), key, types.float)
    assert.is(await mine.incrFloat(0.5), 10.5)
    assert.is(dropped, 1)
    assert.is(await other.get(), 110.5, 'ours once, theirs once')
  })

  test('watchField yields the current value, then each change, and undefined on delete', async () => {
    const m = new TypedMap<string, bigint>(client, '/t/typed/watched', types.int)
    await m.set('f', 1n)
    const ctl = new AbortController()
    const seen: (bigint | undefined)[] = []
    const it = m.watchField('f', { signal: ctl.signal })
    const reader = (async () => { for await (const v of it) { seen.push(v); if (seen.length === 4) break } })()
    const until = async (n: number): Promise<void> => { while (seen.length < n) await new Promise((r) => setTimeout(r, 20)) }
    await within(5000, until(1), 'initial')
    await m.incr('f')
    await within(5000, until(2), 'after incr')
    await m.set('other', 9n) // another field: not reported
    await m.delete('f')
    await within(5000, until(3), 'after delete')
    await m.set('f', 7n)
    await within(5000, reader, 'after re-create')
    ctl.abort()
    assert.equal(seen, [1n, 2n, undefined, 7n])
  })

  test.run()
}
