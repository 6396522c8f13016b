// Starts and stops a local cluster (raftkv or a real etcd) for the bench: fresh data dirs,
// free 127.0.0.1 ports, identical etcd flags for both servers, child processes tracked by pid.
// It does not generate load; see workloads.ts.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { basename, join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { isRunning, spawnTracked, stopChild } from './procs.js'

export type Target = 'raftkv' | 'etcd'

let clusterSeq = 0 // every start gets fresh directories

/** How to start the cluster. */
export interface ClusterSpec {
  target: Target
  members: number
  /** Parent directory for data dirs and logs (removed by the caller). */
  workDir: string
  heartbeatMs: number
  electionMs: number
  snapshotCount: number
  /** Command (argv) that starts one raftkv member; etcd flags are appended. */
  raftkvCommand: string[]
  etcdPath: string
  /** Repository root (cwd for raftkv). */
  repoRoot: string
  /** When set, raftkv members run under `node --cpu-prof` writing here. */
  profileDir?: string
  startTimeoutMs?: number
  /** Server log level (default warn). */
  logLevel?: 'info' | 'warn'
}

/** One running member. */
export interface Member {
  name: string
  host: string
  clientPort: number
  peerPort: number
  logFile: string
  process: ChildProcess
}

/** A running cluster. */
export interface Cluster {
  target: Target
  members: Member[]
  /** Each member's data dir, in member order. */
  dataDirs: string[]
  /** Stops every member (SIGTERM) and starts it again on its data dir; resolves with the ms until all accept a write. */
  restart(): Promise<number>
  /** Stops every member (SIGTERM, then SIGKILL). Data dirs stay until the caller removes workDir. */
  stop(): Promise<void>
}

/** Finds `n` distinct free TCP ports on 127.0.0.1 (held open together, then released). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => resolve(s))
  })))
  const ports = servers.map((s) => (s.address() as { port: number }).port)
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  return ports
}

/** The etcd flags both servers get (same shape and settings). */
export function memberFlags(spec: ClusterSpec, names: string[], clientPorts: number[], peerPorts: number[], i: number, dataDir: string, token: string): string[] {
  const url = (p: number): string => `http://127.0.0.1:${p}`
  return [
    '--name', names[i],
    '--data-dir', dataDir,
    '--listen-client-urls', url(clientPorts[i]),
    '--advertise-client-urls', url(clientPorts[i]),
    '--listen-peer-urls', url(peerPorts[i]),
    '--initial-advertise-peer-urls', url(peerPorts[i]),
    '--initial-cluster', names.map((n, j) => `${n}=${url(peerPorts[j])}`).join(','),
    '--initial-cluster-state', 'new',
    '--initial-cluster-token', token,
    '--heartbeat-interval', String(spec.heartbeatMs),
    '--election-timeout', String(spec.electionMs),
    '--snapshot-count', String(spec.snapshotCount),
    '--enable-v2',
    '--logger', 'zap',
    '--log-level', spec.logLevel ?? 'warn',
  ]
}

/** Starts the cluster and waits until every member accepts a write. Throws with a log tail on failure. */
export async function startCluster(spec: ClusterSpec): Promise<Cluster> {
  const n = spec.members
  const ports = await freePorts(2 * n)
  const clientPorts = ports.slice(0, n)
  const peerPorts = ports.slice(n)
  const prefix = spec.target === 'etcd' ? 'etcd' : 'rk'
  const names = Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`)
  const token = `bench-${spec.target}-${n}-${process.pid}-${Date.now()}`
  const base = join(spec.workDir, `${spec.target}-${n}m-${++clusterSeq}`)
  mkdirSync(base, { recursive: true })
  const members: Member[] = []
  const dataDirs: string[] = []
  const launches: (() => ChildProcess)[] = []
  for (let i = 0; i < n; i++) {
    const dataDir = join(base, `${names[i]}.data`)
    const logFile = join(base, `${names[i]}.log`)
    const flags = memberFlags(spec, names, clientPorts, peerPorts, i, dataDir, token)
    let cmd: string
    let args: string[]
    if (spec.target === 'etcd') {
      cmd = spec.etcdPath
      args = flags
    } else {
      cmd = spec.raftkvCommand[0]
      args = [...spec.raftkvCommand.slice(1), ...flags]
      if (spec.profileDir !== undefined && (cmd === process.execPath || basename(cmd) === 'node')) {
        mkdirSync(spec.profileDir, { recursive: true })
        const exitHook = new URL('./profile-exit-hook.mjs', import.meta.url).pathname
        args = ['--cpu-prof', `--cpu-prof-dir=${spec.profileDir}`, '--import', exitHook, ...args]
      }
    }
    const launch = (): ChildProcess => {
      const fd = openSync(logFile, 'a')
      const child = spawnTracked(cmd, args, { cwd: spec.repoRoot, stdio: ['ignore', fd, fd], env: { ...process.env, FORCE_COLOR: '0' } })
      closeSync(fd)
      return child
    }
    launches.push(launch)
    dataDirs.push(dataDir)
    members.push({ name: names[i], host: '127.0.0.1', clientPort: clientPorts[i], peerPort: peerPorts[i], logFile, process: launch() })
  }
  const cluster: Cluster = {
    target: spec.target,
    members,
    dataDirs,
    async restart() {
      await this.stop()
      const t0 = performance.now()
      members.forEach((m, i) => { m.process = launches[i]() })
      await waitReady(members, spec.startTimeoutMs ?? 30000)
      return performance.now() - t0
    },
    async stop() { await Promise.all(members.map((m) => stopChild(m.process, spec.profileDir !== undefined ? 15000 : 5000))) },
  }
  try {
    await waitReady(members, spec.startTimeoutMs ?? 30000)
  } catch (err) {
    await cluster.stop()
    throw err
  }
  return cluster
}

/** A tiny one-shot HTTP request for setup (not for load). */
export function httpOnce(host: string, port: number, method: string, path: string, body?: string, timeoutMs = 5000): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) }
    const r = request({ host, port, method, path, headers, agent: false, timeout: timeoutMs }, (res) => {
      let data = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (data += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data, headers: res.headers }))
      res.on('error', reject)
    })
    r.on('timeout', () => r.destroy(new Error(`timeout after ${timeoutMs} ms: ${method} ${path}`)))
    r.on('error', reject)
    r.end(body)
  })
}

function tail(file: string, lines = 15): string {
  if (!existsSync(file)) return '(no log)'
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n')
}

async function waitReady(members: Member[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (const m of members) {
    let last = ''
    for (;;) {
      if (!isRunning(m.process)) {
        throw new Error(`${m.name} exited (code ${m.process.exitCode}, signal ${m.process.signalCode}) before it was ready; log ${m.logFile}:\n${tail(m.logFile)}`)
      }
      try {
        const r = await httpOnce(m.host, m.clientPort, 'PUT', `/v2/keys/bench-ready/${m.name}`, 'value=1', 2000)
        if (r.status === 200 || r.status === 201) break
        last = `HTTP ${r.status} ${r.body.slice(0, 200)}`
      } catch (err) {
        last = (err as Error).message
      }
      if (Date.now() > deadline) throw new Error(`${m.name} not ready after ${timeoutMs} ms (last: ${last}); log ${m.logFile}:\n${tail(m.logFile)}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}
