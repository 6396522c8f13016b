// The stale-read experiment: partition one follower away, keep writing through the majority and
// read from the isolated follower. Without quorum=true a v2 GET is served from the member's local
// store, so it returns old values and the checker must flag the history; with quorum=true the
// same reads cannot complete (unknown) and the history stays linearizable.
// Starts and always stops its own cluster.

import { Cluster, type ServerKind } from './cluster.js'
import { checkHistory, type CheckResult } from './checker.js'
import { History } from './history.js'
import { Prng } from '../support/prng.js'
import { Workload } from './workload.js'
import { sleep } from '../support/wait.js'

export interface StaleReadResult {
  quorumReads: boolean
  isolated: string
  ops: { ok: number; fail: number; unknown: number; total: number }
  /** Ok reads served by the isolated member. */
  readsFromIsolated: number
  check: CheckResult
}


/** Runs the experiment once; `quorumReads` picks the read mode of the readers. */
export async function runStaleReadExperiment(o: { server: ServerKind; quorumReads: boolean; seed?: number; partitionMs?: number; log?: (l: string) => void }): Promise<StaleReadResult> {
  const log = o.log ?? (() => {})
  const cluster = await Cluster.start({ server: o.server, nodes: 3, log })
  try {
    const leader = (await cluster.leader()) ?? 0
    const isolated = (leader + 1) % 3
    const majority = [0, 1, 2].filter((i) => i !== isolated)
    const history = new History()
    const workload = new Workload({
      urls: cluster.members.map((m) => cluster.clientUrl(m.index)),
      prefix: `/stale/s${o.seed ?? 1}`,
      clients: 4,
      keys: 1,
      appendShare: 0,
      keyLifetimeMs: 0,
      quorumReads: o.quorumReads,
      rand: new Prng(o.seed ?? 1),
      history,
      timeoutMs: 1000,
      // Clients 0-1 use the majority, clients 2-3 read and write through the isolated member.
      membersFor: (c) => (c < 2 ? majority : [isolated]),
    })
    const running = workload.run()
    await sleep(1000)
    log(`isolating ${cluster.members[isolated]!.name}`)
    cluster.net.partition([[isolated], majority])
    await sleep(o.partitionMs ?? 4000)
    cluster.net.heal()
    await sleep(1000)
    workload.stop()
    await running
    const name = cluster.members[isolated]!.name
    const readsFromIsolated = history.registers.filter((e) => e.member === name && e.op.f === 'read' && e.outcome === 'ok').length
    return { quorumReads: o.quorumReads, isolated: name, ops: history.counts(), readsFromIsolated, check: checkHistory(history.registers) }
  } finally {
    await cluster.shutdown()
  }
}
