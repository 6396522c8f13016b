// `npm run bench:catch-up -- --keys N [--target raftkv|etcd|both] [--snapshot-count C] [--log-level info]`: loads N keys of 256 B into a
// 2-member cluster, adds a third member (POST /v2/members, then started with
// --initial-cluster-state existing) and, until the new member serves the last key, sends small
// PUTs and GET /v2/stats/self to the leader one after another. Reports how long the catch-up took,
// those requests' latencies, whether the leader's term changed, and the leader's RSS. Asserts nothing.
import http from 'node:http'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { freePorts, httpOnce, memberFlags, startCluster, type Cluster, type ClusterSpec, type Target } from './cluster.js'
import { spawnTracked, stopChild } from './procs.js'
import { percentile } from './recorder.js'

const repoRoot = resolve(new URL('..', import.meta.url).pathname)
const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt
}
const KEYS = Number(arg('keys', '100000'))
const TARGETS: Target[] = arg('target', 'both') === 'both' ? ['raftkv', 'etcd'] : [arg('target', 'raftkv') as Target]
const SNAPSHOT_COUNT = Number(arg('snapshot-count', '10000'))
const LOG_LEVEL = arg('log-level', 'warn') as 'info' | 'warn'
const VALUE = 'v'.repeat(256)

function rssMiB(pid: number | undefined): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))
    return m === null ? 0 : Number(m[1]) / 1024
  } catch {
    return 0
  }
}

async function load(port: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
  let next = 0
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < KEYS) {
      const i = next++
      await new Promise<void>((res, rej) => {
        const r = http.request({ host: '127.0.0.1', port, method: 'PUT', path: `/v2/keys/big/k${i}`, agent, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (resp) => {
          resp.resume()
          resp.on('end', () => (resp.statusCode === 200 || resp.statusCode === 201 ? res() : rej(new Error(`PUT k${i}: ${resp.statusCode}`))))
        })
        r.on('error', rej)
        r.end(`value=${VALUE}`)
      })
    }
  }))
  agent.destroy()
}

async function leaderOf(c: Cluster): Promise<number> {
  for (;;) {
    for (let i = 0; i < c.members.length; i++) {
      const r = await httpOnce('127.0.0.1', c.members[i].clientPort, 'GET', '/v2/stats/self').catch(() => undefined)
      if (r?.status === 200 && (JSON.parse(r.body) as { state: string }).state === 'StateLeader') return i
    }
    await new Promise((r) => setTimeout(r, 100))
  }
}

async function timed(fn: () => Promise<{ status: number }>): Promise<number> {
  const t = performance.now()
  const r = await fn()
  if (r.status >= 300) throw new Error(`status ${r.status}`)
  return performance.now() - t
}

function stats(xs: number[]): string {
  const s = Float64Array.from(xs).sort()
  return `n=${s.length} p50 ${percentile(s, 0.5).toFixed(1)} p99 ${percentile(s, 0.99).toFixed(1)} max ${(s[s.length - 1] ?? 0).toFixed(1)} ms`
}

async function run(target: Target, workDir: string): Promise<void> {
  const spec: ClusterSpec = {
    target, members: 2, workDir, heartbeatMs: 100, electionMs: 1000, snapshotCount: SNAPSHOT_COUNT, logLevel: LOG_LEVEL,
    raftkvCommand: [process.execPath, '--import', 'tsx', 'server/cli.ts'], etcdPath: '/usr/bin/etcd', repoRoot,
  }
  const c = await startCluster(spec)
  let added: ReturnType<typeof spawnTracked> | undefined
  try {
    const t0 = performance.now()
    await load(c.members[(await leaderOf(c))].clientPort)
    console.log(`${target}: loaded ${KEYS} keys in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    const leader = c.members[await leaderOf(c)]
    const termBefore = Number((await httpOnce(leader.host, leader.clientPort, 'GET', '/v2/keys/big/k0')).headers['x-raft-term'])
    // The third member, started like the others but joining an existing cluster.
    const [clientPort, peerPort] = await freePorts(2)
    const name = target === 'etcd' ? 'etcd3' : 'rk3'
    const add = await new Promise<number>((res, rej) => {
      const body = JSON.stringify({ peerURLs: [`http://127.0.0.1:${peerPort}`] })
      const r = http.request({ host: leader.host, port: leader.clientPort, method: 'POST', path: '/v2/members', headers: { 'content-type': 'application/json' } }, (resp) => {
        resp.resume()
        resp.on('end', () => res(resp.statusCode ?? 0))
      })
      r.on('error', rej)
      r.end(body)
    })
    if (add !== 201) throw new Error(`member add: ${add}`)
    const names = [...c.members.map((m) => m.name), name]
    const flags = memberFlags(spec, names, [...c.members.map((m) => m.clientPort), clientPort], [...c.members.map((m) => m.peerPort), peerPort], 2, join(workDir, `${target}-${name}.data`), 'unused')
    flags[flags.indexOf('--initial-cluster-state') + 1] = 'existing'
    const cmd = target === 'etcd' ? spec.etcdPath : spec.raftkvCommand[0]
    const args = target === 'etcd' ? flags : [...spec.raftkvCommand.slice(1), ...flags]
    const tAdd = performance.now()
    added = spawnTracked(cmd, args, { cwd: repoRoot, stdio: 'ignore' })
    const puts: number[] = []
    const reads: number[] = []
    let rssMax = 0
    let seq = 0
    for (;;) {
      puts.push(await timed(() => httpOnce(leader.host, leader.clientPort, 'PUT', '/v2/keys/small', `value=${++seq}`, 120_000)))
      reads.push(await timed(() => httpOnce(leader.host, leader.clientPort, 'GET', '/v2/stats/self', undefined, 120_000)))
      rssMax = Math.max(rssMax, rssMiB(leader.process.pid))
      const r = await httpOnce('127.0.0.1', clientPort, 'GET', `/v2/keys/big/k${KEYS - 1}`, undefined, 1000).catch(() => undefined)
      if (r?.status === 200) break
    }
    const caughtUpS = (performance.now() - tAdd) / 1000
    const termAfter = Number((await httpOnce(leader.host, leader.clientPort, 'GET', '/v2/keys/small')).headers['x-raft-term'])
    console.log(`${target}: new member served the last key ${caughtUpS.toFixed(1)} s after it was started (process start included)`)
    console.log(`${target}: leader PUT during catch-up ${stats(puts)}`)
    console.log(`${target}: leader GET /v2/stats/self during catch-up ${stats(reads)}`)
    // What the leader logged about snapshots meanwhile (raftkv: JSON lines; etcd: zap JSON).
    for (const line of readFileSync(leader.logFile, 'utf8').split('\n').slice(-400)) {
      if (/snapshot/i.test(line)) console.log(`${target}: leader log: ${line.slice(0, 300)}`)
    }
    console.log(`${target}: leader term ${termBefore} -> ${termAfter}${termAfter === termBefore ? ' (no election)' : ' (ELECTION)'}; leader RSS max ${rssMax.toFixed(0)} MiB`)
  } finally {
    if (added) await stopChild(added, 5000)
    await c.stop()
  }
}

const workDir = mkdtempSync(join(tmpdir(), 'raftkv-catchup-'))
try {
  for (const t of TARGETS) await run(t, workDir)
} finally {
  rmSync(workDir, { recursive: true, force: true })
}
