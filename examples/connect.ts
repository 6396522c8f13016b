// How the examples connect: ETCD_ENDPOINTS (default http://127.0.0.1:2379) and RAFTKV_API=v3 to
// run the same recipe code on etcd's v3 API (a ClientV3) instead of the v2 API (a Client).

import { Client, ClientV3 } from '../src/index.js'

export const endpoints = (process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',')

export function connect(opts: { timeout?: number } = {}): Client | ClientV3 {
  return process.env.RAFTKV_API === 'v3' ? new ClientV3({ endpoints, ...opts }) : new Client({ endpoints, ...opts })
}
