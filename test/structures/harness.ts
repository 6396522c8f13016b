// Shared set-up of the multi-process data-structure tests: one target (raftkv's v2 API, or a real etcd's
// v3 or v2 API), a client in the test process, worker processes (worker.ts) stopped by pid.

import { suite, type Test } from 'uvu'
import * as assert from 'uvu/assert'
import type { AnyClient } from '../../recipes/api.js'
import { clientFor, targets, type Target } from '../recipes/targets.js'
import { killAll, startWorker, type Report, type Worker } from '../recipes/procs.js'

export interface Ctx {
  client: AnyClient
  target: Target
  endpoints: string[]
}

export interface SuiteTools {
  test: Test
  ctx: Ctx
  /** Starts a worker process with the given role config. */
  spawn(id: string, cfg: Record<string, unknown>): Worker
  /** The worker's `done` report (fails the test on `error` or when it does not come). */
  done(w: Worker, ms?: number): Promise<Report>
}

/** Where a multi-process suite runs: raftkv (v2 API), etcd's v3 API, or etcd's v2 API. */
export type Which = 'raftkv' | 'etcd' | 'etcd-v2'

/** Runs `body`'s tests on one backend; skipped when that backend is missing. */
export function structuresSuite(name: string, which: Which, body: (t: SuiteTools) => void): void {
  const target = targets().find((t) => t.label === { raftkv: 'raftkv v2', etcd: 'etcd v3', 'etcd-v2': 'etcd v2' }[which])
  if (!target) return
  const test = suite(`structures ${name} [${target.label}]`)
  let cluster: { endpoints: string[]; close(): Promise<void> } | undefined
  const ctx = { target } as Ctx
  const workers: Worker[] = []
  test.before(async () => {
    cluster = await target.start()
    ctx.endpoints = cluster.endpoints
    ctx.client = clientFor(target.api, cluster.endpoints, 10_000)
  })
  test.after(async () => {
    await killAll(workers)
    ctx.client?.close()
    await cluster?.close()
  })
  const spawn = (id: string, cfg: Record<string, unknown>): Worker => {
    const w = startWorker(id, { endpoints: ctx.endpoints, api: target.api, ...cfg }, 'test/structures/worker.ts')
    workers.push(w)
    return w
  }
  const done = async (w: Worker, ms = 40_000): Promise<Report> => {
    const r = await w.waitFor((r) => r.ev === 'done' || r.ev === 'error', ms, 'done')
    assert.is(r.ev, 'done', JSON.stringify(r))
    return r
  }
  body({ test, ctx, spawn, done })
  test.run()
}
