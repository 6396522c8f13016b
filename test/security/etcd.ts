// Test helper: a fresh real etcd 3.4 (--enable-v2) on free loopback ports for differential tests,
// ready once its cluster version is known (the auth API refuses until then, AUTH-17). The caller
// kills the returned process (by its pid) and removes `dir`.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { freePort, sleep } from './tls-fixture.js'

export const ETCD = process.env.ETCD_BIN ?? '/usr/bin/etcd'

/** Whether a real etcd binary is available. */
export function haveEtcd(): boolean {
  return existsSync(ETCD)
}

/** Starts etcd with its data in `dir`/e1. */
export async function startEtcd(dir: string): Promise<{ url: string; proc: ChildProcess }> {
  const [c, p] = [await freePort(), await freePort()]
  const url = `http://127.0.0.1:${c}`
  const peer = `http://127.0.0.1:${p}`
  const proc = spawn(ETCD, ['--enable-v2', '--name', 'e1', '--data-dir', path.join(dir, 'e1'), '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `e1=${peer}`], { stdio: 'ignore' })
  const until = Date.now() + 15_000
  while (Date.now() < until) {
    try {
      const r = await fetch(url + '/version', { signal: AbortSignal.timeout(500) })
      const v = (await r.json()) as { etcdcluster: string }
      if (r.status === 200 && v.etcdcluster !== 'not_decided') return { url, proc }
    } catch {}
    await sleep(100)
  }
  proc.kill('SIGKILL')
  throw new Error('etcd did not start')
}
