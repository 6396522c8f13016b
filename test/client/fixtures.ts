// Test fixture for the client SDK suites: starts a real etcd 3.4 (--enable-v2) or an in-process
// raftkv member on reserved 127.0.0.1 ports (test/support/ports.ts) and stops exactly what it
// started (by pid). Also a
// "hanging" TCP server and a dead port for failover tests.
// Backends: CLIENT_BACKENDS=etcd,raftkv (default: etcd, plus raftkv when server/index.ts exists).

import { existsSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { suite, type Test } from 'uvu'
import * as assert from 'uvu/assert'
import { Client } from '../../src/index.js'
import { etcdBin, repoRoot } from '../support/paths.js'
import { deadUrl, loopbackUrl, reservePort } from '../support/ports.js'
import { initialCluster, memberFlags, startEtcd as startEtcdChild, waitServing, type Child } from '../support/procs.js'
import { removeDir, tempDir } from '../support/tmp.js'

export { repoRoot } from '../support/paths.js'
export { within } from '../support/wait.js'
export { etcdBin as ETCD_BIN } from '../support/paths.js'

export type Backend = 'etcd' | 'raftkv'

/** Backends to run the shared suite against. */
export function backends(): Backend[] {
  const env = process.env.CLIENT_BACKENDS
  if (env) return env.split(',').map((s) => s.trim()).filter((s): s is Backend => s === 'etcd' || s === 'raftkv')
  const out: Backend[] = []
  if (existsSync(etcdBin)) out.push('etcd')
  if (existsSync(path.join(repoRoot, 'server/index.ts'))) out.push('raftkv')
  return out
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

/** Waits until `url` serves a quorum read of the keys API. */
export function waitReady(url: string, timeoutMs = 20_000): Promise<void> {
  return waitServing(url, timeoutMs)
}

/**
 * Starts a cluster before the suite's tests and stops it after them: `up` receives it (make the
 * suite's clients there), `down` runs first at the end (close them).
 */
export function withCluster(test: Test, start: () => Promise<Cluster>, up: (c: Cluster) => void, down: () => void = () => {}): void {
  let cluster: Cluster | undefined
  test.before(async () => {
    cluster = await start()
    up(cluster)
  })
  test.after(async () => {
    down()
    await cluster?.close()
  })
}

/**
 * The suite `${name} [${backend}]` on a fresh cluster of `backend`: `up` receives the cluster and a
 * client of it (5 s timeout) before the tests; the client is closed after them.
 */
export function clientSuite(name: string, backend: Backend, up: (cluster: Cluster, client: Client) => void): Test {
  const test = suite(`${name} [${backend}]`)
  let client: Client | undefined
  withCluster(test, () => startCluster(backend), (c) => {
    client = new Client({ endpoints: c.endpoints, timeout: 5000 })
    up(c, client)
  }, () => client?.close())
  return test
}

// ---- etcd ------------------------------------------------------------------------------------

/** A member's name, reserved ports and data dir (kept across restarts). */
interface MemberSlot { name: string; clientPort: number; peerPort: number; dataDir: string }

async function memberSlots(size: number, tmp: string): Promise<MemberSlot[]> {
  const out: MemberSlot[] = []
  for (let i = 0; i < size; i++) out.push({ name: `t${i}`, clientPort: await reservePort(), peerPort: await reservePort(), dataDir: path.join(tmp, `t${i}`) })
  return out
}

/** etcd-style flags of one member of `all` (raftkv and etcd take the same). */
function slotFlags(p: MemberSlot, all: MemberSlot[], token: string): string[] {
  return memberFlags({
    name: p.name, dataDir: p.dataDir, clientUrl: loopbackUrl(p.clientPort), peerUrl: loopbackUrl(p.peerPort),
    initialCluster: initialCluster(all.map((x) => ({ name: x.name, peerUrl: loopbackUrl(x.peerPort) }))),
    token, heartbeatMs: 50, electionMs: 500,
  })
}

interface EtcdProc extends MemberSlot { proc?: Child }

async function startEtcd(opts: StartOptions): Promise<Cluster> {
  const tmp = tempDir('client-etcd')
  const procs: EtcdProc[] = await memberSlots(opts.size ?? 1, tmp)
  const launch = (p: EtcdProc): void => {
    // etcd 3.4 serves CORS for '*' by default; ask for it explicitly anyway (2.x did not).
    const proc = startEtcdChild(['--enable-v2', ...slotFlags(p, procs, path.basename(tmp)), '--log-level', 'error', ...(opts.cors ? ['--cors', '*'] : []), ...(opts.etcdArgs ?? [])])
    p.proc = proc
    void proc.exited.then(({ code, signal }) => {
      if (code && code !== 0 && !signal) process.stderr.write(`etcd ${p.name} exited ${code}: ${proc.stderr().slice(-4000)}\n`)
    })
  }
  const kill = async (p: EtcdProc): Promise<void> => {
    await p.proc?.kill()
  }
  procs.forEach(launch)
  return asCluster('etcd', tmp, procs, launch, kill, (p) => ({
    pause: () => { p.proc?.signal('SIGSTOP') },
    resume: () => { p.proc?.signal('SIGCONT') },
  }))
}

/** Waits until every member serves, then wraps them as a Cluster (stops them all if one fails to come up). */
async function asCluster<P extends MemberSlot>(
  backend: Backend,
  tmp: string,
  procs: P[],
  launch: (p: P) => void | Promise<void>,
  kill: (p: P) => Promise<void>,
  more: (p: P) => Partial<MemberHandle> = () => ({}),
): Promise<Cluster> {
  const urls = procs.map((p) => loopbackUrl(p.clientPort))
  const close = async (): Promise<void> => {
    for (const p of procs) await kill(p)
    removeDir(tmp)
  }
  try {
    await Promise.all(urls.map((u) => waitReady(u)))
  } catch (err) {
    await close()
    throw err
  }
  return {
    backend,
    endpoints: urls,
    members: procs.map((p, i) => ({
      name: p.name,
      clientURL: urls[i]!,
      kill: () => kill(p),
      restart: async () => { await kill(p); await launch(p); await waitReady(urls[i]!) },
      ...more(p),
    })),
    close,
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
  const tmp = tempDir('client-raftkv')
  const procs: (MemberSlot & { handle?: RaftkvHandle })[] = await memberSlots(size, tmp)
  const launch = async (p: (typeof procs)[number]): Promise<void> => {
    const argv = [...slotFlags(p, procs, 'etcd-cluster'), ...(opts.cors ? ['--cors', '*'] : [])]
    p.handle = await serverMod.startServer(configMod.parseArgs(argv, {}))
  }
  const kill = async (p: (typeof procs)[number]): Promise<void> => {
    const h = p.handle
    p.handle = undefined
    if (h) await h.close()
  }
  await Promise.all(procs.map(launch))
  return asCluster('raftkv', tmp, procs, launch, kill)
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
export function deadEndpoint(): Promise<string> {
  return deadUrl()
}

/** Runs `fn` and returns what it threw (fails the test if it did not throw). */
export async function rejection(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn()
  } catch (err) {
    return err
  }
  throw new assert.Assertion({ message: 'expected a rejection', generated: false, operator: 'rejects', expects: 'error', actual: 'resolved' })
}
