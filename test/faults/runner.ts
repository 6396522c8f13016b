// One fault-injection run: start a cluster, run the workload and the nemesis for a while, heal
// everything, run the end checks and print one line per check plus "N passed, N failed".
// Bounded in time; every process it starts is killed before it returns (or throws).

import { Cluster, type ServerKind } from './cluster.js'
import { checkAppends, checkClusterFormed, checkConverged, checkLinearizable, checkNoCrash, checkProgress, type CheckLine } from './end-checks.js'
import { History } from './history.js'
import { ALL_FAULTS, Nemesis, type FaultKind, type FaultRecord } from './nemesis.js'
import { Prng } from '../support/prng.js'
import { v2Request } from './v2-client.js'
import { finalReads, Workload } from './workload.js'
import { sleep } from '../support/wait.js'

export interface RunOptions {
  seed: number
  /** Seconds of workload under faults. */
  timeS: number
  nodes: number
  server: ServerKind
  clients?: number
  keys?: number
  faults?: readonly FaultKind[]
  /** Keep the data dir and logs: true always, false never, unset only when a check failed. */
  keep?: boolean
  log?: (line: string) => void
  /** How long members may take to converge after healing (default 20 s). */
  convergeTimeoutMs?: number
  /** Harness self-test only: run against n independent single-member servers (see cluster.ts). */
  independentMembers?: boolean
}

export interface RunReport {
  checks: CheckLine[]
  passed: number
  failed: number
  history: History
  faults: FaultRecord[]
  dir: string
}


/** Runs one seeded fault run and returns the report (also printed through log). */
export async function runFaults(o: RunOptions): Promise<RunReport> {
  const log = o.log ?? ((l: string) => console.log(l))
  const rand = new Prng(o.seed)
  const clients = o.clients ?? 6
  const keys = o.keys ?? 4
  const t0 = Date.now()
  const now = () => Date.now() - t0
  log(`faults: seed=${o.seed} server=${o.server} nodes=${o.nodes} time=${o.timeS}s clients=${clients} keys=${keys} faults=${(o.faults ?? ALL_FAULTS).join(',')}`)
  log(`replay: npm run test:faults -- --seed ${o.seed} --time ${o.timeS} --nodes ${o.nodes} --server ${o.server}`)
  const cluster = await Cluster.start({ server: o.server, nodes: o.nodes, log: (l) => log(`  ${l}`), ...(o.independentMembers ? { independentMembers: true } : {}) })
  log(`server: ${cluster.source}`)
  log(`cluster up in ${now()} ms; data and logs in ${cluster.dir}`)
  const checks: CheckLine[] = []
  const history = new History()
  const prefix = `/faults/s${o.seed}`
  let nemesis: Nemesis | undefined
  try {
    checks.push(await checkClusterFormed(cluster))
    const workload = new Workload({ urls: cluster.members.map((m) => cluster.clientUrl(m.index)), prefix, clients, keys, rand: rand.fork('workload'), history })
    nemesis = new Nemesis({ cluster, rand: rand.fork('nemesis'), progressKey: `${prefix}/progress`, log, now, ...(o.faults ? { faults: o.faults } : {}) })
    const running = workload.run()
    const nemesisDone = nemesis.run()
    await sleep(o.timeS * 1000)
    nemesis.stop()
    await nemesisDone
    // Heal anything left over, then let clients run on a healthy cluster for a moment.
    cluster.net.heal()
    for (const m of cluster.members) {
      if (!m.proc) cluster.restart(m.index)
      else if (m.stopped) cluster.resume(m.index)
    }
    log(`[${(now() / 1000).toFixed(1)}s] nemesis stopped after ${nemesis.records.length} faults; all healed`)
    await sleep(2000)
    workload.stop()
    await running
    const c = history.counts()
    log(`[${(now() / 1000).toFixed(1)}s] workload stopped: ${c.total} ops (ok ${c.ok}, fail ${c.fail}, unknown ${c.unknown})`)
    const healStart = Date.now()
    checks.push(
      await cluster.waitHealthy(30_000, cluster.members.map((m) => m.index)).then(
        () => ({ name: 'healthy', ok: true, summary: `every member serves quorum reads ${Date.now() - healStart} ms after the workload stopped` }),
        (err: Error) => ({ name: 'healthy', ok: false, summary: err.message }),
      ),
    )

    await finalReads(cluster.members.map((m) => cluster.clientUrl(m.index)), history, rand.fork('final-reads'))
    const final = await v2Request(cluster.clientUrl(rand.range(0, o.nodes - 1)), 'PUT', `${prefix}/progress`, { value: 'final' }, 5000)
    checks.push(checkLinearizable(history))
    checks.push(await checkAppends(cluster, history, prefix))
    checks.push(await checkConverged(cluster, prefix, o.convergeTimeoutMs))
    checks.push(checkProgress(nemesis.records, final.outcome === 'ok'))
    checks.push(checkNoCrash(cluster))
  } catch (err) {
    checks.push({ name: 'run', ok: false, summary: `run aborted: ${(err as Error).stack ?? err}` })
  } finally {
    const failed = checks.some((c) => !c.ok)
    await cluster.shutdown(o.keep ?? failed)
  }
  const passed = checks.filter((c) => c.ok).length
  const failed = checks.length - passed
  const c = history.counts()
  log('')
  for (const ch of checks) {
    log(`${ch.ok ? 'PASS' : 'FAIL'} ${ch.name}: ${ch.summary}`)
    for (const d of ch.details ?? []) log(`     ${d.split('\n').join('\n     ')}`)
  }
  const kinds = new Map<string, number>()
  for (const f of nemesis?.records ?? []) kinds.set(f.kind, (kinds.get(f.kind) ?? 0) + 1)
  log(`ops: ${c.total} (ok ${c.ok}, failed ${c.fail}, unknown ${c.unknown}); faults injected: ${nemesis?.records.length ?? 0} (${[...kinds].map(([k, v]) => `${k} ${v}`).join(', ')}); peer connections ${cluster.net.accepted}, unidentified ${cluster.net.unidentified}`)
  if (failed) log(`data and logs kept in ${cluster.dir}; seed ${o.seed}`)
  log(`${passed} passed, ${failed} failed`)
  return { checks, passed, failed, history, faults: nemesis?.records ?? [], dir: cluster.dir }
}
