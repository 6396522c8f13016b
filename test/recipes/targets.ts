// Where the recipe suites run: every v2 backend of the client fixtures (raftkv, etcd with
// --enable-v2) and etcd's v3 API. RECIPE_APIS=v2 or v3 narrows the list.

import { ClientV3, Client } from '../../src/index.js'
import type { AnyClient } from '../../recipes/api.js'
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

/** A client of the target's API. */
export function clientFor(api: Api, endpoints: string[], timeout = 3000): AnyClient {
  return api === 'v3' ? new ClientV3({ endpoints, timeout }) : new Client({ endpoints, timeout })
}
