// Recipe-level rows of `npm run bench`: the SDK's recipes, not raw HTTP, on each running cluster
// of the same run: raftkv over v2, etcd over v2 and etcd over v3 (Go's concurrency layout).
//   lock:   `workers` clients contend on one Lock; one op = acquire + release; cycles/s and the
//           latency of a cycle (the wait behind the other holders included).
//   notify: a leader proclaims a new value, `observers` Election.observe() iterators see it;
//           latency = proclaim start -> the last observer has the value. The next proclaim starts
//           when every observer has the previous one.
// Asserts nothing.

import { Client, ClientV3 } from '../src/index.js'
import { Election, Lock } from '../recipes/index.js'
import type { AnyClient } from '../recipes/api.js'
import { percentile } from './recorder.js'

export interface RecipeRow {
  target: string
  api: 'v2' | 'v3'
  members: number
  lockCyclesPerSec: number
  lockP50Ms: number
  lockP99Ms: number
  notifyPerSec: number
  notifyP50Ms: number
  notifyP99Ms: number
  errors: number
}

export interface RecipeBenchOptions {
  durationMs: number
  /** Unmeasured lock cycles before the measured ones. */
  warmupMs: number
  workers: number
  observers: number
}

function clientOf(api: 'v2' | 'v3', endpoints: string[]): AnyClient {
  return api === 'v3' ? new ClientV3({ endpoints, timeout: 5000 }) : new Client({ endpoints, timeout: 5000 })
}

/** Runs both recipe workloads against one cluster over one API. */
export async function runRecipes(target: string, api: 'v2' | 'v3', members: number, endpoints: string[], o: RecipeBenchOptions): Promise<RecipeRow> {
  const clients: AnyClient[] = []
  const mk = (i: number): AnyClient => {
    // Spread the clients over the members, as the raw workloads do.
    const c = clientOf(api, [...endpoints.slice(i % endpoints.length), ...endpoints.slice(0, i % endpoints.length)])
    clients.push(c)
    return c
  }
  const run = `${Date.now().toString(36)}`
  let errors = 0
  try {
    // ---- lock cycles (after an unmeasured warm-up on another lock: a fresh member's code is not
    // optimised yet, which would count against whichever target runs first)
    const lockLat: number[] = []
    const lockLoop = (name: string, ms: number, record: boolean): Promise<unknown> => {
      const end = performance.now() + ms
      return Promise.all(Array.from({ length: o.workers }, async (_, i) => {
        const lock = new Lock(mk(i), name, { ttl: 10 })
        while (performance.now() < end) {
          const t0 = performance.now()
          try {
            const h = await lock.acquire({ timeout: 10_000 })
            await h.release()
            if (record) lockLat.push(performance.now() - t0)
          } catch {
            if (record) errors++
          }
        }
      }))
    }
    if (o.warmupMs > 0) await lockLoop(`/bench-recipes/${run}/warmup`, o.warmupMs, false)
    const lockStart = performance.now()
    await lockLoop(`/bench-recipes/${run}/lock`, o.durationMs, true)
    const lockSecs = (performance.now() - lockStart) / 1000

    // ---- watch notify through Election.observe()
    const ename = `/bench-recipes/${run}/elect`
    const lead = await new Election(mk(0), ename, { ttl: 10 }).campaign('v0')
    const ctl = new AbortController()
    const latest: string[] = Array.from({ length: o.observers }, () => '')
    let wake: () => void = () => {}
    const observing = Array.from({ length: o.observers }, async (_, i) => {
      try {
        for await (const l of new Election(mk(i + 1), ename).observe({ signal: ctl.signal })) {
          latest[i] = String(l?.value ?? '')
          wake()
        }
      } catch {
        // aborted at the end
      }
    })
    const allSee = (v: string): Promise<void> => new Promise((resolve) => {
      const check = (): void => { if (latest.every((x) => x === v)) resolve(); else wake = check }
      check()
    })
    await allSee('v0')
    const notifyLat: number[] = []
    const notifyStart = performance.now()
    const notifyEnd = notifyStart + o.durationMs
    for (let n = 1; performance.now() < notifyEnd; n++) {
      const v = `v${n}`
      const t0 = performance.now()
      try {
        await lead.proclaim(v)
        await allSee(v)
        notifyLat.push(performance.now() - t0)
      } catch {
        errors++
        break
      }
    }
    const notifySecs = (performance.now() - notifyStart) / 1000
    ctl.abort()
    await Promise.all(observing)
    await lead.resign()
    const lockS = Float64Array.from(lockLat).sort()
    const notifyS = Float64Array.from(notifyLat).sort()
    return {
      target, api, members,
      lockCyclesPerSec: lockLat.length / lockSecs, lockP50Ms: percentile(lockS, 0.5), lockP99Ms: percentile(lockS, 0.99),
      notifyPerSec: notifyLat.length / notifySecs, notifyP50Ms: percentile(notifyS, 0.5), notifyP99Ms: percentile(notifyS, 0.99),
      errors,
    }
  } finally {
    for (const c of clients) c.close()
  }
}

export function formatRecipes(rows: RecipeRow[], o: RecipeBenchOptions): string {
  const head = ['members', 'target', 'api', 'lock cyc/s', 'lock p50', 'lock p99', 'notify/s', 'notify p50', 'notify p99', 'errors']
  const lines = rows.map((r) => [
    String(r.members), r.target, r.api, r.lockCyclesPerSec.toFixed(0), r.lockP50Ms.toFixed(1), r.lockP99Ms.toFixed(1),
    r.notifyPerSec.toFixed(0), r.notifyP50Ms.toFixed(1), r.notifyP99Ms.toFixed(1), String(r.errors),
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const fmt = (cells: string[]): string => '  ' + cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [
    `recipes (SDK Lock and Election.observe, same run; ${o.workers} lock workers on one lock, ${o.observers} observers; ms):`,
    fmt(head),
    ...lines.map(fmt),
  ].join('\n')
}
