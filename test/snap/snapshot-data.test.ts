// Snapshot data of the state machine (server/cluster/state-machine.ts): format 2 embeds the store
// JSON as raw JSON (no second encoding), format 1 (store JSON inside a string, in existing data
// dirs) still restores; snapshotDataAsync() captures at the call and encodes in slices.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { StateMachine } from '../../server/cluster/state-machine.js'
import { EntryType, type Entry } from '../../server/raft/types.js'
import type { Command } from '../../server/store/index.js'

const T0 = 1_800_000_000_000
let seq = 0

function cmdEntry(sm: StateMachine, c: Command, t = T0): Entry {
  return { index: sm.appliedIndex + 1, term: 1, type: EntryType.Normal, data: JSON.stringify({ k: 'cmd', t, c, r: `r${++seq}` }) }
}

function apply(sm: StateMachine, c: Command, t = T0): void {
  sm.applyNormal(cmdEntry(sm, c, t))
}

/** A state machine with members, published attributes, dirs, TTLs, hidden keys and history. */
function populated(): StateMachine {
  const sm = new StateMachine()
  const cc = { type: 'add' as const, id: 'aaaaaaaaaaaaaaaa', context: JSON.stringify({ peerURLs: ['http://127.0.0.1:2380'] }) }
  sm.applyConfChange({ index: 1, term: 1, type: EntryType.ConfChange, data: '' }, cc)
  sm.applyNormal({ index: 2, term: 1, type: EntryType.Normal, data: JSON.stringify({ k: 'attr', id: 'aaaaaaaaaaaaaaaa', name: 'n1', clientURLs: ['http://127.0.0.1:2379'] }) })
  for (let i = 0; i < 300; i++) apply(sm, { op: 'set', key: `/d${i % 5}/k${i}`, value: `v${i} "q" é`, ttlSeconds: i % 4 === 0 ? 100 : null })
  apply(sm, { op: 'set', key: '/_hidden', value: 'h' })
  apply(sm, { op: 'set', key: '/emptydir', dir: true })
  apply(sm, { op: 'delete', key: '/d1', recursive: true })
  return sm
}

test('format 2: the store JSON is embedded as JSON; restore() gives the same state', () => {
  const sm = populated()
  const data = sm.snapshotData()
  const d = JSON.parse(data) as { v: number; store: unknown; membership: unknown; auth: unknown }
  assert.is(d.v, 2)
  assert.equal(Object.keys(d), ['v', 'membership', 'auth', 'store'])
  assert.is(typeof d.store, 'object', 'not a string holding JSON')
  assert.is(JSON.stringify(d.store), sm.store.toSnapshot())
  const copy = new StateMachine()
  copy.restore(data, sm.appliedIndex, 1)
  assert.is(copy.store.toSnapshot(), sm.store.toSnapshot())
  assert.equal(copy.membership.toJSON(), sm.membership.toJSON())
  assert.equal(copy.auth.toJSON(), sm.auth.toJSON())
  assert.is(copy.appliedIndex, sm.appliedIndex)
  assert.is(copy.snapshotData(), data, 'equal states give byte-equal data')
})

test('format 1 (existing data dirs: the store JSON inside a string) still restores', () => {
  const sm = populated()
  const legacy = JSON.stringify({ store: sm.store.toSnapshot(), membership: sm.membership.toJSON(), auth: sm.auth.toJSON() })
  const copy = new StateMachine()
  copy.restore(legacy, 42, 3)
  assert.is(copy.store.toSnapshot(), sm.store.toSnapshot())
  assert.equal(copy.membership.toJSON(), sm.membership.toJSON())
  assert.is(copy.appliedIndex, 42)
  assert.is(copy.appliedTerm, 3)
  // From before auth existed: no auth field.
  const older = JSON.stringify({ store: sm.store.toSnapshot(), membership: sm.membership.toJSON() })
  copy.restore(older, 43, 3)
  assert.is(copy.auth.enabled, false)
  assert.is(copy.store.toSnapshot(), sm.store.toSnapshot())
})

test('unknown data versions are refused and change nothing', () => {
  const sm = populated()
  const before = sm.store.toSnapshot()
  const d = JSON.parse(sm.snapshotData()) as Record<string, unknown>
  d.v = 3
  assert.throws(() => sm.restore(JSON.stringify(d), 1, 1), /unsupported/)
  assert.is(sm.store.toSnapshot(), before)
})

test('snapshotDataAsync(): the state at the call, encoded in slices, while applies go on', async () => {
  const sm = populated()
  const want = sm.snapshotData()
  const p = sm.snapshotDataAsync({ sliceItems: 10 })
  // Every turn of the event loop between slices changes the state further.
  let stop = false
  let n = 0
  const churn = (): void => {
    if (stop) return
    n++
    apply(sm, { op: 'set', key: `/d2/k${n * 5 + 2}`, value: 'changed' })
    apply(sm, { op: 'delete', key: `/d${n % 5}`, recursive: true })
    apply(sm, { op: 'set', key: `/new/${n}`, value: 'x', ttlSeconds: 0 })
    apply(sm, { op: 'expire' }, T0 + 1_000_000)
    setImmediate(churn)
  }
  setImmediate(churn)
  const r = await p
  stop = true
  assert.ok(r !== undefined)
  assert.is(r!.data, want)
  assert.is(r!.pieces.join(''), want)
  assert.ok(r!.slices > 50, `${r!.slices} slices`)
  assert.ok(n > 20, `the state changed ${n} times during the encoding`)
  assert.is.not(sm.snapshotData(), want)
  assert.ok(r!.longestSliceMs >= 0 && r!.captureMs >= 0 && r!.encodeMs >= 0)
  const copy = new StateMachine()
  copy.restore(r!.data, 1, 1)
  assert.is(copy.snapshotData(), want)
})

test('snapshotDataAsync(): cancelled between slices resolves undefined', async () => {
  const sm = populated()
  let calls = 0
  const r = await sm.snapshotDataAsync({ sliceItems: 10, cancelled: () => ++calls > 3 })
  assert.is(r, undefined)
  assert.is(calls, 4)
})

test.run()
