// Leader election on every backend and both APIs (v3: Go's Election layout): candidates lead in
// arrival order, observe() reports every change (reign and proclaimed value), resign hands over at
// once, a lost lead fires `lost`, a detached leadership resumes.
// (kill -9 of a leader process, on both APIs: safety.test.ts.)

import * as assert from 'uvu/assert'
import { Election, LockLostError, type LeaderInfo } from '../../recipes/index.js'
import type { AnyClient } from '../../recipes/api.js'
import { within } from '../client/fixtures.js'
import { targetSuite, targets } from './targets.js'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const TTL = 2

for (const target of targets()) {
  const { test, newClient } = targetSuite('recipes election', target)

  test('campaign/observe/proclaim/resign: one leader at a time, in arrival order, every change observed', async () => {
    const key = '/t/election/basic'
    const [a, b, c] = ['a', 'b', 'c'].map((o) => new Election(newClient(), key, { ttl: TTL, owner: o }))
    const seen: (LeaderInfo | undefined)[] = []
    const stop = new AbortController()
    const observing = (async () => { for await (const l of a!.observe({ signal: stop.signal })) seen.push(l) })().catch(() => {})
    // The observer's first value is the state it read; campaign only after that read (else a fast
    // server lets 'a' win before the observer looked, and the initial "nobody" is never seen).
    await within(3000, (async () => { while (seen.length === 0) await sleep(5) })(), 'observer initial state')
    const elected: string[] = []
    a!.on('elected', () => elected.push('a'))
    const la = await a!.campaign('a-v1')
    const pb = b!.campaign('b-v1').then((l) => { elected.push('b'); return l })
    await sleep(150)
    const pc = c!.campaign('c-v1').then((l) => { elected.push('c'); return l })
    await sleep(300)
    assert.is((await c!.leader())?.value, 'a-v1')
    if (target.api === 'v2') assert.is((await c!.leader())?.owner, 'a') // v3 keys hold the proposal alone, as in Go
    await la.proclaim('a-v2')
    await sleep(200)
    assert.is((await b!.leader())?.value, 'a-v2')
    await la.resign()
    const lb = await within(3000, pb, 'b elected')
    assert.ok(lb.term > la.term, 'a later reign has a larger term')
    await lb.resign()
    const lc = await within(3000, pc, 'c elected')
    await lc.resign()
    await sleep(300)
    stop.abort()
    await observing
    assert.equal(elected, ['a', 'b', 'c'])
    assert.equal(seen.map((l) => l?.value), [undefined, 'a-v1', 'a-v2', 'b-v1', 'c-v1', undefined])
  })

  test('a leader whose key is removed behind its back fires lost (signal + event)', async () => {
    const key = '/t/election/lost'
    const e = new Election(newClient(), key, { ttl: TTL })
    const lead = await e.campaign('x')
    let lost = false
    e.on('lost', () => { lost = true })
    await newClient().delete(lead.key)
    await within(TTL * 1000 + 1000, new Promise((r) => lead.signal.addEventListener('abort', r)), 'lost signal')
    assert.ok(lost)
    assert.is(e.leadership, undefined)
  })

  test('a leadership serialised by one invocation is resumed by the next (same term), or refused once gone', async () => {
    const key = '/t/election/resume'
    const lead = await new Election(newClient(), key, { ttl: TTL }).campaign('v')
    const json = JSON.parse(JSON.stringify(lead.detach()))
    const e2 = new Election(newClient(), key, { ttl: TTL })
    const again = await e2.resume(json)
    assert.is(again.term, lead.term)
    assert.is(again.data, 'v')
    await sleep(TTL * 1000 + 300)
    assert.ok(again.isHeld(), 'kept alive by the resumed handle')
    assert.is((await e2.leader())?.term, lead.term)
    await again.resign()
    assert.instance(await e2.resume(json).catch((e: unknown) => e), LockLostError)
  })

  test.run()
}
