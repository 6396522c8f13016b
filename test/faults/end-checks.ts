// End-of-run checks on a healed cluster: linearizability of the register history, no lost
// acknowledged append, every member converged to the same store, progress after every fault, and
// no member crashing on its own. Each check returns one result line; none of them mutates data.

import { checkHistory } from './checker.js'
import type { Cluster } from './cluster.js'
import type { History } from './history.js'
import type { FaultRecord } from './nemesis.js'
import { v2Request } from './v2-client.js'
import { queueDir } from './workload.js'
import { sleep } from '../support/wait.js'

/** The result of one check: a name, pass/fail and a one-line summary (plus detail lines). */
export interface CheckLine {
  name: string
  ok: boolean
  summary: string
  details?: string[]
}


/** The register history must be linearizable, key by key. */
export function checkLinearizable(history: History, maxSteps?: number): CheckLine {
  const regs = history.registers
  const count = (o: string) => regs.filter((e) => e.outcome === o).length
  const started = Date.now()
  const res = checkHistory(regs, maxSteps !== undefined ? { maxSteps } : {})
  const bad = res.keys.filter((k) => !k.ok)
  const timedOut = bad.filter((k) => k.timedOut)
  const details = [
    ...bad.filter((k) => !k.timedOut).map((k) => k.explanation ?? `key ${k.key}: not linearizable`),
    ...timedOut.map((k) => `key ${k.key}: search budget exhausted (${k.ops} ops): inconclusive`),
    ...res.indexConflicts,
  ]
  return {
    name: 'linearizable',
    ok: res.ok,
    summary: `${res.keys.length} keys (up to ${Math.max(0, ...res.keys.map((k) => k.ops))} ops each), ${regs.length} register ops (ok ${count('ok')}, fail ${count('fail')}, unknown ${count('unknown')}); ${bad.length - timedOut.length} non-linearizable keys, ${timedOut.length} inconclusive, ${res.indexConflicts.length} index conflicts; checked in ${Date.now() - started} ms`,
    details,
  }
}

/** Reads the queue directory through a quorum read on any member (retrying while the cluster settles). */
async function readQueue(cluster: Cluster, prefix: string): Promise<{ key: string; value: string }[] | undefined> {
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    for (const i of cluster.available()) {
      const r = await v2Request(cluster.clientUrl(i), 'GET', queueDir(prefix), { recursive: true, sorted: true, quorum: true }, 3000)
      if (r.outcome === 'ok') return ((r.node?.nodes ?? []) as { key: string; value: string }[]).map((n) => ({ key: n.key, value: n.value }))
      if (r.outcome === 'fail' && r.errorCode === 100) return []
    }
    await sleep(200)
  }
  return undefined
}

/** Every acknowledged append must be present, under the key the server reported, exactly once. */
export async function checkAppends(cluster: Cluster, history: History, prefix: string): Promise<CheckLine> {
  const acked = history.appends.filter((a) => a.outcome === 'ok')
  const unknown = history.appends.filter((a) => a.outcome === 'unknown')
  const nodes = await readQueue(cluster, prefix)
  if (!nodes) return { name: 'appends', ok: false, summary: 'could not read the queue directory through any member' }
  const byValue = new Map<string, string[]>()
  for (const n of nodes) byValue.set(n.value, [...(byValue.get(n.value) ?? []), n.key])
  const attempted = new Set(history.appends.map((a) => a.value))
  const details: string[] = []
  for (const a of acked) {
    const keys = byValue.get(a.value)
    if (!keys) details.push(`lost: acknowledged append ${a.value} (#${a.id} via ${a.member}, key ${a.createdKey}) is missing`)
    else if (a.createdKey && !keys.includes(a.createdKey)) details.push(`moved: append ${a.value} acknowledged as ${a.createdKey} but stored at ${keys.join(', ')}`)
  }
  for (const [v, keys] of byValue) {
    if (keys.length > 1) details.push(`duplicated: ${v} stored ${keys.length} times (${keys.join(', ')})`)
    if (!attempted.has(v)) details.push(`phantom: ${v} stored but never appended`)
  }
  const unknownPresent = unknown.filter((a) => byValue.has(a.value)).length
  return {
    name: 'appends',
    ok: details.length === 0,
    summary: `${acked.length} acknowledged, ${nodes.length} stored, ${details.length} anomalies; ${unknown.length} unknown of which ${unknownPresent} took effect; ${history.appends.filter((a) => a.outcome === 'fail').length} failed`,
    details: details.slice(0, 20),
  }
}

/** Every member serves the same tree under prefix, through quorum reads and through local reads. */
export async function checkConverged(cluster: Cluster, prefix: string, timeoutMs = 20_000): Promise<CheckLine> {
  const snapshot = async (i: number, quorum: boolean): Promise<string | undefined> => {
    const r = await v2Request(cluster.clientUrl(i), 'GET', prefix, quorum ? { recursive: true, sorted: true, quorum: true } : { recursive: true, sorted: true }, 5000)
    return r.outcome === 'ok' ? JSON.stringify(r.node) : undefined
  }
  const members = cluster.members.map((m) => m.index)
  const deadline = Date.now() + timeoutMs
  let last: (string | undefined)[] = []
  let mode = 'quorum'
  for (const quorum of [true, false]) {
    mode = quorum ? 'quorum' : 'local'
    for (;;) {
      last = await Promise.all(members.map((i) => snapshot(i, quorum)))
      if (last.every((s) => s !== undefined && s === last[0])) break
      if (Date.now() > deadline) {
        const differ = members.filter((i) => last[i] !== last[0]).map((i) => cluster.members[i]!.name)
        return { name: 'converged', ok: false, summary: `${mode} reads differ after ${timeoutMs / 1000} s: ${cluster.members[0]!.name} vs ${differ.join(', ')}`, details: last.map((s, i) => `${cluster.members[i]!.name}: ${s === undefined ? 'unreadable' : `${s.length} bytes, hash ${hash(s)}`}`) }
      }
      await sleep(250)
    }
  }
  const leaves = (last[0]!.match(/"value":/g) ?? []).length
  return { name: 'converged', ok: true, summary: `${members.length} members identical through quorum and local recursive reads (${leaves} keys, ${last[0]!.length} bytes)` }
}

function hash(s: string): string {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return (h >>> 0).toString(16)
}

/** After every healed fault a write must have committed. */
export function checkProgress(faults: FaultRecord[], finalWriteOk: boolean): CheckLine {
  const stuck = faults.filter((f) => f.recoveryMs === undefined)
  const times = faults.map((f) => f.recoveryMs).filter((x): x is number => x !== undefined)
  const max = times.length ? Math.max(...times) : 0
  const mean = times.length ? Math.round(times.reduce((a, b) => a + b, 0) / times.length) : 0
  return {
    name: 'progress',
    ok: stuck.length === 0 && finalWriteOk,
    summary: `${faults.length - stuck.length}/${faults.length} healed faults followed by a committed write (mean ${mean} ms, max ${max} ms after heal); final write ${finalWriteOk ? 'ok' : 'FAILED'}`,
    details: stuck.map((f) => `no progress after fault #${f.n}: ${f.description}`),
  }
}

/** No member may exit unless the nemesis killed it. */
export function checkNoCrash(cluster: Cluster): CheckLine {
  return { name: 'no-crash', ok: cluster.crashes.length === 0, summary: `${cluster.crashes.length} unexpected member exits`, details: [...cluster.crashes] }
}

/** Every member lists the same n members (so they formed ONE cluster, not n single-member ones). */
export async function checkClusterFormed(cluster: Cluster): Promise<CheckLine> {
  const n = cluster.members.length
  const views = await Promise.all(
    cluster.members.map(async (m) => {
      const r = await cluster.getJson(m.index, '/v2/members', 2000)
      const list = (r?.body as { members?: { id: string }[] } | undefined)?.members
      return list ? list.map((x) => x.id).sort().join(',') : undefined
    }),
  )
  const leaders = await cluster.leaders()
  const counts = views.map((v) => (v === undefined ? 'unreadable' : String(v.split(',').length)))
  const ok = views.every((v) => v !== undefined && v === views[0] && v.split(',').length === n) && leaders.length <= 1
  return {
    name: 'cluster-formed',
    ok,
    summary: ok
      ? `${n} members list the same ${n} member ids; leader ${leaders.length === 1 ? cluster.members[leaders[0]!]!.name : 'not reported'}`
      : `members listed per member: ${counts.join(', ')} (expected ${n} everywhere, identical); ${leaders.length} members claim to be leader`,
  }
}
