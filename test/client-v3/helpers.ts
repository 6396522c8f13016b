// Small helpers of the v3 client tests.

import type { Test } from 'uvu'
import { ClientV3 } from '../../src/index.js'
import { startCluster, withCluster, type Cluster, type StartOptions } from '../client/fixtures.js'

/**
 * Starts one etcd for the suite's tests and a ClientV3 on it (5 s timeout); `ready` receives both.
 * The client is closed and etcd stopped after the tests.
 */
export function withEtcdV3(test: Test, ready: (cluster: Cluster, c: ClientV3) => void, opts: StartOptions = {}): void {
  let c: ClientV3 | undefined
  withCluster(test, () => startCluster('etcd', opts), (up) => {
    c = new ClientV3({ endpoints: up.endpoints, timeout: 5000 })
    ready(up, c)
  }, () => c?.close())
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Polls `cond` until it holds; throws after `ms` and stops polling (so a failed test can exit). */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string, everyMs = 10): Promise<void> {
  const until = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`${what} did not happen within ${ms} ms`)
    await sleep(everyMs)
  }
}
