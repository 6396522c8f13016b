// Starts and controls a local cluster of etcd or raftkv members as child processes for fault
// runs: ports, data dirs, peer proxies, health, leader lookup, kill -9 / restart, SIGSTOP/SIGCONT.
// Members are spawned directly (etcd or node, no shell) in the caller's process group and are
// signalled by pid only: on shutdown, on process exit as a last resort, and if the test runner
// kills the test's process group they go with it. It must never signal a process it did not start.

import { cpSync, mkdtempSync, mkdirSync, rmSync, symlinkSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { PeerNetwork, type PidTable } from './peer-proxy.js'
import { etcdBin, repoRoot } from '../support/paths.js'
import { loopbackUrl, reservePort } from '../support/ports.js'
import { memberFlags, startChild, type Child } from '../support/procs.js'
import { sleep } from '../support/wait.js'

export type ServerKind = 'etcd' | 'raftkv'

export interface ClusterOptions {
  server: ServerKind
  nodes: number
  heartbeatMs?: number
  electionMs?: number
  /** Parent for the run's temp dir (default os.tmpdir()). */
  baseDir?: string
  /** etcd binary (default /usr/bin/etcd or $ETCD_BIN). */
  etcdBin?: string
  log?: (line: string) => void
  /**
   * raftkv only: run the server from this tree as is. By default the run copies server/,
   * package.json and tsconfig.json from the repository into its temp dir at start, so every
   * incarnation (restarts included) runs the same code even while the working tree is edited.
   */
  sourceDir?: string
  /**
   * Harness self-test only: every member bootstraps as its own single-member cluster (n
   * independent servers posing as one), which every end check must notice.
   */
  independentMembers?: boolean
}

export interface Member {
  index: number
  name: string
  clientPort: number
  /** The member's real peer listener. */
  peerPort: number
  /** The proxy port everyone (including itself) lists as this member's peer URL. */
  proxyPort: number
  dataDir: string
  logFile: string
  proc: Child | undefined
  /** Promise resolving when the current incarnation exits. */
  exited: Promise<void> | undefined
  stopped: boolean
  starts: number
  /** Set while we kill it on purpose, so the exit is not counted as a crash. */
  killing: boolean
}

/** A running local cluster. Create with Cluster.start(). */
export class Cluster {
  readonly members: Member[] = []
  readonly pids: PidTable = new Map()
  readonly net = new PeerNetwork(this.pids)
  readonly dir: string
  /** Exits nobody asked for (a member died on its own), with time and exit status. */
  readonly crashes: string[] = []
  private shuttingDown = false
  private readonly log: (line: string) => void
  private readonly token = `faults-${process.pid}-${Date.now()}`
  /** Where raftkv runs from (a snapshot of the tree unless opts.sourceDir); describes its version. */
  private srcDir = repoRoot
  source = ''

  private constructor(readonly opts: ClusterOptions) {
    this.dir = mkdtempSync(path.join(opts.baseDir ?? os.tmpdir(), 'raftkv-faults-'))
    this.log = opts.log ?? (() => {})
  }

  /**
   * Reserves ports (test/support/ports.ts: no other test can take them), starts proxies and all
   * members, and waits until every member serves a quorum read.
   */
  static async start(opts: ClusterOptions, healthTimeoutMs = 30_000): Promise<Cluster> {
    const c = new Cluster(opts)
    try {
      if (opts.server === 'raftkv') c.snapshotSource()
      else c.source = opts.etcdBin ?? etcdBin
      for (let i = 0; i < opts.nodes; i++) {
        const name = `n${i + 1}`
        const dataDir = path.join(c.dir, name)
        mkdirSync(dataDir)
        const peerPort = await reservePort()
        const m: Member = { index: i, name, clientPort: await reservePort(), peerPort, proxyPort: 0, dataDir: path.join(dataDir, 'data'), logFile: path.join(dataDir, 'server.log'), proc: undefined, exited: undefined, stopped: false, starts: 0, killing: false }
        m.proxyPort = await c.net.listen(i, peerPort)
        c.members.push(m)
      }
      for (const m of c.members) c.spawn(m)
      await c.waitHealthy(healthTimeoutMs)
      return c
    } catch (err) {
      await c.shutdown(true)
      throw err
    }
  }

  private snapshotSource(): void {
    let rev = 'unknown revision'
    try {
      const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim()
      const dirty = execFileSync('git', ['status', '--porcelain', '--', 'server'], { cwd: repoRoot, encoding: 'utf8' }).trim()
      rev = `${head}${dirty ? ` + ${dirty.split('\n').length} uncommitted server/ changes` : ''}`
    } catch {
      // not a git checkout
    }
    if (this.opts.sourceDir) {
      this.srcDir = this.opts.sourceDir
      this.source = `raftkv from ${this.srcDir}`
      return
    }
    const dst = path.join(this.dir, 'raftkv-src')
    mkdirSync(dst)
    cpSync(path.join(repoRoot, 'server'), path.join(dst, 'server'), { recursive: true })
    for (const f of ['package.json', 'tsconfig.json']) cpSync(path.join(repoRoot, f), path.join(dst, f))
    symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dst, 'node_modules'))
    this.srcDir = dst
    this.source = `raftkv ${rev}, copied to ${dst}`
  }

  clientUrl(i: number): string {
    return `http://127.0.0.1:${this.members[i]!.clientPort}`
  }

  /** Members currently running and not SIGSTOPped. */
  available(): number[] {
    return this.members.filter((m) => m.proc && !m.stopped).map((m) => m.index)
  }

  private args(m: Member): string[] {
    const o = this.opts
    const cluster = this.members
      .filter((x) => !o.independentMembers || x === m)
      .map((x) => `${x.name}=${loopbackUrl(x.proxyPort)}`)
      .join(',')
    const a = memberFlags({
      name: m.name, dataDir: m.dataDir, clientUrl: loopbackUrl(m.clientPort),
      peerUrl: loopbackUrl(m.peerPort), advertisePeerUrl: loopbackUrl(m.proxyPort),
      initialCluster: cluster, token: this.token, heartbeatMs: o.heartbeatMs ?? 50, electionMs: o.electionMs ?? 500,
    })
    if (o.server === 'etcd') a.push('--enable-v2')
    return a
  }

  private spawn(m: Member): void {
    const [cmd, argv] =
      this.opts.server === 'etcd'
        ? [this.opts.etcdBin ?? etcdBin, this.args(m)]
        : [process.execPath, ['--import', 'tsx', path.join(this.srcDir, 'server', 'cli.ts'), ...this.args(m)]]
    const p = startChild(cmd, argv, { cwd: this.srcDir, logFile: m.logFile })
    m.proc = p
    m.stopped = false
    m.starts++
    this.pids.set(p.pid, m.index)
    m.exited = p.exited.then(({ code, signal: sig }) => {
      this.pids.delete(p.pid)
      if (m.proc === p) m.proc = undefined
      if (!m.killing && !this.shuttingDown) this.crashes.push(`${m.name} (pid ${p.pid}) exited on its own: code=${code} signal=${sig}; log ${m.logFile}`)
      m.killing = false
      this.log(`member ${m.name} (pid ${p.pid}) exited code=${code} signal=${sig}`)
    })
    this.log(`member ${m.name} started pid ${p.pid} (start #${m.starts})`)
  }

  /** kill -9 member i and wait for it to exit. */
  async kill(i: number): Promise<void> {
    const m = this.members[i]!
    if (!m.proc) return
    m.killing = true
    m.proc.signal('SIGKILL')
    await m.exited
    m.stopped = false
  }

  /** Starts member i again on its data dir (after kill). */
  restart(i: number): void {
    const m = this.members[i]!
    if (m.proc) throw new Error(`member ${m.name} is running`)
    this.spawn(m)
  }

  /** SIGSTOP member i (freezes it: no heartbeats, no replies, sockets stay open). */
  pause(i: number): void {
    const m = this.members[i]!
    if (!m.proc) return
    m.proc.signal('SIGSTOP')
    m.stopped = true
  }

  /** SIGCONT member i. */
  resume(i: number): void {
    const m = this.members[i]!
    if (!m.proc) return
    m.proc.signal('SIGCONT')
    m.stopped = false
  }

  /** GET a JSON path on member i with a timeout; undefined on any error. */
  async getJson(i: number, p: string, timeoutMs = 1000): Promise<{ status: number; body: unknown } | undefined> {
    try {
      const res = await fetch(this.clientUrl(i) + p, { signal: AbortSignal.timeout(timeoutMs) })
      const text = await res.text()
      let body: unknown = text
      try {
        body = JSON.parse(text)
      } catch {
        // not JSON
      }
      return { status: res.status, body }
    } catch {
      return undefined
    }
  }

  /** Member indexes that currently say they are the Raft leader (via /v2/stats/self). */
  async leaders(): Promise<number[]> {
    const res = await Promise.all(
      this.available().map(async (i) => {
        const r = await this.getJson(i, '/v2/stats/self', 500)
        const state = (r?.body as { state?: string } | undefined)?.state
        return state === 'StateLeader' || state === 'leader' ? i : -1
      }),
    )
    return res.filter((i) => i >= 0)
  }

  /** The leader, if exactly one member claims it; falls back to /v2/members/leader. */
  async leader(): Promise<number | undefined> {
    const ls = await this.leaders()
    if (ls.length === 1) return ls[0]
    for (const i of this.available()) {
      const r = await this.getJson(i, '/v2/members/leader', 500)
      const name = (r?.body as { name?: string } | undefined)?.name
      const m = this.members.find((x) => x.name === name)
      if (m) return m.index
    }
    return undefined
  }

  /** Waits until every running member answers a quorum read (so a leader exists and it is connected). */
  async waitHealthy(timeoutMs: number, members = this.available()): Promise<void> {
    const deadline = Date.now() + timeoutMs
    const pending = new Set(members)
    while (pending.size > 0) {
      for (const i of [...pending]) {
        if (!this.members[i]!.proc) throw new Error(`member ${this.members[i]!.name} exited during startup; see ${this.members[i]!.logFile}`)
        const r = await this.getJson(i, '/v2/keys/?quorum=true', 1000)
        if (r?.status === 200) pending.delete(i)
      }
      if (pending.size === 0) break
      if (Date.now() > deadline) throw new Error(`members not healthy after ${timeoutMs} ms: ${[...pending].map((i) => this.members[i]!.name).join(', ')}; logs in ${this.dir}`)
      await sleep(100)
    }
  }

  /** Kills every member (SIGKILL to its process group), closes proxies, removes the data dir unless keep. */
  async shutdown(keep = false): Promise<void> {
    this.shuttingDown = true
    for (const m of this.members) if (m.proc) m.proc.kill()
    await Promise.all(this.members.map((m) => Promise.race([m.exited, sleep(5000)])))
    await this.net.close()
    if (!keep) rmSync(this.dir, { recursive: true, force: true })
  }
}
