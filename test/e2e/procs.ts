// Test helper: a local raftkv cluster of child processes (`node --import tsx server/cli.ts` with
// etcd's flags) on reserved loopback ports (test/support/ports.ts), with kill -9, SIGTERM, restart
// and leader lookup. Every process it starts is killed by pid at the end, and on exit as a last resort.
import path from 'node:path'
import { memberFlags, memberUrls, startRaftkv, type Child } from '../support/procs.js'
import { removeDir, tempDir } from '../support/tmp.js'
import { sleep } from '../support/wait.js'

export interface ProcMember {
  name: string
  clientUrl: string
  peerUrl: string
  dataDir: string
  proc?: Child
  exited?: Promise<number | null>
  extraArgs: string[]
  /** Extra environment variables of this member's process. */
  env?: Record<string, string>
}

export interface ProcClusterOptions {
  size: number
  heartbeatMs?: number
  electionMs?: number
  snapshotCount?: number
  token?: string
  /** Picks the cluster token once the members' peer URLs are known (overrides `token`). */
  tokenFor?: (peerUrls: string[]) => string
  /** Extra environment of each member's process (by name). */
  env?: (name: string) => Record<string, string>
}

export class ProcCluster {
  readonly members: ProcMember[] = []
  readonly dir: string
  readonly heartbeatMs: number
  readonly electionMs: number
  private readonly snapshotCount: number
  private token: string

  private constructor(opts: ProcClusterOptions) {
    this.dir = tempDir('e2e')
    this.heartbeatMs = opts.heartbeatMs ?? 50
    this.electionMs = opts.electionMs ?? 500
    this.snapshotCount = opts.snapshotCount ?? 10000
    this.token = opts.token ?? 'e2e-' + Math.random().toString(36).slice(2, 8)
  }

  static async start(opts: ProcClusterOptions): Promise<ProcCluster> {
    const c = new ProcCluster(opts)
    for (let i = 0; i < opts.size; i++) {
      const name = `m${i + 1}`
      c.members.push({
        name,
        ...(await memberUrls()),
        dataDir: path.join(c.dir, `${name}.etcd`),
        extraArgs: [],
        env: opts.env?.(name),
      })
    }
    if (opts.tokenFor) c.token = opts.tokenFor(c.members.map((m) => m.peerUrl))
    for (const m of c.members) c.spawn(m, 'new')
    // Generous: on a loaded machine starting several `node --import tsx` members takes a while.
    await c.waitLeader(60_000)
    return c
  }

  initialCluster(members = this.members): string {
    return members.map((m) => `${m.name}=${m.peerUrl}`).join(',')
  }

  spawn(m: ProcMember, state: 'new' | 'existing', initialCluster = this.initialCluster()): void {
    const flags = [
      ...memberFlags({ ...m, initialCluster, state, token: this.token, heartbeatMs: this.heartbeatMs, electionMs: this.electionMs }),
      '--snapshot-count', String(this.snapshotCount),
      ...m.extraArgs,
    ]
    const proc = startRaftkv(flags, { logFile: path.join(this.dir, `${m.name}.log`), env: m.env ? { ...process.env, ...m.env } : undefined })
    m.proc = proc
    m.exited = proc.exited.then((e) => e.code)
  }

  /** kill -9 */
  async kill(m: ProcMember): Promise<void> {
    if (!m.proc) return
    await m.proc.kill()
    m.proc = undefined
  }

  /** SIGTERM; resolves with the exit code. */
  async stop(m: ProcMember): Promise<number | null> {
    if (!m.proc) return null
    m.proc.signal('SIGTERM')
    const code = await m.exited!
    m.proc = undefined
    return code ?? null
  }

  restart(m: ProcMember): void {
    this.spawn(m, 'new')
  }

  /** Adds a member to the cluster through `via` (POST /v2/members) and starts it with state existing. */
  async addMember(via: ProcMember): Promise<ProcMember> {
    const name = `m${this.members.length + 1}`
    const m: ProcMember = {
      name,
      ...(await memberUrls()),
      dataDir: path.join(this.dir, `${name}.etcd`),
      extraArgs: [],
    }
    const r = await fetch(`${via.clientUrl}/v2/members`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ peerURLs: [m.peerUrl] }),
    })
    if (r.status !== 201) throw new Error(`member add: ${r.status} ${await r.text()}`)
    this.members.push(m)
    this.spawn(m, 'existing', this.initialCluster(this.members.filter((x) => x.proc || x === m)))
    return m
  }

  running(): ProcMember[] {
    return this.members.filter((m) => m.proc)
  }

  /** Resolves with the leader's member (as every running member agrees), waiting up to timeoutMs. */
  async waitLeader(timeoutMs = 15000, among = this.running()): Promise<ProcMember> {
    const until = Date.now() + timeoutMs
    while (Date.now() < until) {
      const leads = await Promise.all(among.map((m) => leaderOf(m)))
      const first = leads[0]
      if (first && leads.every((l) => l === first)) {
        const byId = await memberIds(among[0]!)
        const name = byId.get(first)
        const m = this.members.find((x) => x.name === name)
        if (m && m.proc) return m
      }
      await sleep(50)
    }
    throw new Error(`no agreed leader among ${among.map((m) => m.name).join(',')} within ${timeoutMs} ms (logs in ${this.dir})`)
  }

  /** Kills every member; keeps the logs when KEEP_E2E is set (for post-mortems). */
  async close(): Promise<void> {
    await Promise.all(this.members.map((m) => this.kill(m)))
    if (process.env.KEEP_E2E) console.error(`e2e logs kept in ${this.dir}`)
    else removeDir(this.dir)
  }
}

async function leaderOf(m: ProcMember): Promise<string | undefined> {
  try {
    const r = await fetch(`${m.clientUrl}/v2/stats/self`, { signal: AbortSignal.timeout(1000) })
    if (r.status !== 200) return undefined
    const j = (await r.json()) as { leaderInfo: { leader: string } }
    return j.leaderInfo.leader || undefined
  } catch {
    return undefined
  }
}

async function memberIds(m: ProcMember): Promise<Map<string, string>> {
  const r = await fetch(`${m.clientUrl}/v2/members`, { signal: AbortSignal.timeout(2000) })
  const j = (await r.json()) as { members: { id: string; name: string }[] }
  return new Map(j.members.map((x) => [x.id, x.name]))
}

/** A v2 request; returns status and parsed JSON body (or text). */
export async function v2(base: string, method: string, pathAndQuery: string, form?: Record<string, string>, timeoutMs = 5000): Promise<{ status: number; body: any; headers: Headers }> {
  const r = await fetch(base + pathAndQuery, {
    method,
    body: form ? new URLSearchParams(form) : undefined,
    signal: AbortSignal.timeout(timeoutMs),
  })
  const text = await r.text()
  let body: any = text
  try { body = JSON.parse(text) } catch {}
  return { status: r.status, body, headers: r.headers }
}
