// Serves the live cluster dashboard under /dashboard on the client port: the static page
// (index.html, app.js, style.css next to this file, shipped as-is: no build step, no CDN) and two
// small JSON endpoints for what the v2 API lacks — this member's Raft status
// (/dashboard/api/status) and every member's, gathered server-side from the members' client URLs
// (/dashboard/api/cluster) so the page only ever talks to the member that served it.
// Must not: change cluster state, or block the event loop (files are read once, peers are asked
// with short timeouts and answers are cached briefly).

import { readFileSync, existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Backend } from '../server.js'
import type { PeerLinkStats } from '../transport/transport.js'
import type { Status } from '../raft/raw-node.js'
import { formatId } from '../ids.js'
import type { MemberMetrics, RateSample } from '../metrics/member-metrics.js'

/** What the dashboard reads from the member. */
export interface DashboardOptions {
  backend: Backend
  /** The Raft member's status (absent for a non-Raft backend). */
  raft?: { status(): Status & { applied: number } }
  /** Transport per-peer counters. */
  peers?: () => PeerLinkStats[]
  /** For the read/write rate history. */
  metrics?: MemberMetrics
  /** Timeout for asking another member for its status (default 900 ms). */
  peerTimeoutMs?: number
}

/** One member's status as /dashboard/api/status returns it. */
export interface MemberStatus {
  id: string
  name: string
  state: string
  leader: string
  term: number
  commit: number
  applied: number
  lastIndex: number
  hasLeader: boolean
  clientURLs: string[]
  time: number
  /** Leader only: replication progress per follower (wire ids). */
  progress?: Record<string, { match: number; next: number; state: string; active: boolean }>
  /** Transport view of every peer (wire ids). */
  peers: Record<string, { active: boolean; latencyMs: number; avgLatencyMs: number; bytesSent: number; bytesReceived: number; fail: number }>
  history?: readonly RateSample[]
}

const STATIC: Record<string, string> = {
  '/dashboard/': 'index.html',
  '/dashboard/index.html': 'index.html',
  '/dashboard/app.js': 'app.js',
  '/dashboard/style.css': 'style.css',
}
const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
}

/** The asset directory: next to this module in the sources, or ../../../server/dashboard from dist. */
function assetDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url))
  for (const d of [here, path.resolve(here, '../../../server/dashboard')]) if (existsSync(path.join(d, 'index.html'))) return d
  return here
}

const files = new Map<string, Buffer>()
function asset(name: string): Buffer {
  let b = files.get(name)
  if (!b) {
    b = readFileSync(path.join(assetDir(), name))
    files.set(name, b)
  }
  return b
}

function sendJSON(res: ServerResponse, status: number, v: unknown): void {
  const body = JSON.stringify(v)
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' })
  res.end(body)
}

function stateName(s: string): string {
  // selfStats states (StateLeader...) and Raft roles (leader...) both end up lower-case words.
  return s.replace(/^State/, '').replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase()
}

/** Builds the /dashboard route handler (HandlerOptions.dashboard). */
export function createDashboard(opts: DashboardOptions): (req: IncomingMessage, res: ServerResponse, path: string, rawQuery: string) => Promise<void> {
  const { backend } = opts
  const timeoutMs = opts.peerTimeoutMs ?? 900
  let cached: { at: number; value: Promise<unknown> } | undefined

  function local(withHistory: boolean): MemberStatus {
    const self = backend.selfStats()
    const st = opts.raft?.status()
    const id = backend.memberId()
    const lead = backend.leaderId() ?? ''
    const me = backend.members().find((m) => m.id === id)
    const out: MemberStatus = {
      id,
      name: self.name,
      state: stateName(st ? st.role : self.state),
      leader: lead,
      term: st ? st.term : backend.raftTerm(),
      commit: st ? st.commit : backend.raftIndex(),
      applied: st ? st.applied : backend.raftIndex(),
      lastIndex: st ? st.lastIndex : backend.raftIndex(),
      hasLeader: lead !== '',
      clientURLs: me ? me.clientURLs : [],
      time: Date.now(),
      peers: {},
    }
    if (st?.progress) {
      out.progress = {}
      for (const [pid, pr] of st.progress) {
        if (pid === st.id) continue
        out.progress[formatId(pid)] = { match: pr.match, next: pr.next, state: pr.state, active: pr.recentActive }
      }
    }
    for (const p of opts.peers?.() ?? []) {
      out.peers[formatId(p.id)] = {
        active: p.active,
        latencyMs: p.latency.current,
        avgLatencyMs: p.latency.average,
        bytesSent: p.bytesSent,
        bytesReceived: p.bytesReceived,
        fail: p.fail,
      }
    }
    if (withHistory && opts.metrics) out.history = opts.metrics.rateHistory()
    return out
  }

  async function remote(url: string): Promise<Partial<MemberStatus> & { reachable: boolean; error?: string }> {
    const base = url.replace(/\/$/, '')
    try {
      const r = await fetch(base + '/dashboard/api/status', { signal: AbortSignal.timeout(timeoutMs) })
      if (r.status === 200) return { ...((await r.json()) as MemberStatus), reachable: true }
      // Dashboard turned off there (or not raftkv): the v2 self stats still say state and leader.
      const s = await fetch(base + '/v2/stats/self', { signal: AbortSignal.timeout(timeoutMs) })
      if (s.status !== 200) return { reachable: false, error: `HTTP ${s.status}` }
      const j = (await s.json()) as { id: string; name: string; state: string; leaderInfo?: { leader?: string } }
      const leader = j.leaderInfo?.leader ?? ''
      return { reachable: true, id: j.id, name: j.name, state: stateName(j.state), leader, hasLeader: leader !== '' }
    } catch (e) {
      return { reachable: false, error: (e as Error).name === 'TimeoutError' ? 'timeout' : String((e as Error).message ?? e) }
    }
  }

  async function cluster(): Promise<unknown> {
    const selfId = backend.memberId()
    const members = backend.members()
    const statuses = await Promise.all(
      members.map(async (m) => {
        const base = { id: m.id, name: m.name, clientURLs: m.clientURLs, peerURLs: m.peerURLs }
        if (m.id === selfId) return { ...base, ...local(false), reachable: true, self: true }
        if (m.clientURLs.length === 0) return { ...base, reachable: false, error: 'not started (no client URLs published)' }
        return { ...base, ...(await remote(m.clientURLs[0]!)), id: m.id, self: false }
      }),
    )
    return { clusterId: backend.clusterId(), self: selfId, time: Date.now(), members: statuses }
  }

  return async (req, res, p) => {
    const method = req.method ?? 'GET'
    if (method !== 'GET' && method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET,HEAD', 'Content-Type': 'text/plain; charset=utf-8' })
      res.end('Method Not Allowed')
      return
    }
    if (p === '/dashboard') {
      res.writeHead(301, { Location: '/dashboard/', 'Content-Length': 0 })
      res.end()
      return
    }
    if (p === '/dashboard/api/status') return sendJSON(res, 200, local(true))
    if (p === '/dashboard/api/cluster') {
      const now = Date.now()
      // Several open dashboards polling every second must not multiply the fan-out.
      if (!cached || now - cached.at > 300) cached = { at: now, value: cluster() }
      return sendJSON(res, 200, await cached.value)
    }
    const name = STATIC[p]
    if (!name) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' })
      res.end('404 page not found\n')
      return
    }
    const body = asset(name)
    res.writeHead(200, {
      'Content-Type': TYPES[name.slice(name.lastIndexOf('.') + 1)] ?? 'application/octet-stream',
      'Content-Length': body.length,
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
    })
    res.end(method === 'HEAD' ? undefined : body)
  }
}
