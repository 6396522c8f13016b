// A store capture released after its encoding lends its arrays to the next capture: the text the
// reused arrays encode is byte-equal to toSnapshot() as the tree grows, shrinks and changes between
// captures, and a released capture keeps no old names or values alive.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Store, encodeCapture } from '../../server/store/index.js'
import { StateMachine } from '../../server/cluster/state-machine.js'
import { Prng } from '../support/prng.js'

test('captures filling released arrays encode exactly what toSnapshot() gives', () => {
  const p = new Prng(11)
  const st = new Store()
  let now = 1_700_000_000_000
  let sizes = 0
  for (let round = 0; round < 40; round++) {
    // Grow a lot in some rounds, delete whole directories in others, so reuse meets both.
    const ops = round % 5 === 4 ? 3 : 50 + p.intn(400)
    for (let i = 0; i < ops; i++) {
      const key = `/d${p.intn(6)}/s${p.intn(4)}/k${p.intn(300)}`
      const r = p.intn(10)
      if (round % 5 === 4) st.apply({ op: 'delete', key: `/d${p.intn(6)}`, dir: true, recursive: true }, now)
      else if (r < 6) st.apply({ op: 'set', key, value: `v${round}.${i}.é`, ttlSeconds: r === 0 ? 1000 : undefined }, now)
      else if (r < 8) st.apply({ op: 'delete', key }, now)
      else st.apply({ op: 'set', key: `/d${p.intn(6)}/dir${p.intn(5)}`, dir: true }, now)
      now += 7
    }
    const cap = st.captureSnapshot()
    sizes += cap.size
    assert.is(encodeCapture(cap), st.toSnapshot(), `round ${round}`)
    st.releaseCapture(cap)
    assert.ok(cap.names.slice(0, cap.size).every((x) => x === ''), 'released names are cleared')
    assert.ok(cap.values.slice(0, cap.size).every((x) => x === ''), 'released values are cleared')
  }
  assert.ok(sizes > 1000, 'the trees were not trivial')
})

test('the state machine releases its capture after encoding; the next snapshot is still exact', async () => {
  const sm = new StateMachine()
  for (let i = 0; i < 3000; i++) sm.store.apply({ op: 'set', key: `/a/k${i}`, value: `x${i}` }, 0)
  const first = await sm.snapshotDataAsync({ sliceItems: 200 })
  assert.is(first?.data, sm.snapshotData())
  for (let i = 0; i < 3000; i += 2) sm.store.apply({ op: 'delete', key: `/a/k${i}` }, 0)
  for (let i = 0; i < 500; i++) sm.store.apply({ op: 'set', key: `/b/k${i}`, value: `y${i}` }, 0)
  // Changes made while the encoding runs do not show in it (the capture is a point-in-time copy).
  const want = sm.snapshotData()
  const second = sm.snapshotDataAsync({ sliceItems: 200 })
  for (let i = 0; i < 100; i++) sm.store.apply({ op: 'set', key: `/c/k${i}`, value: 'later' }, 0)
  assert.is((await second)?.data, want)
})

test.run()
