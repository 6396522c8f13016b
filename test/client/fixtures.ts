// Test fixture for the client SDK suites: starts a real etcd 3.4 (--enable-v2) or an in-process
// raftkv member on free 127.0.0.1 ports and stops exactly what it started (by pid). Also a
// "hanging" TCP server and a dead port for failover tests.
// Backends: CLIENT_BACKENDS=etcd,raftkv (default: etcd, plus raftkv when server/index.ts exists).

import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { reservePort } from '../support/ports.js'

export type Backend = 'etcd' | 'raftkv'
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd'

/** Backends to run the shared suite against. */
export function backends(): Backend[] {
  const env = process.env.CLIENT_BACKENDS
  if (env) return env.split(',').map((s) => s.trim()).filter((s): s is Backend => s === 'etcd' || s === 'raftkv')
  const out: Backend[] = []
  if (existsSync(ETCD_BIN)) out.push('etcd')
  if (existsSync(path.join(repoRoot, 'server/index.ts'))) out.push('raftkv')
  return out
}

/**
 * A port on 127.0.0.1 that no other test process can take (test/support's reservation, held
 * until this process exits), so a member can be started, killed and restarted on it.
 */
export function freePort(): Promise<number> {
  return reservePort()
}

export interface MemberHandle {
  name: string
  clientURL: string
  /** Kills this member (SIGKILL for etcd, close() for raftkv). */
  kill(): Promise<void>
  /** Starts it again on the same ports and data dir. */
  restart(): Promise<void>
  /** Freezes (SIGSTOP) / thaws (SIGCONT) the member: connections stay open, nothing answers. etcd only. */
  pause?(): void
  resume?(): void
}

export interface Cluster {
  backend: Backend
  /** Client URLs of all members. */
  endpoints: string[]
  members: MemberHandle[]
  /** Stops everything this fixture started and removes temp dirs. */
  close(): Promise<void>
}

export interface StartOptions {
  /** Number of members (default 1). */
  size?: number
  /** Serve CORS headers for any origin. */
  cors?: boolean
  /** Extra etcd flags (etcd backend only), e.g. `['--auth-token', 'simple']`. */
  etcdArgs?: string[]
}

/** Starts a cluster of the given backend. */
export function startCluster(backend: Backend, opts: StartOptions = {}): Promise<Cluster> {
  return backend === 'etcd' ? startEtcd(opts) : startRaftkv(opts)
}

/** Waits until `url`/v2/keys/ answers 200 (the member serves the keys API). */
export async function waitReady(url: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < until) {
    try {
      const res = await fetch(`${url}/v2/keys/?quorum=true`, { signal: AbortSignal.timeout(2000) })
      if (res.status === 200) return
      last = `status ${res.status}`
    } catch (err) {
      last = err
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${url} not ready: ${String(last)}`)
}

// ---- etcd ------------------------------------------------------------------------------------

interface EtcdProc { name: string; clientPort: number; peerPort: number; dataDir: string; proc?: ChildProcess; exited?: Promise<void> }

const children = new Set<ChildProcess>()
process.on('exit', () => {
  for (const c of children) try { process.kill(c.pid!, 'SIGKILL') } catch {}
})

async function startEtcd(opts: StartOptions): Promise<Cluster> {
  const size = opts.size ?? 1
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'raftkv-client-etcd-'))
  const procs: EtcdProc[] = []
  for (let i = 0; i < size; i++) {
    procs.push({ name: `t${i}`, clientPort: await freePort(), peerPort: await freePort(), dataDir: path.join(tmp, `t${i}`) })
  }
  const initialCluster = procs.map((p) => `${p.name}=http://127.0.0.1:${p.peerPort}`).join(',')
  const launch = (p: EtcdProc): void => {
    const args = [
      '--enable-v2', '--name', p.name, '--data-dir', p.dataDir,
      '--listen-client-urls', `http://127.0.0.1:${p.clientPort}`, '--advertise-client-urls', `http://127.0.0.1:${p.clientPort}`,
      '--listen-peer-urls', `http://127.0.0.1:${p.peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${p.peerPort}`,
      '--initial-cluster', initialCluster, '--initial-cluster-token', path.basename(tmp),
      '--heartbeat-interval', '50', '--election-timeout', '500', '--log-level', 'error',
      // etcd 3.4 serves CORS for '*' by default; ask for it explicitly anyway (2.x did not).
      ...(opts.cors ? ['--cors', '*'] : []),
      ...(opts.etcdArgs ?? []),
    ]
    const proc = spawn(ETCD_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    proc.stderr!.on('data', (d) => { stderr = (stderr + d).slice(-4000) })
    children.add(proc)
    p.proc = proc
    p.exited = new Promise((resolve) => proc.on('exit', () => { children.delete(proc); resolve() }))
    proc.on('exit', (code, sig) => {
      if (code && code !== 0 && !sig) process.stderr.write(`etcd ${p.name} exited ${code}: ${stderr}\n`)
    })
  }
  const kill = async (p: EtcdProc): Promise<void> => {
    if (p.proc && p.proc.exitCode === null && p.proc.signalCode === null) {
      p.proc.kill('SIGKILL')
      await p.exited
    }
  }
  procs.forEach(launch)
  const urls = procs.map((p) => `http://127.0.0.1:${p.clientPort}`)
  try {
    await Promise.all(urls.map((u) => waitReady(u)))
  } catch (err) {
    for (const p of procs) await kill(p)
    rmSync(tmp, { recursive: true, force: true })
    throw err
  }
  return {
    backend: 'etcd',
    endpoints: urls,
    members: procs.map((p, i) => ({
      name: p.name,
      clientURL: urls[i]!,
      kill: () => kill(p),
      restart: async () => { await kill(p); launch(p); await waitReady(urls[i]!) },
      pause: () => { p.proc?.kill('SIGSTOP') },
      resume: () => { p.proc?.kill('SIGCONT') },
    })),
    close: async () => {
      for (const p of procs) await kill(p)
      rmSync(tmp, { recursive: true, force: true })
    },
  }
}

// ---- raftkv (in-process) -----------------------------------------------------------------------

interface RaftkvHandle { url?: string; close(): Promise<void> | void }
type StartServer = (config: unknown) => Promise<RaftkvHandle>

/**
 * Starts raftkv members in this process via `startServer` from server/index.ts, configured through
 * the same etcd-style flags the CLI takes (server/config.ts parseArgs).
 */
async function startRaftkv(opts: StartOptions): Promise<Cluster> {
  const size = opts.size ?? 1
  const serverMod = (await import(path.join(repoRoot, 'server/index.ts'))) as { startServer: StartServer }
  const configMod = (await import(path.join(repoRoot, 'server/config.ts'))) as { parseArgs: (argv: string[], env?: Record<string, string | undefined>) => unknown }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'raftkv-client-raftkv-'))
  const procs: { name: string; clientPort: number; peerPort: number; dataDir: string; handle?: RaftkvHandle }[] = []
  for (let i = 0; i < size; i++) {
    procs.push({ name: `t${i}`, clientPort: await freePort(), peerPort: await freePort(), dataDir: path.join(tmp, `t${i}`) })
  }
  const initialCluster = procs.map((p) => `${p.name}=http://127.0.0.1:${p.peerPort}`).join(',')
  const launch = async (p: (typeof procs)[number]): Promise<void> => {
    const argv = [
      '--name', p.name, '--data-dir', p.dataDir,
      '--listen-client-urls', `http://127.0.0.1:${p.clientPort}`, '--advertise-client-urls', `http://127.0.0.1:${p.clientPort}`,
      '--listen-peer-urls', `http://127.0.0.1:${p.peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${p.peerPort}`,
      '--initial-cluster', initialCluster, '--heartbeat-interval', '50', '--election-timeout', '500',
      ...(opts.cors ? ['--cors', '*'] : []),
    ]
    p.handle = await serverMod.startServer(configMod.parseArgs(argv, {}))
  }
  const kill = async (p: (typeof procs)[number]): Promise<void> => {
    const h = p.handle
    p.handle = undefined
    if (h) await h.close()
  }
  await Promise.all(procs.map(launch))
  const urls = procs.map((p) => `http://127.0.0.1:${p.clientPort}`)
  try {
    await Promise.all(urls.map((u) => waitReady(u)))
  } catch (err) {
    for (const p of procs) await kill(p)
    throw err
  }
  return {
    backend: 'raftkv',
    endpoints: urls,
    members: procs.map((p, i) => ({
      name: p.name,
      clientURL: urls[i]!,
      kill: () => kill(p),
      restart: async () => { await kill(p); await launch(p); await waitReady(urls[i]!) },
    })),
    close: async () => {
      for (const p of procs) await kill(p)
      rmSync(tmp, { recursive: true, force: true })
    },
  }
}

// ---- failure doubles -------------------------------------------------------------------------

/** A TCP server that accepts connections and never answers. */
export async function startHangingServer(): Promise<{ url: string; connections: () => number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>()
  let count = 0
  const server = net.createServer((s) => {
    count++
    sockets.add(s)
    s.on('error', () => {})
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as net.AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => count,
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()) }),
  }
}

/** A URL on which nothing listens (connection refused). */
export async function deadEndpoint(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`
}

/** Rejects after `ms` so a test can never hang. */
export function within<T>(ms: number, p: Promise<T>, what = 'operation'): Promise<T> {
  let t: ReturnType<typeof setTimeout>
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<never>((_, reject) => { t = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms) }),
  ])
}
