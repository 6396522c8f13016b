// quorum.ts against a naive model over many random voter sets (property test, seeded).
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { committedIndex, majority, voteResult } from '../../server/raft/quorum.js'
import { Prng } from '../support/prng.js'

/** Naive: the largest index i such that a majority has match >= i. */
function naiveCommitted(matches: number[]): number {
  if (matches.length === 0) return Infinity
  let best = 0
  for (const candidate of matches) {
    const n = matches.filter((m) => m >= candidate).length
    if (n > matches.length / 2 && candidate > best) best = candidate
  }
  return best
}

/** Naive: won if granted > n/2, lost if rejected >= n/2 rounded up appropriately, else pending. */
function naiveVote(votes: (boolean | undefined)[]): string {
  const n = votes.length
  if (n === 0) return 'won'
  const yes = votes.filter((v) => v === true).length
  const no = votes.filter((v) => v === false).length
  if (2 * yes > n) return 'won'
  if (2 * (n - no) <= n) return 'lost'
  return 'pending'
}

const q = suite('quorum')

q('committedIndex equals the naive majority index on 20k random voter sets', () => {
  const r = new Prng(1)
  for (let k = 0; k < 20000; k++) {
    const n = r.range(1, 9)
    const ids = Array.from({ length: n }, (_, i) => `n${i}`)
    const match = new Map(ids.map((id) => [id, r.chance(0.2) ? 0 : r.intn(r.pick([3, 10, 1000]))]))
    const got = committedIndex(ids, (id) => match.get(id)!)
    assert.is(got, naiveCommitted([...match.values()]), `voters ${JSON.stringify([...match])}`)
  }
})

q('committedIndex of an empty configuration is Infinity; unknown voters count as 0', () => {
  assert.is(committedIndex([], () => 5), Infinity)
  assert.is(committedIndex(['a', 'b', 'c'], (id) => (id === 'a' ? 9 : 0)), 0)
  assert.is(committedIndex(['a', 'b', 'c'], (id) => (id === 'c' ? 0 : 9)), 9)
})

q('voteResult equals the naive tally on 20k random elections', () => {
  const r = new Prng(2)
  for (let k = 0; k < 20000; k++) {
    const n = r.range(0, 9)
    const ids = Array.from({ length: n }, (_, i) => `n${i}`)
    const votes = new Map<string, boolean>()
    const arr: (boolean | undefined)[] = []
    for (const id of ids) {
      const p = r.float()
      const v = p < 0.4 ? true : p < 0.7 ? false : undefined
      arr.push(v)
      if (v !== undefined) votes.set(id, v)
    }
    // Votes from non-voters never count.
    if (r.chance(0.3)) votes.set('outsider', true)
    assert.is(voteResult(ids, votes), naiveVote(arr), `votes ${JSON.stringify(arr)}`)
  }
})

q('majority sizes', () => {
  assert.equal([1, 2, 3, 4, 5, 6, 7].map(majority), [1, 2, 2, 3, 3, 4, 4])
})

q.run()
