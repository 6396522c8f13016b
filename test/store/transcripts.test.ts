// Replays the keys-API cases of the golden etcd 3.4 transcripts (test/fixtures/transcripts) against
// the store alone and compares action, node/prevNode JSON, error code/message/cause/index, HTTP
// status and X-Etcd-Index. Absolute indexes match because the store starts at etcd's fresh index 3.
// Request parsing here is a minimal stand-in for the HTTP layer (parameter errors are skipped).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Store, StoreError, StoreEvent, type Command, type NodeJSON } from '../../server/store/index.js'

import { casesOf, loadTranscripts } from '../fixtures/transcripts.js'

const SECTIONS = ['misc', 'keys', 'params', 'ttl', 'cas', 'dirs', 'order', 'hidden', 'stats', 'watch']

interface Req { method: string; path: string; query?: string; headers?: Record<string, string>; body?: string }
interface Resp { status: number; headers?: Record<string, string>; body?: any; events?: any[]; clientAborted?: boolean }
interface Case { id: string; request: Req; resolved?: { path: string; query?: string }; response: Resp; during?: { request: Req; response: Resp }[]; repeat?: number }

function parseTime(s: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?Z$/.exec(s)
  if (!m) throw new Error('bad time ' + s)
  return Date.parse(m[1] + 'Z') + (m[2] ? Number(m[2]) * 1000 : 0)
}

function params(req: Req, resolved?: { query?: string }): (name: string) => string | undefined {
  const q = new URLSearchParams(resolved?.query ?? req.query ?? '')
  const ct = Object.entries(req.headers ?? {}).find(([k]) => k.toLowerCase() === 'content-type')?.[1] ?? ''
  const b = (req.method === 'PUT' || req.method === 'POST') && ct.startsWith('application/x-www-form-urlencoded')
    ? new URLSearchParams(req.body ?? '') : new URLSearchParams()
  return (name) => b.get(name) ?? q.get(name) ?? undefined
}
const bool = (v: string | undefined) => v === undefined ? undefined : ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)

function keyOf(req: Req, resolved?: { path: string }): string {
  const p = resolved?.path ?? req.path
  return decodeURIComponent(p.slice('/v2/keys'.length))
}

/** Derives the apply time from the golden response when it carries a fresh expiration. */
function timeFrom(resp: Resp, ttl: string | undefined, fallback: number): number {
  const exp = resp.body?.node?.expiration
  if (exp && ttl !== undefined && ttl !== '') return parseTime(exp) - Number(ttl) * 1000
  return fallback
}

function toCommand(req: Req, get: (n: string) => string | undefined, key: string): Command {
  const ttl = get('ttl')
  const ttlSeconds = ttl === undefined || ttl === '' ? null : Number(ttl)
  const prevIndex = get('prevIndex') === undefined ? undefined : Number(get('prevIndex'))
  if (req.method === 'POST') return { op: 'post', key, value: get('value'), dir: bool(get('dir')), ttlSeconds }
  if (req.method === 'DELETE') {
    // DELETE bodies are ignored (PARAM-1): get() only reads bodies for PUT/POST.
    return { op: 'delete', key, dir: bool(get('dir')), recursive: bool(get('recursive')), prevValue: get('prevValue'), prevIndex }
  }
  return {
    op: 'set', key, value: get('value'), dir: bool(get('dir')), ttlSeconds, refresh: bool(get('refresh')),
    prevExist: bool(get('prevExist')), prevValue: get('prevValue'), prevIndex, noValueOnSuccess: bool(get('noValueOnSuccess')),
  }
}

/** Normalises what the transcript comparison (test/fixtures/compare.ts) normalises: times (checked separately to 1 ms) and unsorted listings. */
function norm(x: any, sorted: boolean, expTimes: [string, string][], golden: boolean): any {
  if (x === null || typeof x !== 'object') return x
  if (Array.isArray(x)) {
    const arr = x.map((v) => norm(v, sorted, expTimes, golden))
    return sorted ? arr : arr.sort((a, b) => String(a.key).localeCompare(String(b.key)))
  }
  const o: any = {}
  for (const [k, v] of Object.entries(x)) {
    if (k === 'expiration') { o[k] = '<time>'; expTimes.push([golden ? 'g' : 'm', v as string]); continue }
    o[k] = norm(v, sorted, expTimes, golden)
  }
  return o
}

function compareBody(id: string, mine: any, golden: any, sorted: boolean): void {
  const tm: [string, string][] = []
  const tg: [string, string][] = []
  const a = norm(mine, sorted, tm, false)
  const b = norm(golden, sorted, tg, true)
  assert.equal(a, b, id)
  assert.equal(JSON.stringify(a), JSON.stringify(b), id + ' field order')
  assert.is(tm.length, tg.length, id + ' expirations')
  tm.forEach(([, t], i) => assert.ok(Math.abs(parseTime(t) - parseTime(tg[i][1])) < 1, `${id} expiration ${t} vs ${tg[i][1]}`))
}

const store = Store.fromSnapshot(JSON.stringify({ version: 1, index: 3, root: [], history: [] }))
let now = parseTime('2026-11-25T15:35:32Z')

function doWrite(id: string, req: Req, resolved: { path: string; query?: string } | undefined, resp: Resp): void {
  const get = params(req, resolved)
  now = timeFrom(resp, get('ttl'), now)
  const cmd = toCommand(req, get, keyOf(req, resolved))
  const r = store.apply(cmd, now)
  assert.ok(r !== null)
  checkResult(id, r as StoreEvent | StoreError, resp, false, cmd.op === 'set' && cmd.noValueOnSuccess === true)
}

function checkResult(id: string, r: StoreEvent | StoreError, resp: Resp, sorted: boolean, noValue = false): void {
  if (r instanceof StoreError) {
    assert.is(r.status, resp.status, id + ' status')
    assert.equal(JSON.parse(r.body()), resp.body, id + ' error body')
    assert.ok(r.body().endsWith('}\n'))
    assert.is(String(r.index), resp.headers?.['x-etcd-index'], id + ' X-Etcd-Index')
    return
  }
  assert.is(r.status, resp.status, id + ' status')
  assert.is(String(r.etcdIndex), resp.headers?.['x-etcd-index'], id + ' X-Etcd-Index')
  if (resp.body !== undefined && resp.body !== null) compareBody(id, JSON.parse(r.body(noValue)), resp.body, sorted)
}

{
  const cases = casesOf(loadTranscripts(), SECTIONS) as Case[]
  for (const c of cases) {
    const req = c.request
    if (req.path === '/v2/stats/store' && req.method === 'GET') {
      test(`${c.id} store stats: expireCount and watchers (the counters the recorder compares)`, () => {
        const st = store.stats()
        assert.equal([st.expireCount, st.watchers], [c.response.body.expireCount, c.response.body.watchers])
        assert.equal(Object.keys(st), Object.keys(c.response.body))
      })
      continue
    }
    if (!req.path.startsWith('/v2/keys')) continue
    if (c.response.status === 301 || c.response.status === 405 || req.method === 'OPTIONS') continue
    if (c.response.body?.errorCode >= 200 && c.response.body?.errorCode < 300) continue // HTTP-layer parameter errors
    test(`${c.id} ${req.method} ${c.resolved?.path ?? req.path}?${c.resolved?.query ?? req.query ?? ''}`, async () => {
      const get = params(req, c.resolved)
      const key = keyOf(req, c.resolved)
      if (req.method === 'GET' || req.method === 'HEAD') {
        const sorted = bool(get('sorted')) === true
        if (bool(get('wait')) && !bool(get('quorum'))) {
          const waitIndex = get('waitIndex')
          let w
          try {
            w = store.watch(key, { recursive: bool(get('recursive')), stream: bool(get('stream')), sinceIndex: waitIndex ? Number(waitIndex) : 0 })
          } catch (err) {
            assert.instance(err, StoreError)
            checkResult(c.id, err as StoreError, c.response, sorted)
            return
          }
          assert.is(String(w.etcdIndex), c.response.headers?.['x-etcd-index'], c.id + ' watch X-Etcd-Index')
          for (const d of c.during ?? []) doWrite(c.id + ' during', d.request, undefined, d.response)
          const expected = c.response.events ?? (c.response.body ? [c.response.body] : [])
          if (expected.length === 1 && expected[0].action === 'expire' && !c.during) {
            now = parseTime(expected[0].prevNode.expiration) + 1
            store.apply({ op: 'expire' }, now)
          }
          for (const ev of expected) {
            const got = await w.next()
            assert.ok(got, c.id + ' expected an event')
            compareBody(c.id, JSON.parse(got!.body()), ev, true)
          }
          if (c.response.clientAborted) {
            assert.not.ok(w.closed, c.id + ' still waiting')
          }
          w.remove()
          assert.is(await w.next(), null)
          return
        }
        let r: StoreEvent | StoreError
        try {
          r = store.get(key, { recursive: bool(get('recursive')), sorted }, now)
        } catch (err) {
          r = err as StoreError
        }
        if (req.method === 'HEAD') {
          assert.is(r.status, c.response.status)
          assert.is(String(r.index === undefined ? '' : r instanceof StoreError ? r.index : r.etcdIndex), c.response.headers?.['x-etcd-index'])
          return
        }
        checkResult(c.id, r, c.response, sorted)
        return
      }
      const n = c.repeat ?? 1
      for (let i = 1; i < n; i++) store.apply(toCommand(req, get, key), now)
      doWrite(c.id, req, c.resolved, c.response)
    })
  }
}

test('transcripts: every store-visible golden case was replayed', () => {
  assert.ok(store.index >= 1100)
})

test.run()
