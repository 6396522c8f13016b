// The client workload of a fault run: several concurrent clients, each sending one request at a
// time to a random member: a CAS register on a few keys (quorum GET, PUT, CAS by prevValue and by
// prevIndex) and in-order appends to one directory. Every op goes into the History. Values are
// unique per write, which the checker relies on. Must not retry: one op = one request.

import { History, type RegisterOp } from './history.js'
import { Prng } from '../support/prng.js'
import { v2Request } from './v2-client.js'
import { sleep } from '../support/wait.js'

export interface WorkloadOptions {
  /** Client base URLs, one per member (index = member index). */
  urls: string[]
  /** Key prefix for this run, e.g. /faults/<run-id>. */
  prefix: string
  clients: number
  keys: number
  rand: Prng
  history: History
  timeoutMs?: number
  /** Think time between a client's ops, uniformly in [min, max] ms. */
  thinkMs?: [number, number]
  /** Share of ops that are appends (rest: register ops). */
  appendShare?: number
  /** Register reads use quorum=true (default). false is for the stale-read experiment only. */
  quorumReads?: boolean
  /**
   * Register keys are rotated: a key is used for about two lifetimes (current and previous
   * generation), which bounds the ops per key and keeps the exact linearizability search small
   * even with many unknown outcomes (default 5000 ms; 0 = never rotate).
   */
  keyLifetimeMs?: number
  /** Restricts which members a client may pick (default all). */
  membersFor?: (client: number) => number[]
}

/** Path of register key k of generation g. */
export const registerKey = (prefix: string, g: number, k: number) => `${prefix}/reg/g${g}-k${k}`
/** Directory of the append workload. */
export const queueDir = (prefix: string) => `${prefix}/queue`

/** Runs clients until stop() is called; run() resolves when every in-flight op has completed. */
export class Workload {
  private stopping = false
  constructor(readonly o: WorkloadOptions) {}

  stop(): void {
    this.stopping = true
  }

  async run(): Promise<void> {
    await Promise.all(Array.from({ length: this.o.clients }, (_, c) => this.client(c)))
  }

  private async client(c: number): Promise<void> {
    const { o } = this
    const rand = o.rand.fork(`client-${c}`)
    const timeoutMs = o.timeoutMs ?? 1500
    const [tmin, tmax] = o.thinkMs ?? [5, 30]
    // What this client last learned per key: a value and its modifiedIndex, to aim CAS at.
    const known = new Map<string, { value: string; index: number }>()
    const lifetime = o.keyLifetimeMs ?? 5000
    let seq = 0
    let lastRefused = false
    while (!this.stopping) {
      const members = o.membersFor ? o.membersFor(c) : o.urls.map((_, i) => i)
      const m = rand.pick(members)
      const url = o.urls[m]!
      const member = `n${m + 1}`
      if (rand.chance(o.appendShare ?? 0.25)) {
        const value = `a${c}-${seq++}`
        const e = o.history.invokeAppend(c, member, value)
        const r = await v2Request(url, 'POST', queueDir(o.prefix), { value }, timeoutMs)
        o.history.complete(e, r.outcome, r.detail)
        lastRefused = r.detail === 'refused'
        if (r.outcome === 'ok' && r.node?.key) e.createdKey = r.node.key
      } else {
        const gen = lifetime > 0 ? Math.floor(o.history.now() / lifetime) : 0
        // Mostly the current generation; sometimes the previous one, so that reads after a fault
        // still meet the values written during it.
        const g = gen > 0 && rand.chance(0.3) ? gen - 1 : gen
        const key = registerKey(o.prefix, g, rand.range(0, o.keys - 1))
        const last = known.get(key)
        const roll = rand.float()
        const value = `v${c}-${seq++}`
        let op: RegisterOp
        let params: Record<string, string | number | boolean>
        let method: 'GET' | 'PUT'
        if (roll < 0.4) {
          op = { f: 'read' }
          method = 'GET'
          params = o.quorumReads === false ? {} : { quorum: true }
        } else if (roll < 0.65 || !last) {
          op = { f: 'write', value }
          method = 'PUT'
          params = { value }
        } else if (roll < 0.85) {
          op = { f: 'cas', expect: last.value, value }
          method = 'PUT'
          params = { value, prevValue: last.value }
        } else {
          op = { f: 'cas', expect: last.value, value, byIndex: last.index }
          method = 'PUT'
          params = { value, prevIndex: last.index }
        }
        const e = o.history.invokeRegister(c, key, member, op)
        const r = await v2Request(url, method, key, params, timeoutMs)
        lastRefused = r.detail === 'refused'
        if (op.f === 'read') {
          if (r.outcome === 'ok') {
            e.readValue = r.node?.value ?? null
            if (r.node?.modifiedIndex !== undefined) e.modifiedIndex = r.node.modifiedIndex
          } else if (r.outcome === 'fail' && r.errorCode === 100) {
            // Key not found is a successful read of "absent".
            e.readValue = null
            o.history.complete(e, 'ok', r.detail)
            await sleep(rand.range(tmin, tmax))
            continue
          }
        } else if (r.outcome === 'ok' && r.node?.modifiedIndex !== undefined) {
          e.modifiedIndex = r.node.modifiedIndex
        }
        // A CAS rejected for any reason other than compare failed (101) / key missing (100), e.g. a
        // refused connection, did not observe the value: mark it so the checker ignores it.
        if (op.f === 'cas' && r.outcome === 'fail' && r.errorCode !== 101 && r.errorCode !== 100) e.rejected = true
        const outcome = r.outcome
        o.history.complete(e, outcome, r.detail)
        if (outcome === 'ok') {
          if (op.f === 'read') {
            if (e.readValue != null && e.modifiedIndex !== undefined) known.set(key, { value: e.readValue, index: e.modifiedIndex })
            else known.delete(key)
          } else if (e.modifiedIndex !== undefined) known.set(key, { value: op.value, index: e.modifiedIndex })
        } else if (outcome === 'fail' && op.f === 'cas') known.delete(key)
      }
      // Back off from a member that is down, so a dead member does not dominate the history.
      await sleep(lastRefused ? rand.range(100, 200) : rand.range(tmin, tmax))
    }
  }
}


/**
 * After healing: one quorum read of every register key the run touched, recorded in the history,
 * so that a write lost in recovery is caught even on keys nobody read again during the run.
 */
export async function finalReads(urls: string[], history: History, rand: Prng, client = 1000): Promise<void> {
  const keys = [...new Set(history.registers.map((e) => e.key))].sort()
  for (const key of keys) {
    const m = rand.range(0, urls.length - 1)
    const e = history.invokeRegister(client, key, `n${m + 1}`, { f: 'read' })
    const r = await v2Request(urls[m]!, 'GET', key, { quorum: true }, 5000)
    if (r.outcome === 'ok') {
      e.readValue = r.node?.value ?? null
      if (r.node?.modifiedIndex !== undefined) e.modifiedIndex = r.node.modifiedIndex
      history.complete(e, 'ok', r.detail)
    } else if (r.outcome === 'fail' && r.errorCode === 100) {
      e.readValue = null
      history.complete(e, 'ok', r.detail)
    } else history.complete(e, r.outcome, r.detail)
  }
}
