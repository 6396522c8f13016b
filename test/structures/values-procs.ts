// Multi-process checks of typed values and references: float increments from several processes sum
// exactly; a reference retargeted by another process while this one follows it is seen moving
// from target to target, each value read together with the target it belongs to.

import * as assert from 'uvu/assert'
import { Reference, TypedMap, TypedValue, types } from '../../recipes/index.js'
import { within } from '../client/fixtures.js'
import { structuresSuite, type Which } from './harness.js'

export function valuesProcs(which: Which): void {
  structuresSuite('values processes', which, ({ test, ctx, spawn, done }) => {
    test('float increments from 3 processes sum exactly', async () => {
      const ws = ['f1', 'f2', 'f3'].map((id) => spawn(id, { role: 'float', key: '/t/floats', field: 'total', delta: 0.375, count: 10 }))
      for (const w of ws) await done(w)
      assert.is(await new TypedMap<string, number>(ctx.client, '/t/floats', types.float).get('total'), 3 * 10 * 0.375)
    })

    test('a reference retargeted by another process while this one follows it', async () => {
      const ref = new Reference(ctx.client, '/t/ref', types.string)
      await new TypedValue(ctx.client, '/t/cfg/start', types.string).set('start-v1')
      await ref.set('/t/cfg/start')
      const ctl = new AbortController()
      const seen: { target: string | undefined; value: string | undefined }[] = []
      const following = (async () => {
        for await (const s of ref.follow({ signal: ctl.signal })) {
          seen.push(s)
          if (s.value === 'c-v2') return
        }
      })()
      await within(10_000, (async () => { while (seen.length === 0) await new Promise((r) => setTimeout(r, 20)) })(), 'first deref')
      const w = spawn('retarget', { role: 'retarget', key: '/t/ref' })
      await done(w)
      await within(10_000, following, 'follower sees the last value')
      ctl.abort()
      assert.equal(seen[0], { target: '/t/cfg/start', value: 'start-v1' })
      for (const s of seen) {
        const name = s.target!.slice('/t/cfg/'.length)
        assert.ok(s.value!.startsWith(`${name}-`), `value ${s.value} read together with target ${s.target}`)
      }
      const targets = [...new Set(seen.map((s) => s.target))]
      assert.equal(targets, ['/t/cfg/start', '/t/cfg/a', '/t/cfg/b', '/t/cfg/c'], JSON.stringify(seen))
      assert.ok(seen.some((s) => s.value === 'b-v2'), 'a change of the target is followed too')
      assert.equal(await ref.deref(), { target: '/t/cfg/c', value: 'c-v2', path: ['/t/ref'] })
    })
  })
}
