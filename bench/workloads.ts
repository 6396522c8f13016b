// The benchmark workloads over the etcd v2 keys API. Each client runs a callback loop (no
// promises, no per-request allocations beyond a dynamic path) on its own keep-alive connection;
// clients are spread round-robin over the members. Measurement and timing live in runner.ts.
import { prebuild, type BenchRequest, type Conn, type Done } from './conn.js'
import type { Recorder } from './recorder.js'

/** What a workload gets for one run. */
export interface RunContext {
  /** One connection per client; client i talks to member i % members. */
  conns: Conn[]
  clients: number
  members: number
  /** Opens an extra connection to member `m` (closed by the runner). */
  extraConn(m: number): Conn
  rec: Recorder
  /** Unique per run, e.g. `/v2/keys/bench/r7`; every key of the run lives below it. */
  prefix: string
  /** Prefix shared by all runs on one cluster, for data set up once (GET keys). */
  clusterPrefix: string
  /** Per-cluster memo so one-time setup is not repeated (e.g. keys to GET). */
  clusterMemo: Map<string, unknown>
  /** True once the measurement is over: loops must stop issuing requests. */
  stopping(): boolean
  /** A loop calls this once when it has stopped (so the runner knows it drained). */
  clientStopped(): void
  /** One setup request, awaited (not measured). */
  call(member: number, req: BenchRequest): Promise<{ status: number; body: string }>
}

/** A workload definition. */
export interface Workload {
  name: string
  /** What one counted operation is, for the table header. */
  op: string
  description: string
  /** Client counts used when --clients is not given. */
  defaultClients: number[]
  setup?(ctx: RunContext): Promise<void>
  /** Starts the loops; returns at once. */
  start(ctx: RunContext): void
}

/** 256-byte value (URL-safe characters, so the form body needs no escaping). */
export const VALUE_256 = 'v'.repeat(8) + Array.from({ length: 248 }, (_, i) => 'abcdefghijklmnopqrstuvwxyz0123456789'[(i * 7) % 36]).join('')
const VALUE_BODY = `value=${VALUE_256}`
const GET_KEYS = 1000

const ok2xx = (s: number): boolean => s === 200 || s === 201

/** Reads the first `"<field>":<digits>` number in a JSON body without parsing it all. */
export function readNumberField(body: Buffer | null, field: string): number {
  if (body === null) return -1
  const at = body.indexOf(`"${field}":`)
  if (at < 0) return -1
  let i = at + field.length + 3
  let n = 0
  let any = false
  for (let c = body[i]; c >= 48 && c <= 57; c = body[++i]) { n = n * 10 + c - 48; any = true }
  return any ? n : -1
}

/** "HTTP <status>" plus the start of the body when the server sent one (5xx). */
export function describeStatus(status: number, body: Buffer | null): string {
  return body === null || body.length === 0 ? `HTTP ${status}` : `HTTP ${status} ${body.toString('utf8', 0, Math.min(body.length, 160)).trim()}`
}

/** Standard completion handling: ok on 2xx, error otherwise. Transport errors back off 10 ms. */
function simpleLoop(ctx: RunContext, c: number, nextRequest: () => BenchRequest): void {
  const conn = ctx.conns[c]
  const rec = ctx.rec
  let t0 = 0
  const done: Done = (status, body, err) => {
    const now = performance.now()
    if (err !== null) { rec.error(err.message); setTimeout(next, 10); return }
    if (ok2xx(status)) rec.ok(now - t0)
    else rec.error(describeStatus(status, body))
    next()
  }
  const next = (): void => {
    if (ctx.stopping()) { ctx.clientStopped(); return }
    const req = nextRequest()
    t0 = performance.now()
    conn.send(req, done)
  }
  next()
}

const put: Workload = {
  name: 'put',
  op: 'write',
  description: 'PUT a new key per request (256-byte value)',
  defaultClients: [1, 64, 256],
  start(ctx) {
    for (let c = 0; c < ctx.clients; c++) {
      const req: BenchRequest = { method: 'PUT', path: '', body: VALUE_BODY }
      const base = `${ctx.prefix}/put/c${c}k`
      let seq = 0
      simpleLoop(ctx, c, () => { req.path = base + seq++; return req })
    }
  },
}

const putHot: Workload = {
  name: 'put-hot',
  op: 'write',
  description: 'PUT one key from every client (256-byte value)',
  defaultClients: [64],
  start(ctx) {
    const req = prebuild({ method: 'PUT', path: `${ctx.prefix}/hot`, body: VALUE_BODY })
    for (let c = 0; c < ctx.clients; c++) simpleLoop(ctx, c, () => req)
  },
}

async function setupGetKeys(ctx: RunContext): Promise<void> {
  if (ctx.clusterMemo.has('getKeys')) return
  const writers = 16
  let next = 0
  await Promise.all(Array.from({ length: writers }, async () => {
    while (next < GET_KEYS) {
      const k = next++
      const r = await ctx.call(k % ctx.members, { method: 'PUT', path: `${ctx.clusterPrefix}/get/k${k}`, body: VALUE_BODY })
      if (!ok2xx(r.status)) throw new Error(`GET setup: PUT k${k} -> HTTP ${r.status} ${r.body.slice(0, 200)}`)
    }
  }))
  // A quorum read on every member makes sure each has applied the setup writes.
  for (let m = 0; m < ctx.members; m++) {
    const r = await ctx.call(m, { method: 'GET', path: `${ctx.clusterPrefix}/get/k${GET_KEYS - 1}?quorum=true` })
    if (r.status !== 200) throw new Error(`GET setup: quorum GET on member ${m} -> HTTP ${r.status}`)
  }
  ctx.clusterMemo.set('getKeys', true)
}

function readWorkload(name: string, quorum: boolean): Workload {
  return {
    name,
    op: 'read',
    description: quorum ? `GET ?quorum=true over ${GET_KEYS} keys (linearizable read)` : `GET over ${GET_KEYS} keys (local read)`,
    defaultClients: [64],
    setup: setupGetKeys,
    start(ctx) {
      const reqs = Array.from({ length: GET_KEYS }, (_, k) => prebuild({ method: 'GET', path: `${ctx.clusterPrefix}/get/k${k}${quorum ? '?quorum=true' : ''}` }))
      for (let c = 0; c < ctx.clients; c++) {
        let k = (c * 37) % GET_KEYS
        simpleLoop(ctx, c, () => { k = k + 1 === GET_KEYS ? 0 : k + 1; return reqs[k] })
      }
    },
  }
}

const cas: Workload = {
  name: 'cas',
  op: 'swap',
  description: 'contended compare-and-swap on one key: PUT ?prevIndex=<known>; on 412 GET and retry (op = one successful swap)',
  defaultClients: [16],
  async setup(ctx) {
    const r = await ctx.call(0, { method: 'PUT', path: `${ctx.prefix}/cas`, body: 'value=0' })
    if (!ok2xx(r.status)) throw new Error(`cas setup: HTTP ${r.status}`)
    ctx.clusterMemo.set(`cas:${ctx.prefix}`, readNumberField(Buffer.from(r.body), 'modifiedIndex'))
  },
  start(ctx) {
    const key = `${ctx.prefix}/cas`
    const get = prebuild({ method: 'GET', path: key, wantBody: true })
    const rec = ctx.rec
    for (let c = 0; c < ctx.clients; c++) {
      const conn = ctx.conns[c]
      const swap: BenchRequest = { method: 'PUT', path: '', body: `value=c${c}`, wantBody: true }
      let known = ctx.clusterMemo.get(`cas:${ctx.prefix}`) as number
      let t0 = 0
      const begin = (): void => {
        if (ctx.stopping()) { ctx.clientStopped(); return }
        t0 = performance.now()
        attempt()
      }
      const attempt = (): void => {
        swap.path = `${key}?prevIndex=${known}`
        rec.count('attempts')
        conn.send(swap, onSwap)
      }
      const onSwap: Done = (status, body, err) => {
        if (err !== null) { rec.error(err.message); setTimeout(begin, 10); return }
        if (status === 200) {
          rec.ok(performance.now() - t0)
          known = readNumberField(body, 'modifiedIndex')
          begin()
        } else {
          if (status === 412) rec.count('conflicts')
          else rec.error(describeStatus(status, body))
          if (ctx.stopping()) { ctx.clientStopped(); return }
          conn.send(get, onGet)
        }
      }
      const onGet: Done = (status, body, err) => {
        if (err !== null || status !== 200) { rec.error(err?.message ?? `GET HTTP ${status}`); setTimeout(begin, 10); return }
        known = readNumberField(body, 'modifiedIndex')
        if (ctx.stopping()) { ctx.clientStopped(); return }
        attempt()
      }
      begin()
    }
  },
}

const lock: Workload = {
  name: 'lock',
  op: 'cycle',
  description: 'lock cycle, 4 clients per lock: PUT ?prevExist=false ttl=10 (on 412 watch from the error index, retry), then DELETE ?prevValue=<owner> (op = acquire + release)',
  defaultClients: [16],
  start(ctx) {
    const locks = Math.max(1, Math.ceil(ctx.clients / 4))
    const rec = ctx.rec
    for (let c = 0; c < ctx.clients; c++) {
      const conn = ctx.conns[c]
      const key = `${ctx.prefix}/lock/l${c % locks}`
      const owner = `owner-c${c}`
      const acquire = prebuild({ method: 'PUT', path: `${key}?prevExist=false`, body: `value=${owner}&ttl=10`, wantBody: true })
      const release = prebuild({ method: 'DELETE', path: `${key}?prevValue=${owner}` })
      const watch: BenchRequest = { method: 'GET', path: '' }
      let t0 = 0
      const begin = (): void => {
        if (ctx.stopping()) { ctx.clientStopped(); return }
        t0 = performance.now()
        conn.send(acquire, onAcquire)
      }
      const onAcquire: Done = (status, body, err) => {
        if (err !== null) { rec.error(err.message); setTimeout(begin, 10); return }
        if (status === 201) { conn.send(release, onRelease); return }
        if (ctx.stopping()) { ctx.clientStopped(); return }
        if (status !== 412) { rec.error(`acquire ${describeStatus(status, body)}`); conn.send(acquire, onAcquire); return }
        rec.count('waits')
        const index = readNumberField(body, 'index')
        watch.path = `${key}?wait=true&waitIndex=${index + 1}`
        conn.send(watch, onWatch)
      }
      const onWatch: Done = (status, _body, err) => {
        if (err !== null) { rec.error(err.message); setTimeout(begin, 10); return }
        if (status !== 200) rec.error(`watch HTTP ${status}`)
        if (ctx.stopping()) { ctx.clientStopped(); return }
        conn.send(acquire, onAcquire)
      }
      const onRelease: Done = (status, body, err) => {
        if (err !== null) { rec.error(err.message); setTimeout(begin, 10); return }
        if (status === 200) rec.ok(performance.now() - t0)
        else rec.error(`release ${describeStatus(status, body)}`)
        begin()
      }
      begin()
    }
  },
}

const post: Workload = {
  name: 'post',
  op: 'write',
  description: 'POST in-order keys into one directory (256-byte value)',
  defaultClients: [64],
  start(ctx) {
    const req = prebuild({ method: 'POST', path: `${ctx.prefix}/queue`, body: VALUE_BODY })
    for (let c = 0; c < ctx.clients; c++) simpleLoop(ctx, c, () => req)
  },
}

/** How long a watcher waits for its response head before counting itself registered anyway. */
const ARM_TIMEOUT_MS = 200
/** How long one write -> all watchers notified and re-registered round may take. */
const ROUND_TIMEOUT_MS = 2000

const watch: Workload = {
  name: 'watch',
  op: 'notify',
  description: 'M watchers long-poll one key (spread over members), one writer PUTs it; latency = writer hands the PUT to the socket -> a watcher has the whole event. The next PUT is sent only when every watcher has re-registered (response head received) and the previous PUT was acked, so every notification is live, not replayed from history (op = one notification)',
  defaultClients: [64],
  async setup(ctx) {
    const r = await ctx.call(0, { method: 'PUT', path: `${ctx.prefix}/watch`, body: 'value=0' })
    if (!ok2xx(r.status)) throw new Error(`watch setup: HTTP ${r.status}`)
    ctx.clusterMemo.set(`watch:${ctx.prefix}`, readNumberField(Buffer.from(r.body), 'modifiedIndex'))
  },
  start(ctx) {
    const key = `${ctx.prefix}/watch`
    const rec = ctx.rec
    const m = ctx.clients
    const writer = ctx.extraConn(0)
    const write = prebuild({ method: 'PUT', path: key, body: VALUE_BODY })
    let lastIndex = ctx.clusterMemo.get(`watch:${ctx.prefix}`) as number
    let armed = 0
    let writerIdle = true
    let sentAt = 0
    let stoppedReported = false
    let watchdog: NodeJS.Timeout | undefined
    // A round that never completes (a lost notification, a watcher that never re-registers)
    // must not stall the run silently: after ROUND_TIMEOUT_MS it is an error and the next round
    // starts with whoever is ready.
    const onStall = (): void => {
      watchdog = undefined
      if (ctx.stopping()) return
      rec.error(`watch round stalled ${ROUND_TIMEOUT_MS} ms: ${writerIdle ? 'writer acked' : 'writer not acked'}, ${m - armed} watcher(s) not notified/re-registered`)
      armed = m
      maybeWrite()
    }
    const maybeWrite = (): void => {
      if (!writerIdle || armed < m) return
      if (watchdog !== undefined) { clearTimeout(watchdog); watchdog = undefined }
      if (ctx.stopping()) {
        if (!stoppedReported) { stoppedReported = true; for (let i = 0; i < m; i++) ctx.clientStopped() }
        return
      }
      writerIdle = false
      armed = 0
      rec.count('writes')
      sentAt = performance.now()
      watchdog = setTimeout(onStall, ROUND_TIMEOUT_MS)
      writer.send(write, onWrite)
    }
    const onWrite: Done = (status, body, err) => {
      if (err !== null || !ok2xx(status)) rec.error(err?.message ?? `writer ${describeStatus(status, body)}`)
      else rec.count('writeAckMsTotal', performance.now() - sentAt)
      writerIdle = true
      maybeWrite()
    }
    for (let w = 0; w < m; w++) {
      const conn = ctx.conns[w]
      // Member 0 is the leader (runner orders members leader first): per-member sums show
      // whether followers learn about commits later than the leader.
      const latencyKey = `notifyMsTotal.member${w % ctx.members}${w % ctx.members === 0 ? '(leader)' : ''}`
      const countKey = `notifies.member${w % ctx.members}${w % ctx.members === 0 ? '(leader)' : ''}`
      const req: BenchRequest = { method: 'GET', path: '', wantBody: true }
      let isArmed = false
      let armTimer: NodeJS.Timeout | undefined
      const markArmed = (): void => {
        if (armTimer !== undefined) { clearTimeout(armTimer); armTimer = undefined }
        if (isArmed) return
        isArmed = true
        armed++
        maybeWrite()
      }
      const onArmTimeout = (): void => { armTimer = undefined; rec.count('armTimeouts'); markArmed() }
      const arm = (waitIndex: number): void => {
        isArmed = false
        req.path = `${key}?wait=true&waitIndex=${waitIndex}`
        armTimer = setTimeout(onArmTimeout, ARM_TIMEOUT_MS)
        conn.send(req, onEvent, markArmed)
      }
      const onEvent: Done = (status, body, err) => {
        const now = performance.now()
        if (armTimer !== undefined) { clearTimeout(armTimer); armTimer = undefined }
        if (err !== null) { rec.error(err.message); if (!ctx.stopping()) setTimeout(() => arm(lastIndex + 1), 10); return }
        const index = readNumberField(body, 'modifiedIndex')
        if (status !== 200 || index < 0) { rec.error(`watch HTTP ${status}`); arm(lastIndex + 1); return }
        rec.ok(now - sentAt)
        rec.count(latencyKey, now - sentAt)
        rec.count(countKey)
        if (index > lastIndex) lastIndex = index
        arm(index + 1)
      }
      arm(lastIndex + 1)
    }
  },
}

/** All workloads, in table order. */
export const WORKLOADS: Workload[] = [put, putHot, readWorkload('get', false), readWorkload('qget', true), cas, lock, post, watch]
