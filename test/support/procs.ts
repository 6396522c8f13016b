// Child processes for tests: one launcher for raftkv members (`node --import tsx server/cli.ts`),
// real etcd members and any other script. Every child is tracked by pid and signalled by pid only:
// killed when the test process exits, as a last resort. Output is kept (in memory or in a log
// file) so a failing test can show it.
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { cliPath, etcdBin, repoRoot } from './paths.js'
import { loopbackUrl, reservePort } from './ports.js'
import { until } from './wait.js'

/** How a child ended. */
export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface ChildOptions {
  cwd?: string
  /** The whole environment (default: this process's). */
  env?: NodeJS.ProcessEnv
  /** Append stdout and stderr to this file (they survive the test process); default: kept in memory. */
  logFile?: string
}

export interface Child {
  readonly proc: ChildProcess
  readonly pid: number
  /** Resolves when the child has exited. */
  readonly exited: Promise<Exit>
  /** Still running (not yet seen exiting). */
  running(): boolean
  /** Standard output so far (with logFile: stdout and stderr together). */
  stdout(): string
  /** Standard error so far (with logFile: empty, it is in stdout()). */
  stderr(): string
  /** Both streams; the last `tail` characters. */
  output(tail?: number): string
  /** Sends a signal to the child's pid if it still runs. */
  signal(sig: NodeJS.Signals): void
  /** SIGKILL (after SIGCONT, in case it was stopped) and wait for the exit. */
  kill(): Promise<Exit>
  /** Resolves once the output contains `text` (or matches it); rejects if the child exits first or after `ms`. */
  waitForOutput(text: string | RegExp, ms: number): Promise<void>
}

const live = new Set<ChildProcess>()
process.on('exit', () => {
  for (const p of live) if (p.pid !== undefined) try { process.kill(p.pid, 'SIGKILL') } catch {}
})

/** Starts `cmd args` (no shell), tracked for clean-up. */
export function startChild(cmd: string, args: string[], opts: ChildOptions = {}): Child {
  const fd = opts.logFile ? openSync(opts.logFile, 'a') : undefined
  const proc = spawn(cmd, args, {
    cwd: opts.cwd ?? repoRoot,
    env: opts.env ?? process.env,
    stdio: ['ignore', fd ?? 'pipe', fd ?? 'pipe'],
  })
  if (fd !== undefined) closeSync(fd)
  // A command that cannot start has no pid (reported by the throw below, not by an 'error' event).
  proc.on('error', () => {})
  if (proc.pid === undefined) throw new Error(`could not start ${cmd}`)
  live.add(proc)
  let out = ''
  let err = ''
  proc.stdout?.on('data', (d) => (out += String(d)))
  proc.stderr?.on('data', (d) => (err += String(d)))
  let done = false
  // 'close', not 'exit': the output is complete once the streams are closed.
  const exited = new Promise<Exit>((resolve) =>
    proc.once('close', (code, signal) => {
      done = true
      live.delete(proc)
      resolve({ code, signal })
    }),
  )
  const stdout = (): string => {
    if (!opts.logFile) return out
    try { return readFileSync(opts.logFile, 'utf8') } catch { return '' }
  }
  const child: Child = {
    proc,
    pid: proc.pid,
    exited,
    running: () => !done,
    stdout,
    stderr: () => err,
    output: (tail = Infinity) => (stdout() + err).slice(-tail),
    signal(sig) {
      if (!done) try { process.kill(proc.pid!, sig) } catch {}
    },
    async kill() {
      child.signal('SIGCONT')
      child.signal('SIGKILL')
      return exited
    },
    async waitForOutput(text, ms) {
      const seen = (): boolean => { const o = child.output(); return typeof text === 'string' ? o.includes(text) : text.test(o) }
      await until(() => {
        if (seen()) return true
        if (done) throw new Error('exited')
        return false
      }, ms, `output ${String(text)} from pid ${proc.pid}`).catch((e: Error) => {
        if (seen()) return
        throw new Error(`${e.message}${done ? ' (the process exited)' : ''}; output:\n${child.output(3000)}`)
      })
    },
  }
  return child
}

/** What a command that ran to its end did. */
export interface Ran extends Exit {
  stdout: string
  stderr: string
}

/** Runs `cmd args` to its end (SIGKILLed after `timeoutMs`) and collects its output. */
export async function runToEnd(cmd: string, args: string[], opts: ChildOptions & { timeoutMs?: number } = {}): Promise<Ran> {
  const child = startChild(cmd, args, opts)
  const timer = setTimeout(() => child.signal('SIGKILL'), opts.timeoutMs ?? 30_000)
  const exit = await child.exited
  clearTimeout(timer)
  return { ...exit, stdout: child.stdout(), stderr: child.stderr() }
}

/** Starts the raftkv CLI with `flags`. */
export function startRaftkv(flags: string[], opts: ChildOptions & { cli?: string } = {}): Child {
  return startChild(process.execPath, ['--import', 'tsx', opts.cli ?? cliPath, ...flags], opts)
}

/** Starts the real etcd with `flags` (add --enable-v2 for the v2 API). */
export function startEtcd(flags: string[], opts: ChildOptions = {}): Child {
  return startChild(etcdBin, flags, opts)
}

/** Starts `node --import tsx <script>` (a worker or tool written in TypeScript). */
export function startScript(script: string, args: string[] = [], opts: ChildOptions = {}): Child {
  return startChild(process.execPath, ['--import', 'tsx', script, ...args], opts)
}

/** What a member of a local cluster is started with (the same flags for raftkv and etcd). */
export interface MemberFlags {
  name: string
  dataDir: string
  clientUrl: string
  /** The peer URL it listens on. */
  peerUrl: string
  /** The peer URL it advertises (default peerUrl; a proxy in fault tests). */
  advertisePeerUrl?: string
  /** `name=peerUrl,...` */
  initialCluster: string
  state?: 'new' | 'existing'
  token?: string
  heartbeatMs?: number
  electionMs?: number
}

/** etcd's command-line flags for one member (raftkv takes the same). */
export function memberFlags(m: MemberFlags): string[] {
  const flags = [
    '--name', m.name, '--data-dir', m.dataDir,
    '--listen-client-urls', m.clientUrl, '--advertise-client-urls', m.clientUrl,
    '--listen-peer-urls', m.peerUrl, '--initial-advertise-peer-urls', m.advertisePeerUrl ?? m.peerUrl,
    '--initial-cluster', m.initialCluster, '--initial-cluster-state', m.state ?? 'new',
  ]
  if (m.token !== undefined) flags.push('--initial-cluster-token', m.token)
  if (m.heartbeatMs !== undefined) flags.push('--heartbeat-interval', String(m.heartbeatMs))
  if (m.electionMs !== undefined) flags.push('--election-timeout', String(m.electionMs))
  return flags
}

/** A client and a peer URL on reserved loopback ports (see ports.ts). */
export async function memberUrls(scheme: 'http' | 'https' = 'http'): Promise<{ clientUrl: string; peerUrl: string }> {
  return { clientUrl: loopbackUrl(await reservePort(), scheme), peerUrl: loopbackUrl(await reservePort(), scheme) }
}

/** `name=peerUrl,...` for --initial-cluster. */
export function initialCluster(members: readonly { name: string; peerUrl: string }[]): string {
  return members.map((m) => `${m.name}=${m.peerUrl}`).join(',')
}

/**
 * The client URLs a raftkv member bound, from its "ready to serve client requests" log line (so a
 * member can listen on port 0). Rejects if the member exits first or after `ms`.
 */
export async function readyUrls(child: Child, ms = 20_000): Promise<string[]> {
  await child.waitForOutput('ready to serve client requests', ms)
  for (const line of child.output().split('\n')) {
    if (!line.includes('ready to serve client requests')) continue
    try {
      const urls = (JSON.parse(line) as { clientUrls?: string[] }).clientUrls
      if (urls && urls.length > 0) return urls
    } catch {
      // a readable (TTY) line; not what a piped child writes
    }
  }
  throw new Error(`no clientUrls in the ready line of pid ${child.pid}:\n${child.output(2000)}`)
}

/** Waits until GET `url` answers 200 (any error or other status: not yet). */
export async function waitOk(url: string, ms = 20_000): Promise<void> {
  await until(async () => {
    const r = await fetch(url, { signal: AbortSignal.timeout(2000) })
    await r.arrayBuffer()
    if (r.status !== 200) throw new Error(`status ${r.status}`)
    return true
  }, ms, `GET ${url} answering 200`, 100)
}

/** Waits until the member at `url` serves a quorum read of the keys API, as a started member does. */
export function waitServing(url: string, ms = 20_000): Promise<void> {
  return waitOk(`${url}/v2/keys/?quorum=true`, ms)
}

/** A one-member real etcd 3.4 with the v2 API, as a reference server or discovery service. */
export interface EtcdServer {
  url: string
  child: Child
  dataDir: string
}

/**
 * Starts a fresh one-member etcd (--enable-v2) with its data in `dir`/`name`, on reserved ports,
 * ready once its cluster version is decided (the v2 auth API refuses requests before that).
 * The caller kills `child` (by pid, child.kill()) and removes `dir`.
 */
export async function startEtcdServer(dir: string, opts: { name?: string; flags?: string[]; logFile?: string; timeoutMs?: number } = {}): Promise<EtcdServer> {
  const name = opts.name ?? 'e1'
  const { clientUrl, peerUrl } = await memberUrls()
  const dataDir = path.join(dir, name)
  const child = startEtcd(
    ['--enable-v2', ...memberFlags({ name, dataDir, clientUrl, peerUrl, initialCluster: `${name}=${peerUrl}` }), '--log-level', 'error', ...(opts.flags ?? [])],
    opts.logFile ? { logFile: opts.logFile } : {},
  )
  try {
    await until(async () => {
      if (!child.running()) throw new Error(`etcd exited: ${child.output(2000)}`)
      const r = await fetch(clientUrl + '/version', { signal: AbortSignal.timeout(1000) })
      const v = (await r.json()) as { etcdcluster?: string }
      return r.status === 200 && v.etcdcluster !== undefined && v.etcdcluster !== 'not_decided'
    }, opts.timeoutMs ?? 20_000, `etcd at ${clientUrl} ready`, 100)
  } catch (err) {
    await child.kill()
    throw err
  }
  return { url: clientUrl, child, dataDir }
}
