// References on every backend and both APIs: deref through a chain, dangling and unset
// references, cycles, compare-and-swap retargeting, wrong target type.

import * as assert from 'uvu/assert'
import { DanglingReferenceError, Reference, ReferenceCycleError, TypedValue, WrongTypeError, types } from '../../recipes/index.js'
import type { AnyClient } from '../../recipes/api.js'
import { clientFor, targetSuite, targets } from '../recipes/targets.js'

async function fails(p: Promise<unknown>, cls: new (...a: never[]) => Error, code: string): Promise<Error> {
  try {
    await p
  } catch (err) {
    assert.instance(err, cls)
    assert.is((err as { code?: string }).code, code)
    return err as Error
  }
  assert.unreachable(`expected ${cls.name}`)
  throw new Error('unreachable')
}

for (const target of targets()) {
  const { test, newClient, endpoints } = targetSuite('structures reference', target, 10_000)
  let client: AnyClient
  test.before(() => { client = newClient() })

  test('deref follows a chain; unset, dangling, cyclic and wrongly typed references fail clearly', async () => {
    const ref = new Reference(client, '/t/r/main', types.int)
    await fails(ref.deref(), DanglingReferenceError, 'DANGLING_REFERENCE')
    await ref.set('/t/r/missing')
    const e = await fails(ref.deref(), DanglingReferenceError, 'DANGLING_REFERENCE')
    assert.match(e.message, /\/t\/r\/missing does not exist/)
    await new TypedValue(client, '/t/r/n', types.int).set(2n ** 60n)
    await new Reference(client, '/t/r/mid', types.int).set('/t/r/n')
    await ref.set('/t/r/mid')
    assert.equal(await ref.deref(), { target: '/t/r/n', value: 2n ** 60n, path: ['/t/r/main', '/t/r/mid'] })
    assert.is(await ref.target(), '/t/r/mid')
    await new Reference(client, '/t/r/mid', types.int).set('/t/r/main')
    const c = await fails(ref.deref(), ReferenceCycleError, 'REFERENCE_CYCLE')
    assert.match(c.message, /\/t\/r\/main -> \/t\/r\/mid -> \/t\/r\/main/)
    await new TypedValue(client, '/t/r/s', types.string).set('text')
    await ref.set('/t/r/s')
    await fails(ref.deref(), WrongTypeError, 'WRONG_TYPE')
    await fails(new Reference(client, '/t/r/s', types.int).deref(), WrongTypeError, 'WRONG_TYPE')
  })

  test('retarget is compare-and-swap on the current target', async () => {
    const ref = new Reference(client, '/t/r/cas', types.string)
    assert.ok(await ref.retarget(undefined, '/t/r/x'))
    assert.not.ok(await ref.retarget(undefined, '/t/r/y'), 'already set')
    assert.not.ok(await ref.retarget('/t/r/y', '/t/r/z'), 'names something else')
    assert.ok(await ref.retarget('/t/r/x', '/t/r/y'))
    assert.is(await ref.target(), '/t/r/y')
    const racing = ['/t/r/p', '/t/r/q', '/t/r/s2'].map((t) => ({ t, c: clientFor(target.api, endpoints(), 10_000) }))
    const racers = await Promise.all(racing.map(({ t, c }) => new Reference(c, '/t/r/cas', types.string).retarget('/t/r/y', t)))
    for (const { c } of racing) c.close()
    assert.is(racers.filter(Boolean).length, 1, 'one of three racing retargets wins')
  })

  test.run()
}
