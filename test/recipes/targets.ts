// Where the recipe suites run: every v2 backend of the client fixtures (raftkv, etcd with
// --enable-v2) and etcd's v3 API. RECIPE_APIS=v2 or v3 narrows the list.

import { suite, type Test } from 'uvu'
import { ClientV3, Client, type FetchLike } from '../../src/index.js'
import type { AnyClient } from '../../recipes/api.js'
import { killAll, type Worker } from './procs.js'
import { backends, startCluster } from '../client/fixtures.js'
import { haveEtcd } from '../support/paths.js'
import { startEtcdV3 } from '../recipes-v3/etcd.js'

export type Api = 'v2' | 'v3'

export interface Target {
  label: string
  api: Api
  start(): Promise<{ endpoints: string[]; close(): Promise<void> }>
}

export function targets(): Target[] {
  const apis = (process.env.RECIPE_APIS ?? 'v2,v3').split(',')
  const out: Target[] = []
  if (apis.includes('v2')) {
    for (const b of backends()) out.push({ label: `${b} v2`, api: 'v2', start: () => startCluster(b) })
  }
  if (apis.includes('v3') && haveEtcd()) {
    out.push({ label: 'etcd v3', api: 'v3', start: async () => { const m = await startEtcdV3(); return { endpoints: [m.url], close: m.stop } } })
  }
  return out
}

/** Client options a test may add: a fetch that drops or counts requests, no retries. */
export interface ClientExtra { fetch?: FetchLike; retry?: false }

/** A client of the target's API. */
export function clientFor(api: Api, endpoints: string[], timeout = 3000, extra: ClientExtra = {}): AnyClient {
  return api === 'v3' ? new ClientV3({ endpoints, timeout, ...extra }) : new Client({ endpoints, timeout, ...extra })
}

export interface TargetSuite {
  test: Test
  /** The running target's endpoints (once the suite's `before` ran). */
  endpoints(): string[]
  /** A new client of the target, closed after the suite. */
  newClient(extra?: ClientExtra): AnyClient
  /** Worker processes to kill after the suite. */
  workers: Worker[]
}

/**
 * The suite `${name} [${target.label}]`: starts the target before its tests; after them kills the
 * workers, closes every client made by newClient, and stops the target.
 */
export function targetSuite(name: string, target: Target, timeout = 3000): TargetSuite {
  const test = suite(`${name} [${target.label}]`)
  let cluster: { endpoints: string[]; close(): Promise<void> } | undefined
  const clients: AnyClient[] = []
  const workers: Worker[] = []
  const endpoints = (): string[] => {
    if (!cluster) throw new Error(`${target.label} is not started`)
    return cluster.endpoints
  }
  const newClient = (extra: ClientExtra = {}): AnyClient => {
    const c = clientFor(target.api, endpoints(), timeout, extra)
    clients.push(c)
    return c
  }
  test.before(async () => { cluster = await target.start() })
  test.after(async () => {
    await killAll(workers)
    for (const c of clients) c.close()
    await cluster?.close()
  })
  return { test, endpoints, newClient, workers }
}
