// Majority quorum arithmetic: the committed index of a voter set and the outcome of a vote.
// Independent of raft.ts; pure functions over plain data. No I/O here.
import type { NodeId } from './types.js'

export type VoteResult = 'pending' | 'lost' | 'won'

// Scratch buffer for committedIndex: voter sets are tiny, so sort in place without allocating.
let scratch: number[] = new Array(8).fill(0)

/**
 * The largest index acknowledged by a majority of `voters`, where matchOf(id) is the highest index
 * known replicated on id (0 if unknown). Returns Infinity for an empty voter set (so that it never
 * constrains a joint configuration's minimum).
 */
export function committedIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  const n = voters.length
  if (n === 0) return Infinity
  if (scratch.length < n) scratch = new Array(n).fill(0)
  const srt = scratch
  // Insertion sort, ascending: n is small (3, 5, 7).
  for (let i = 0; i < n; i++) {
    const v = matchOf(voters[i]!)
    let j = i - 1
    while (j >= 0 && srt[j]! > v) {
      srt[j + 1] = srt[j]!
      j--
    }
    srt[j + 1] = v
  }
  // With ascending order, the value at n - (n/2 + 1) is held by at least a majority.
  return srt[n - (Math.floor(n / 2) + 1)]!
}

/**
 * Outcome of an election among `voters` given the votes received (true = granted). Won once a
 * majority granted, lost once a majority is out of reach, pending otherwise. An empty voter set wins
 * (convenient for joint configurations, as in etcd).
 */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return 'won'
  let granted = 0
  let rejected = 0
  let missing = 0
  for (const id of voters) {
    const v = votes.get(id)
    if (v === undefined) missing++
    else if (v) granted++
    else rejected++
  }
  const q = Math.floor(voters.length / 2) + 1
  if (granted >= q) return 'won'
  if (granted + missing >= q) return 'pending'
  return 'lost'
}

/** Size of a majority of n voters. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1
}
