// A real etcd member for the v3 recipe tests (the v3 JSON gateway needs no flag; --enable-v2 is
// added so the same member also serves the v2 recipes when a test compares the two), on reserved
// loopback ports, stopped by pid. Plus `etcdctl` v3 runs against it.

import { startChild, startEtcd, memberFlags, memberUrls, type Child } from '../support/procs.js'
import { scratchDir } from '../support/tmp.js'
import { until } from '../support/wait.js'

export const ETCDCTL = process.env.ETCDCTL_BIN ?? '/usr/bin/etcdctl'

export interface EtcdMember {
  url: string
  child: Child
  stop(): Promise<void>
}

export async function startEtcdV3(): Promise<EtcdMember> {
  const { clientUrl, peerUrl } = await memberUrls()
  const child = startEtcd([
    ...memberFlags({ name: 'r3', dataDir: scratchDir('recipes-v3-etcd'), clientUrl, peerUrl, initialCluster: `r3=${peerUrl}`, heartbeatMs: 50, electionMs: 500 }),
    '--enable-v2', '--log-level', 'error',
  ])
  await until(async () => {
    const r = await fetch(`${clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(2000) })
    await r.arrayBuffer()
    return r.status === 200
  }, 20_000, `etcd v3 at ${clientUrl}`, 100)
  return { url: clientUrl, child, stop: async () => { await child.kill() } }
}

/** `ETCDCTL_API=3 etcdctl --endpoints=<url> ...args` as a tracked child. */
export function etcdctl(url: string, args: string[]): Child {
  return startChild(ETCDCTL, [`--endpoints=${url}`, ...args], { env: { ...process.env, ETCDCTL_API: '3' } })
}
