// WorkQueue's ack() promise on every backend and both APIs: once ack() has finished, no consumer ever receives
// that item again. First a forced interleaving (a consumer's claim lands after another consumer
// acked the item it listed), then a free-running run of 3 consumers and 2 producers checked for
// any delivery after an ack finished.

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { WorkQueue, type QueueItem } from '../../recipes/index.js'
import { isV3, type AnyClient } from '../../recipes/api.js'
import { within } from '../client/fixtures.js'
import { clientFor, targets } from './targets.js'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** The client, with the write of a claim (v2 create, v3 txn) held back until `gate` resolves (a slow consumer). */
function slowClaims<C extends AnyClient>(client: C, gate: Promise<void>, reached: () => void): C {
  const method = isV3(client) ? 'txn' : 'create'
  const isClaim = (arg: unknown): boolean => typeof arg === 'string'
    ? arg.includes('/claims/')
    : ((arg as { compare?: { key: unknown }[] }).compare ?? []).some((c) => String(c.key).includes('/claims/'))
  return new Proxy(client, {
    get(target, prop) {
      if (prop === method) {
        return async (arg: unknown, ...rest: unknown[]) => {
          if (isClaim(arg)) { reached(); await gate }
          return (Reflect.get(target, prop, target) as (...a: unknown[]) => unknown).call(target, arg, ...rest)
        }
      }
      const v = Reflect.get(target, prop, target) as unknown
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    },
  })
}

for (const target of targets()) {
  const test = suite(`recipes work queue ack [${target.label}]`)
  let cluster: { endpoints: string[]; close(): Promise<void> }
  const clients: AnyClient[] = []
  const newClient = (): AnyClient => {
    const c = clientFor(target.api, cluster.endpoints)
    clients.push(c)
    return c
  }

  test.before(async () => {
    cluster = await target.start()
  })
  test.after(async () => {
    for (const c of clients) c.close()
    await cluster?.close()
  })

  test('a claim made from a listing taken before another consumer acked the item is not handed out', async () => {
    const dir = '/t/queue-stale'
    const producer = new WorkQueue<string>(newClient(), dir)
    await producer.push('only')
    let open!: () => void
    const gate = new Promise<void>((r) => { open = r })
    let reached!: () => void
    const atClaim = new Promise<void>((r) => { reached = r })
    const slow = new WorkQueue<string>(slowClaims(newClient(), gate, reached), dir)
    // The slow consumer lists the queue (the item is unclaimed) and stops right before claiming.
    const late = slow.tryPop()
    await within(5000, atClaim, 'slow consumer reaches its claim')
    const fast = new WorkQueue<string>(newClient(), dir)
    const item = await fast.tryPop()
    assert.is(item?.data, 'only')
    await item!.ack()
    open()
    const again = await within(5000, late, 'slow consumer')
    assert.is(again, undefined, `item ${again?.key} was delivered again after its ack() finished`)
    assert.is(await producer.size(), 0)
    // Nothing was left behind: no claim for an item that is gone.
    const c = newClient()
    const claims = isV3(c) ? (await c.range(`${dir}/claims/`, { prefix: true, countOnly: true })).count : (await c.list(`${dir}/claims`).catch(() => [])).length
    assert.is(claims, 0)
  })

  test('3 consumers and 2 producers: no item is delivered after its ack() finished', async () => {
    const dir = '/t/queue-race'
    const total = 60
    const ackedAt = new Map<string, number>()
    const violations: string[] = []
    const received = new Map<string, number>()
    let produced = 0
    const producers = [0, 1].map(async (p) => {
      const q = new WorkQueue<string>(newClient(), dir)
      for (let i = 0; i < total / 2; i++) {
        await q.push(`p${p}-${i}`)
        produced++
        if (i % 3 === 0) await sleep(Math.random() * 15)
      }
    })
    let done = 0
    const consumers = [0, 1, 2].map(async (c) => {
      const q = new WorkQueue<string>(newClient(), dir, { visibilityTimeout: 30 })
      while (done < total) {
        let item: QueueItem<string>
        try {
          item = await q.pop({ timeout: 1000 })
        } catch {
          continue // timed out: check whether everything is done
        }
        const at = performance.now()
        const prior = ackedAt.get(item.data)
        if (prior !== undefined) violations.push(`consumer-${c} received ${item.data} at ${at.toFixed(0)} ms; acked at ${prior.toFixed(0)} ms`)
        received.set(item.data, (received.get(item.data) ?? 0) + 1)
        if (Math.random() < 0.5) await sleep(Math.random() * 10)
        await item.ack()
        if (!ackedAt.has(item.data)) { ackedAt.set(item.data, performance.now()); done++ }
      }
    })
    await within(90_000, Promise.all([...producers, ...consumers]), 'queue run')
    assert.is(produced, total)
    assert.equal(violations, [])
    assert.is(ackedAt.size, total, 'every item was consumed')
  })

  test.run()
}
