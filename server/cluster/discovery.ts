// etcd v2 discovery (`--discovery <url>`, spec DISC-1..4): find the initial cluster through a
// directory in some v2 keys API (a real etcd or raftkv). This member registers itself there with a
// create-if-absent PUT, waits until `<url>/_config/size` members have registered, and the first
// `size` registrations (by createdIndex) become the initial cluster.
// Speaks plain HTTP through Node's fetch; knows nothing about Raft, the WAL or the client SDK. It
// must never register twice under different values, never wait on errors forever (retries are
// bounded), and never treat someone else's registration under our id as ours.

import type { NodeId } from '../raft/types.js'
import { formatId } from '../ids.js'

/** Why discovery failed. `message` uses etcd's wording (`discovery: cluster is full`, ...). */
export type DiscoveryErrorCode =
  | 'full'
  | 'size-not-found'
  | 'bad-size'
  | 'duplicate-id'
  | 'duplicate-name'
  | 'invalid-url'
  | 'bad-endpoint'
  | 'too-many-retries'

export class DiscoveryError extends Error {
  constructor(
    readonly code: DiscoveryErrorCode,
    message: string,
  ) {
    super(message)
    this.name = 'DiscoveryError'
  }
}

/** The minimal logger discovery needs (a pino Logger fits). */
export interface DiscoveryLog {
  info(fields: Record<string, unknown>, msg: string): void
  warn(fields: Record<string, unknown>, msg: string): void
}

export interface DiscoveryOptions {
  /** The discovery URL: a v2 keys directory, e.g. http://host:2379/v2/keys/_etcd/registry/<token>. */
  url: string
  /** This member's id (computed with the discovery URL as the cluster token, as etcd does). */
  id: NodeId
  name: string
  /** This member's advertised peer URLs. */
  peerUrls: readonly string[]
  log: DiscoveryLog
  /** Consecutive failed requests tolerated before giving up (default 8). */
  maxRetries?: number
  /** First back-off after a failure; doubles per consecutive failure up to 16x (default 1000 ms). */
  retryBaseMs?: number
  /** Timeout of one plain request (default 5000 ms). */
  requestTimeoutMs?: number
  /** How long one watch waits before listing again and logging progress (default 10000 ms). */
  watchMs?: number
}

/** One discovered member: its name and peer URLs (as registered). */
export interface DiscoveredMember {
  name: string
  peerUrls: string[]
}

interface V2Node {
  key: string
  value?: string
  dir?: boolean
  createdIndex: number
  nodes?: V2Node[]
}

/** A network failure or a 5xx: worth retrying. */
class RetryableError extends Error {}

/**
 * The registration value etcd writes: `name=url` per peer URL, sorted, comma-joined
 * (DISC-2; etcd's URLsMap.String()).
 */
export function registrationValue(name: string, peerUrls: readonly string[]): string {
  return peerUrls.map((u) => `${name}=${u}`).sort().join(',')
}

/**
 * Registers this member under `<url>/<id hex>` and waits until the cluster is complete. Resolves
 * with the initial cluster (the first `size` registrations, sorted by member name so that the order
 * never depends on who asked). Throws DiscoveryError (`code` says why).
 */
export async function joinDiscoveryCluster(opts: DiscoveryOptions): Promise<DiscoveredMember[]> {
  return new DiscoveryClient(opts).join()
}

class DiscoveryClient {
  private readonly base: string
  private readonly selfKey: string
  private readonly value: string
  private readonly maxRetries: number
  private readonly retryBaseMs: number
  private readonly requestTimeoutMs: number
  private readonly watchMs: number
  private failures = 0

  constructor(private readonly opts: DiscoveryOptions) {
    let u: URL
    try {
      u = new URL(opts.url)
    } catch {
      throw new DiscoveryError('invalid-url', `discovery: invalid URL "${opts.url}"`)
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new DiscoveryError('invalid-url', `discovery: invalid URL "${opts.url}"`)
    // The path is the directory; a query string would be ambiguous with ours.
    this.base = `${u.origin}${u.pathname.replace(/\/+$/, '')}`
    this.selfKey = formatId(opts.id)
    this.value = registrationValue(opts.name, opts.peerUrls)
    this.maxRetries = opts.maxRetries ?? 8
    this.retryBaseMs = opts.retryBaseMs ?? 1000
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 5000
    this.watchMs = opts.watchMs ?? 10_000
  }

  async join(): Promise<DiscoveredMember[]> {
    const log = this.opts.log
    log.info({ discoveryUrl: this.opts.url, key: this.selfKey, value: this.value }, 'discovery: joining (registering this member unless the cluster is already full)')
    // Fast path (as etcd): a full cluster is refused before we register anything.
    const first = await this.retrying('cluster status check', () => this.check())
    this.classify(first)
    await this.retrying('registering this member', () => this.createSelf())

    let lastLogged = -1
    let lastLoggedAt = 0
    for (;;) {
      const st = await this.retrying('waiting for other members', () => this.check())
      const members = this.classify(st)
      if (members) {
        log.info({ discoveryUrl: this.opts.url, members: members.map((m) => baseName(m.key)) }, `discovery: found all ${st.size} members`)
        return toCluster(members, st.size)
      }
      // On every change, and every 30 s while nothing changes, so a stuck boot says why.
      if (st.nodes.length !== lastLogged || Date.now() - lastLoggedAt >= 30_000) {
        lastLogged = st.nodes.length
        lastLoggedAt = Date.now()
        log.info(
          { discoveryUrl: this.opts.url, found: st.nodes.map((n) => baseName(n.key)), size: st.size },
          `discovery: waiting for ${st.size - st.nodes.length} more member(s) (${st.nodes.length}/${st.size} registered)`,
        )
      }
      await this.retrying('waiting for other members', () => this.watch(st.index + 1))
    }
  }

  /**
   * Whether the cluster is complete (the first `size` registrations, self among them), still
   * filling (undefined), or full without us (throws).
   */
  private classify(st: { nodes: V2Node[]; size: number }): V2Node[] | undefined {
    const pos = st.nodes.findIndex((n) => baseName(n.key) === this.selfKey)
    const full = pos === -1 ? st.nodes.length >= st.size : pos >= st.size
    if (full) {
      throw new DiscoveryError(
        'full',
        `discovery: cluster is full (${st.size} members already registered at ${this.opts.url}; do not reuse a discovery token, generate a new one)`,
      )
    }
    return pos !== -1 && st.nodes.length >= st.size ? st.nodes.slice(0, st.size) : undefined
  }

  /** Reads the expected size and the registrations, sorted by createdIndex; index = X-Etcd-Index. */
  private async check(): Promise<{ nodes: V2Node[]; size: number; index: number }> {
    const sizeRes = await this.request('GET', `${this.base}/_config/size?quorum=true`)
    if (sizeRes.status === 404) throw new DiscoveryError('size-not-found', `discovery: size key not found (${this.base}/_config/size)`)
    const sizeBody = (await this.expectJson(sizeRes, 'reading the cluster size')) as { node?: V2Node }
    const sizeText = String(sizeBody.node?.value ?? '')
    if (!/^\d+$/.test(sizeText) || Number(sizeText) < 1) {
      throw new DiscoveryError('bad-size', `discovery: size key is bad ("${sizeText}")`)
    }
    const size = Number(sizeText)

    const listRes = await this.request('GET', `${this.base}?quorum=true`)
    if (listRes.status === 404) throw new DiscoveryError('size-not-found', `discovery: token not found (${this.base})`)
    const body = (await this.expectJson(listRes, 'listing the registrations')) as { node?: V2Node }
    const index = Number(listRes.headers.get('x-etcd-index') ?? '0')
    const nodes = (body.node?.nodes ?? []).filter((n) => baseName(n.key) !== '_config' && !n.dir)
    nodes.sort((a, b) => a.createdIndex - b.createdIndex)
    return { nodes, size, index: Number.isFinite(index) ? index : 0 }
  }

  /** Set when a create request's outcome is unknown (it may have been applied). */
  private createMaybeApplied = false

  private async createSelf(): Promise<void> {
    const url = `${this.base}/${this.selfKey}?prevExist=false`
    let res: Response
    try {
      res = await this.request('PUT', url, new URLSearchParams({ value: this.value }))
    } catch (e) {
      this.createMaybeApplied = true
      throw e
    }
    if (res.status === 201 || res.status === 200) return
    const body = (await safeJson(res)) as { errorCode?: number } | undefined
    if (res.status === 412 && body?.errorCode === 105) {
      // Our own earlier attempt (its reply was lost) is fine; anything else is someone else's, or a
      // registration from a previous boot of this member, whose data dir is now gone: refuse, as
      // etcd does (rejoining with an empty log under an old id is unsafe).
      if (this.createMaybeApplied) {
        const got = await this.request('GET', `${this.base}/${this.selfKey}?quorum=true`)
        const cur = (await safeJson(got)) as { node?: V2Node } | undefined
        if (cur?.node?.value === this.value) return
      }
      throw new DiscoveryError(
        'duplicate-id',
        `discovery: found duplicate id ${this.selfKey} (this member was already registered at ${this.opts.url}, but its data dir has no WAL; check --data-dir, or use a new discovery token if the earlier bootstrap failed)`,
      )
    }
    if (res.status >= 500) throw new RetryableError(`HTTP ${res.status} registering at ${url}`)
    throw new DiscoveryError('bad-endpoint', `discovery: bad discovery endpoint (HTTP ${res.status} registering at ${url}: ${JSON.stringify(body ?? '')})`)
  }

  /** Waits (bounded by watchMs) for any change under the directory from waitIndex on. */
  private async watch(waitIndex: number): Promise<void> {
    const url = `${this.base}?wait=true&recursive=true&waitIndex=${waitIndex}`
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(this.watchMs) })
      // Any answer (an event, an empty body, 400/401 history cleared) means: list again.
      await res.text()
      if (res.status >= 500) throw new RetryableError(`HTTP ${res.status} watching ${this.base}`)
    } catch (e) {
      if (isTimeout(e)) return
      if (e instanceof RetryableError) throw e
      throw new RetryableError(`watching ${this.base}: ${describe(e)}`)
    }
  }

  private async request(method: string, url: string, body?: URLSearchParams): Promise<Response> {
    let res: Response
    try {
      res = await fetch(url, { method, body, signal: AbortSignal.timeout(this.requestTimeoutMs) })
    } catch (e) {
      throw new RetryableError(`${method} ${url}: ${describe(e)}`)
    }
    if (res.status >= 500) {
      await res.text().catch(() => '')
      throw new RetryableError(`${method} ${url}: HTTP ${res.status}`)
    }
    return res
  }

  private async expectJson(res: Response, what: string): Promise<unknown> {
    const text = await res.text()
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      throw new DiscoveryError('bad-endpoint', `discovery: bad discovery endpoint (${what}: HTTP ${res.status}, not JSON)`)
    }
    if (res.status !== 200) {
      throw new DiscoveryError('bad-endpoint', `discovery: bad discovery endpoint (${what}: HTTP ${res.status} ${text.slice(0, 200)})`)
    }
    return body
  }

  /** Runs step; on a retryable failure backs off (1, 2, 4 ... 16 x base) and tries again, bounded. */
  private async retrying<T>(step: string, fn: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        const r = await fn()
        this.failures = 0
        return r
      } catch (e) {
        if (!(e instanceof RetryableError)) throw e
        this.failures++
        if (this.failures > this.maxRetries) {
          throw new DiscoveryError('too-many-retries', `discovery: too many retries (${step}: ${e.message})`)
        }
        const backoff = this.retryBaseMs * 2 ** Math.min(this.failures - 1, 4)
        this.opts.log.warn(
          { discoveryUrl: this.opts.url, reason: step, err: e.message, attempt: this.failures, backoffMs: backoff },
          'discovery: request failed; retrying',
        )
        await sleep(backoff)
      }
    }
  }
}

/** The registrations' values as one cluster; etcd's ErrInvalidURL / ErrDuplicateName checks. */
function toCluster(nodes: V2Node[], size: number): DiscoveredMember[] {
  const byName = new Map<string, string[]>()
  const seenUrl = new Set<string>()
  for (const n of nodes) {
    for (const pair of String(n.value ?? '').split(',')) {
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq)
      const url = pair.slice(eq + 1).trim()
      if (eq <= 0 || !isUrl(url)) throw new DiscoveryError('invalid-url', `discovery: invalid URL in registration ${n.key}: "${n.value}"`)
      if (seenUrl.has(url)) throw new DiscoveryError('invalid-url', `discovery: peer URL ${url} registered twice`)
      seenUrl.add(url)
      const urls = byName.get(name) ?? []
      urls.push(url)
      byName.set(name, urls)
    }
  }
  if (byName.size !== size) throw new DiscoveryError('duplicate-name', 'discovery: found duplicate name (two members registered under one --name)')
  return [...byName.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, peerUrls]) => ({ name, peerUrls }))
}

function isUrl(s: string): boolean {
  try {
    const u = new URL(s)
    return u.protocol === 'http:' || u.protocol === 'https:'
  } catch {
    return false
  }
}

function baseName(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1)
}

async function safeJson(res: Response): Promise<unknown> {
  try {
    return JSON.parse(await res.text())
  } catch {
    return undefined
  }
}

function isTimeout(e: unknown): boolean {
  const name = (e as { name?: string })?.name
  return name === 'TimeoutError' || name === 'AbortError'
}

function describe(e: unknown): string {
  const err = e as { message?: string; cause?: { code?: string; message?: string } }
  return err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(e)
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
