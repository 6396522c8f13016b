// Service discovery on every backend and both APIs: registrations stay alive without watch noise, views load
// the current set and follow added/updated/removed, pickers rotate, a registration whose key
// vanished re-registers, and a kill -9'd instance leaves every watcher's view within its TTL.

import * as assert from 'uvu/assert'
import { discover, register, type ServiceEvent } from '../../recipes/index.js'
import { isV3, type AnyClient } from '../../recipes/api.js'
import { within } from '../client/fixtures.js'
import { startWorker } from './procs.js'
import { targetSuite, targets } from './targets.js'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const TTL = 2

async function until(what: string, ms: number, cond: () => boolean): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} not reached within ${ms} ms`)
    await sleep(25)
  }
}

for (const target of targets()) {
  const { test, newClient, workers, endpoints } = targetSuite('recipes discovery', target)

  test('register/discover: snapshot, added/updated/removed events, no noise from refreshes, pickers', async () => {
    const a = await register(newClient(), 'api', 'a', { ttl: TTL, data: { port: 1 } })
    const view = discover<{ port: number }>(newClient(), 'api')
    await view.ready
    assert.equal(view.instances().map((i) => [i.id, i.data.port]), [['a', 1]])
    const events: string[] = []
    const iterated: ServiceEvent[] = []
    view.on('change', (e) => events.push(`${e.type}:${e.instance.id}`))
    const iterating = (async () => { for await (const e of view) iterated.push(e) })()
    const b = await register(newClient(), 'api', 'b', { ttl: TTL, data: { port: 2 } })
    await until('b added', 3000, () => view.size === 2)
    await sleep(TTL * 1000 + 500) // several refreshes of both: no events
    assert.equal(events, ['added:b'])
    await b.update({ port: 3 })
    await until('b updated', 3000, () => events.length === 2)
    assert.is(view.instances()[1]!.data.port, 3)
    const picks = [view.pick(), view.pick(), view.pick(), view.pick()].map((i) => i?.id)
    assert.equal(picks, ['a', 'b', 'a', 'b'])
    assert.ok(['a', 'b'].includes(view.pick('random')!.id))
    await a.deregister()
    await until('a removed', 3000, () => view.size === 1)
    assert.equal(events, ['added:b', 'updated:b', 'removed:a'])
    view.close()
    await within(2000, iterating, 'iterator end')
    assert.equal(iterated.map((e) => `${e.type}:${e.instance.id}`), events)
    await b.deregister()
  })

  test('a registration whose key disappeared registers again (lost, then restored)', async () => {
    const c = newClient()
    const reg = await register(c, 'svc-restore', 'x', { ttl: TTL })
    const seen: string[] = []
    reg.on('lost', () => seen.push('lost'))
    reg.on('restored', () => seen.push('restored'))
    await c.delete(reg.key)
    await until('restored', TTL * 1000 + 3000, () => seen.includes('restored'))
    assert.equal(seen, ['lost', 'restored'])
    assert.ok(reg.isRegistered())
    // Still expiring: a TTL (v2) or a lease (v3), never made permanent.
    if (isV3(c)) assert.ok(((await c.get(reg.key))?.lease ?? 0n) !== 0n)
    else assert.is((await c.get(reg.key)).node.ttl !== undefined, true)
    await reg.deregister()
  })

  test('kill -9 of an instance process: it leaves every watcher view within its TTL', async () => {
    const service = 'killed'
    const ws = ['i0', 'i1'].map((id) => startWorker(id, { role: 'instance', api: target.api, endpoints: endpoints(), key: service, ttl: TTL }))
    workers.push(...ws)
    await Promise.all(ws.map((w) => w.waitFor((r) => r.ev === 'registered', 20_000, 'registered')))
    const views = [discover(newClient(), service), discover(newClient(), service)]
    await Promise.all(views.map((v) => v.ready))
    for (const v of views) assert.equal(v.instances().map((i) => i.id), ['i0', 'i1'])
    const killedAt = Date.now()
    ws[0]!.signal('SIGKILL')
    await ws[0]!.exited
    await Promise.all(views.map((v) => until('i0 gone', TTL * 1000 + 4000, () => v.size === 1)))
    const took = Date.now() - killedAt
    // TTL, plus up to one expiry sweep (500 ms) and delivery.
    assert.ok(took <= TTL * 1000 + 2000, `gone after ${took} ms`)
    for (const v of views) assert.equal(v.instances().map((i) => i.id), ['i1'])
    for (const v of views) v.close()
  })

  test.run()
}
