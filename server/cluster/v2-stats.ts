// /v2/stats/self and /v2/stats/leader (STATS-1, STATS-2) of a Raft member, in etcd's shapes, from
// the member's role and leader and the counters PeerStats keeps.
import { NONE, Role, type NodeId } from '../raft/types.js'
import { formatId } from '../ids.js'
import { goDuration, rfc3339, type LeaderStats, type SelfStats } from '../server.js'
import type { PeerStats } from './peer-stats.js'

export interface SelfStatsInput {
  name: string
  id: NodeId
  role: Role
  lead: NodeId
  startMs: number
  /** Since when the current leader is known (startMs if never). */
  leaderSinceMs: number
  now: number
  peerStats: PeerStats
}

const STATE: Record<Role, SelfStats['state']> = {
  [Role.Leader]: 'StateLeader',
  [Role.Candidate]: 'StateCandidate',
  [Role.PreCandidate]: 'StatePreCandidate',
  [Role.Follower]: 'StateFollower',
}

export function formatSelfStats(i: SelfStatsInput): SelfStats {
  const s: SelfStats = {
    name: i.name,
    id: formatId(i.id),
    state: STATE[i.role] ?? 'StateFollower',
    startTime: rfc3339(i.startMs),
    leaderInfo: { leader: i.lead === NONE ? '' : formatId(i.lead), uptime: goDuration(i.now - i.leaderSinceMs), startTime: rfc3339(i.leaderSinceMs) },
    recvAppendRequestCnt: i.peerStats.recvAppend,
    sendAppendRequestCnt: i.peerStats.sendAppend,
  }
  const recv = i.peerStats.recvRates(i.now)
  if (recv.pkg > 0) {
    s.recvPkgRate = recv.pkg
    s.recvBandwidthRate = recv.bytes
  }
  const send = i.peerStats.sendRates(i.now)
  if (send.pkg > 0) {
    s.sendPkgRate = send.pkg
    s.sendBandwidthRate = send.bytes
  }
  return s
}

/** The leader's view of its followers (call only on the leader). */
export function formatLeaderStats(self: NodeId, voters: readonly NodeId[], peerStats: PeerStats): LeaderStats {
  const followers: LeaderStats['followers'] = {}
  for (const id of voters) {
    if (id === self) continue
    followers[formatId(id)] = peerStats.follower(id)
  }
  return { leader: formatId(self), followers }
}
