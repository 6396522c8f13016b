// log.ts, log-unstable.ts and storage.ts: appends, conflicts, slicing with byte limits, compaction.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { CompactedError, UnavailableError } from '../../server/raft/errors.js'
import { RaftLog } from '../../server/raft/log.js'
import { MemoryStorage } from '../../server/raft/storage.js'
import { type Entry, EntryType } from '../../server/raft/types.js'

function ents(from: number, terms: number[], data = 'x'): Entry[] {
  return terms.map((t, i) => ({ term: t, index: from + i, type: EntryType.Normal, data }))
}

const storage = suite('MemoryStorage')

storage('append replaces a conflicting suffix; entries/term report compaction and unavailability', () => {
  const s = new MemoryStorage()
  s.append(ents(1, [1, 1, 2, 2]))
  s.append(ents(3, [3]))
  assert.is(s.lastIndex(), 3)
  assert.is(s.term(3), 3)
  s.createSnapshot(2, { voters: ['a'] }, 'snap')
  s.compact(2)
  assert.is(s.firstIndex(), 3)
  assert.is(s.term(2), 1)
  assert.throws(() => s.term(1), (e: unknown) => e instanceof CompactedError)
  assert.throws(() => s.entries(2, 4, Infinity), (e: unknown) => e instanceof CompactedError)
  assert.throws(() => s.term(9), (e: unknown) => e instanceof UnavailableError)
  assert.equal(s.initialState().confState, { voters: ['a'] })
})

storage('entries respects maxBytes but always returns at least one entry', () => {
  const s = new MemoryStorage()
  s.append(ents(1, [1, 1, 1, 1, 1], 'x'.repeat(76)))
  assert.is(s.entries(1, 6, 250).length, 2)
  assert.is(s.entries(1, 6, 1).length, 1)
  assert.is(s.entries(1, 6, Infinity).length, 5)
})

storage('applySnapshot resets the log to the snapshot', () => {
  const s = new MemoryStorage()
  s.append(ents(1, [1, 1, 1]))
  s.applySnapshot({ metadata: { index: 10, term: 4, conf: { voters: ['a', 'b'] } }, data: 'd' })
  assert.is(s.firstIndex(), 11)
  assert.is(s.lastIndex(), 10)
  assert.is(s.term(10), 4)
})

const log = suite('RaftLog')

log('maybeAppend: matching prefix appends, mismatch returns -1, conflicts truncate the unstable tail', () => {
  const l = new RaftLog(new MemoryStorage())
  assert.is(l.maybeAppend(0, 0, 0, ents(1, [1, 1, 1])), 3)
  assert.is(l.maybeAppend(3, 2, 0, ents(4, [2])), -1)
  assert.is(l.maybeAppend(1, 1, 2, ents(2, [3, 3])), 3)
  assert.equal(l.allEntries().map((e) => e.term), [1, 3, 3])
  assert.is(l.committed, 2)
})

log('findConflictByTerm skips back to the last entry of a term <= the given one', () => {
  const s = new MemoryStorage()
  s.append(ents(1, [1, 1, 2, 2, 3, 3, 3]))
  const l = new RaftLog(s)
  assert.equal(l.findConflictByTerm(7, 2), { index: 4, term: 2 })
  assert.equal(l.findConflictByTerm(7, 1), { index: 2, term: 1 })
  assert.equal(l.findConflictByTerm(7, 5), { index: 7, term: 3 })
  assert.equal(l.findConflictByTerm(7, 0), { index: 0, term: 0 })
})

log('slice spans storage and the unstable tail, honouring maxBytes', () => {
  const s = new MemoryStorage()
  s.append(ents(1, [1, 1, 1], 'x'.repeat(76)))
  const l = new RaftLog(s)
  l.append(ents(4, [2, 2, 2], 'x'.repeat(76)))
  assert.is(l.slice(2, 7, Infinity).length, 5)
  assert.is(l.slice(2, 7, 350).length, 3)
  assert.is(l.slice(5, 7, 1).length, 1)
  l.stableTo(6, 2)
  s.append(ents(4, [2, 2, 2], 'x'.repeat(76)))
  assert.is(l.unstable.entries.length, 0)
  assert.is(l.slice(1, 7, Infinity).length, 6)
})

log('stableTo ignores entries replaced since the Ready was handed out', () => {
  const l = new RaftLog(new MemoryStorage())
  l.append(ents(1, [1, 1]))
  l.append(ents(2, [2]))
  l.stableTo(2, 1) // stale: entry 2 now has term 2
  assert.is(l.unstable.entries.length, 2)
  l.stableTo(2, 2)
  assert.is(l.unstable.entries.length, 0)
})

log('nextCommittedEnts hands out committed, unapplied entries only', () => {
  const l = new RaftLog(new MemoryStorage())
  l.append(ents(1, [1, 1, 1]))
  l.commitTo(2)
  assert.equal(l.nextCommittedEnts().map((e) => e.index), [1, 2])
  l.appliedTo(2)
  assert.not.ok(l.hasNextCommittedEnts())
  assert.throws(() => l.commitTo(9))
})

log('nextCommittedEnts is bounded by maxCommittedBytesPerReady (at least one entry)', () => {
  const l = new RaftLog(new MemoryStorage(), 250)
  l.append(ents(1, [1, 1, 1, 1], 'x'.repeat(76)))
  l.commitTo(4)
  assert.equal(l.nextCommittedEnts().map((e) => e.index), [1, 2])
  l.appliedTo(2)
  assert.equal(l.nextCommittedEnts().map((e) => e.index), [3, 4])
})

storage.run()
log.run()
