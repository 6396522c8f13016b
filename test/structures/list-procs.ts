// Multi-process checks of List (separate processes, each with its own client): pushers and poppers
// at both ends lose and duplicate nothing; a blocking pop is woken by another process's push; moves
// between two lists under contention leave each element in exactly one place.

import * as assert from 'uvu/assert'
import { List, TypedMap, types } from '../../recipes/index.js'
import { within } from '../client/fixtures.js'
import { structuresSuite, type Which } from './harness.js'

export function listProcs(which: Which): void {
  structuresSuite('list processes', which, ({ test, ctx, spawn, done }) => {
  test('2 processes push at both ends while 2 pop at both ends: every element popped exactly once', async () => {
    const key = '/t/mp-list'
    const stop = '/t/mp-stop'
    // Poppers first (both running before anything is pushed), so they contend for the elements;
    // how the elements split between them is up to the scheduler, so it is not asserted.
    const poppers = ['p1', 'p2'].map((id) => spawn(id, { role: 'pop', key, stop }))
    for (const w of poppers) await w.waitFor((r) => r.ev === 'ready', 30_000, 'ready')
    const pushers = ['a', 'b'].map((id) => spawn(`push-${id}`, { role: 'push', key, count: 12 }))
    for (const w of pushers) await done(w)
    await new TypedMap(ctx.client, stop, types.string).set('now', 'yes')
    const got: string[] = []
    for (const w of poppers) got.push(...((await done(w)).got as string[]))
    const want = ['a', 'b'].flatMap((id) => Array.from({ length: 12 }, (_, i) => `push-${id}-${i}`))
    assert.is(new Set(got).size, got.length, 'no element popped twice')
    assert.equal([...got].sort(), [...want].sort(), 'every pushed element popped')
  })

  test('a blocking pop is woken by a push from another process', async () => {
    const key = '/t/bpop'
    const waiter = spawn('bpop', { role: 'bpop', key, end: 'left', timeout: 30_000 })
    await waiter.waitFor((r) => r.ev === 'waiting', 20_000, 'waiting')
    await new Promise((r) => setTimeout(r, 500))
    assert.not.ok(waiter.reports.some((r) => r.ev === 'got'), 'nothing to pop yet')
    await done(spawn('pusher', { role: 'push', key, count: 1, end: 'right' }))
    const got = await waiter.waitFor((r) => r.ev === 'got' || r.ev === 'error', 20_000, 'got')
    assert.is(got.value, 'pusher-0', JSON.stringify(got))
    assert.is(await new List(ctx.client, key, types.string).length(), 0)
  })

  test('moves under contention: 2 movers and a popper; each element ends in exactly one place', async () => {
    const src = new List(ctx.client, '/t/mv-src', types.string)
    const dst = new List(ctx.client, '/t/mv-dst', types.string)
    const stop = '/t/mv-stop'
    const want = Array.from({ length: 16 }, (_, i) => `e${i}`)
    const movers = ['m1', 'm2'].map((id, i) => spawn(id, { role: 'move', key: src.dir, dst: dst.dir, stop, from: i % 2 ? 'left' : 'right', to: i % 2 ? 'right' : 'left' }))
    const popper = spawn('pop', { role: 'pop', key: src.dir, stop })
    for (const w of [...movers, popper]) await w.waitFor((r) => r.ev === 'ready', 30_000, 'ready')
    for (const v of want) await src.pushRight(v)
    await within(45_000, (async () => { while ((await src.length()) > 0) await new Promise((r) => setTimeout(r, 100)) })(), 'source drained')
    await new TypedMap(ctx.client, stop, types.string).set('now', 'yes')
    const moved: string[] = []
    for (const w of movers) moved.push(...((await done(w)).moved as string[]))
    const popped = (await done(popper)).got as string[]
    const inDst = await dst.range()
    assert.equal([...inDst].sort(), [...moved].sort(), 'what the movers report is what the destination holds')
    const all = [...inDst, ...popped]
    assert.is(new Set(all).size, all.length, 'no element in two places')
    assert.equal(all.sort(), [...want].sort(), 'no element lost')
    assert.ok(moved.length > 0)
  })

  })
}
