// progress.ts: the inflight window and the probe/replicate/snapshot state machine.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Inflights, Progress } from '../../server/raft/progress.js'

const inflights = suite('Inflights')

inflights('add until full, free by index, wrap around the ring', () => {
  const f = new Inflights(4)
  for (const i of [1, 2, 3, 4]) f.add(i)
  assert.ok(f.full())
  f.freeLE(2)
  assert.is(f.length, 2)
  f.add(5)
  f.add(6)
  assert.ok(f.full())
  f.freeLE(5)
  assert.is(f.length, 1)
  f.freeLE(0) // stale: nothing
  assert.is(f.length, 1)
  f.freeLE(100)
  assert.is(f.length, 0)
  assert.throws(() => { for (let i = 10; i < 20; i++) f.add(i) })
})

inflights('freeFirstOne frees exactly the oldest', () => {
  const f = new Inflights(3)
  f.add(10)
  f.add(20)
  f.freeFirstOne()
  assert.is(f.length, 1)
  f.freeLE(19)
  assert.is(f.length, 1)
  f.freeLE(20)
  assert.is(f.length, 0)
})

const progress = suite('Progress')

progress('probe: one append in flight, paused until an answer', () => {
  const p = new Progress(6, 8)
  assert.is(p.state, 'probe')
  assert.not.ok(p.isPaused())
  p.sentEntries(3, 8)
  assert.ok(p.isPaused())
  assert.is(p.next, 6, 'probe does not advance next optimistically')
  assert.ok(p.maybeUpdate(8))
  assert.not.ok(p.isPaused())
  assert.is(p.next, 9)
})

progress('replicate: next advances optimistically, paused when the window is full, acks free it', () => {
  const p = new Progress(1, 2)
  p.becomeReplicate()
  p.sentEntries(5, 5)
  p.sentEntries(5, 10)
  assert.is(p.next, 11)
  assert.ok(p.isPaused())
  p.maybeUpdate(5)
  p.inflights.freeLE(5)
  assert.not.ok(p.isPaused())
})

progress('maybeUpdate ignores stale acknowledgements', () => {
  const p = new Progress(1, 2)
  assert.ok(p.maybeUpdate(5))
  assert.not.ok(p.maybeUpdate(3))
  assert.is(p.match, 5)
})

progress('maybeDecrTo in replicate: a stale rejection is ignored, otherwise next = match + 1', () => {
  const p = new Progress(1, 8)
  p.maybeUpdate(5)
  p.becomeReplicate()
  p.sentEntries(5, 10)
  assert.not.ok(p.maybeDecrTo(4, 4), 'rejects something already matched')
  assert.ok(p.maybeDecrTo(8, 7))
  assert.is(p.next, 6)
})

progress('maybeDecrTo in probe: only the rejection of the last probe counts; the hint skips ahead', () => {
  const p = new Progress(11, 8)
  assert.not.ok(p.maybeDecrTo(5, 4), 'not the probe we sent (at next-1 = 10)')
  assert.ok(p.maybeDecrTo(10, 3))
  assert.is(p.next, 4, 'jumps to hint + 1')
  p.sentEntries(1, 4)
  assert.ok(p.isPaused())
  assert.ok(p.maybeDecrTo(3, 0))
  assert.is(p.next, 1)
  assert.not.ok(p.isPaused(), 'a rejection unpauses probing')
})

progress('snapshot: paused while sending; back to probe after the snapshot index', () => {
  const p = new Progress(3, 8)
  p.maybeUpdate(2)
  p.becomeSnapshot(50)
  assert.ok(p.isPaused())
  p.becomeProbe()
  assert.is(p.state, 'probe')
  assert.is(p.next, 51)
  const q = new Progress(3, 8)
  q.becomeSnapshot(50)
  q.pendingSnapshot = 0 // failed snapshot
  q.becomeProbe()
  assert.is(q.next, 1)
})

inflights.run()
progress.run()
