// Differential bad-input sweep: the same seeded sequence of odd requests (request lines, headers,
// transfer codings, chunking, pipelining, encodings, paths, values, parameters, watches, members
// bodies) goes as raw bytes to a raftkv member and to a real etcd 3.4 (--enable-v2). Each case
// works under its own key prefix, which is read back from both afterwards.
//
// A case FAILS when raftkv answers 5xx where etcd does not, holds data under the prefix that etcd
// does not hold after etcd refused (a write etcd refuses), does not answer where etcd does (a
// hang), or stops answering at all (a crash). Anything else that differs is counted as a
// difference and reported with its signature, so it can be explained.
//
// Library for test/input/sweep.test.ts (one short seed in `npm test`) and test/input/sweep-main.ts
// (`npm run sweep -- --seeds 5`).
import { exchange, type WireResult } from './wire.js'
import { mulberry32 as prng } from '../support/prng.js'

export { prng }

export const CATEGORIES = [
  'request-line',
  'headers',
  'transfer-coding',
  'chunking',
  'pipelining',
  'encodings',
  'paths',
  'values',
  'parameters',
  'watches',
  'members',
] as const
export type Category = (typeof CATEGORIES)[number]

/** One odd exchange: raw bytes on one connection, and how many answers a server may give. */
export interface Case {
  category: Category
  /** Short description, for reports. */
  label: string
  bytes: string
  /** Responses expected at most (the exchange ends when they arrived or the server closed). */
  expect: number
  /** The case may write (its outcome is checked by reading its prefix back). */
  writes: boolean
  /** A watch: a PUT to `${prefix}/k` fires it after a short delay. */
  watch?: boolean
  /** Methods of the requests in order, when more than one (answers to HEAD have no body). */
  methods?: string[]
}

const FORM = 'Content-Type: application/x-www-form-urlencoded'

function req(line: string, headers: string[], body = ''): string {
  return [line, ...headers].join('\r\n') + '\r\n\r\n' + body
}

function form(method: string, path: string, body: string, extra: string[] = []): string {
  return req(`${method} ${path} HTTP/1.1`, ['Host: sweep', FORM, `Content-Length: ${Buffer.byteLength(body, 'latin1')}`, ...extra], body)
}

function pctBytes(bytes: number[]): string {
  return bytes.map((b) => '%' + b.toString(16).toUpperCase().padStart(2, '0')).join('')
}

/** Builds the case generators over a random source. `p` is the case's key prefix (`/v2/keys/...`). */
function generators(r: () => number): Record<Category, (p: string) => Case> {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!
  const int = (n: number): number => Math.floor(r() * n)
  const ODD_BYTES = [[0xff], [0xfe], [0x80], [0x81], [0xc0, 0xae], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xef, 0xbf, 0xbd], [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0x00], [0x7f], [0x0a], [0x25], [0x2f], [0x3f], [0x23], [0x20], [0x2b]]
  const oddText = (): string => {
    let s = ''
    const n = 1 + int(3)
    for (let i = 0; i < n; i++) s += r() < 0.3 ? pick(['a', 'Z', '_', '.', '-', '~']) : pctBytes(pick(ODD_BYTES))
    return s
  }
  return {
    'request-line': (p) => {
      const method = pick(['PUT', 'DELETE', 'GET', 'POST', 'HEAD', 'put', 'PATCH', 'OPTIONS', 'G\tET'])
      const version = pick(['', ' HTTP/0.9', ' HTTP/1.0', ' HTTP/1.1', ' HTTP/1.2', ' HTTP/2.0', ' HTTP/3.1', ' http/1.1', ' HTTP/1.1 ', ' HTTP/01.1', ' HTTP/1'])
      const sp = pick([' ', ' ', ' ', '  ', '\t'])
      const target = pick([`${p}/k?value=overwritten`, `${p}/k`, `http://sweep${p}/k?value=abs`, '*', `${p}/k?value=a b`])
      const withHost = version === '' || version === ' HTTP/0.9' ? r() < 0.3 : r() < 0.9
      const bytes = req(`${method}${sp}${target}${version}`, withHost ? ['Host: sweep'] : [])
      return { category: 'request-line', label: JSON.stringify(`${method}${sp}${target.replace(p, '$P')}${version}`), bytes, expect: 1, writes: true }
    },
    headers: (p) => {
      const variants: Array<[string, string[]]> = [
        ['two Host', ['Host: a', 'Host: b']],
        ['Host a b', ['Host: a b']],
        ['Host @@', ['Host: @@']],
        ['Host URL', ['Host: http://x/']],
        ['Host empty', ['Host: ']],
        ['Host ipv6', ['Host: [::1]:2379']],
        ['Host name:port', ['Host: example.com:2379']],
        ['Host non-ASCII', ['Host: \u00e4']],
        ['no Host', []],
        ['obs-fold', ['Host: sweep', 'X-A: a', ' folded']],
        ['bad header name', ['Host: sweep', 'Bad Name: x']],
        ['header without colon', ['Host: sweep', 'NoColon']],
        ['two Content-Length', ['Host: sweep', 'Content-Length: 1', 'Content-Length: 2']],
        ['negative Content-Length', ['Host: sweep', 'Content-Length: -1']],
        ['Content-Length x', ['Host: sweep', 'Content-Length: x']],
        ['Expect', ['Host: sweep', 'Expect: 100-continue']],
        ['Expect odd', ['Host: sweep', 'Expect: bogus']],
        ['Connection odd', ['Host: sweep', 'Connection: upgrade, foo', 'Upgrade: h2c']],
        ['long header', ['Host: sweep', 'X-Long: ' + 'a'.repeat(1000 + int(9000))]],
        ['NUL in value', ['Host: sweep', 'X-A: a\u0000b']],
      ]
      const [name, headers] = pick(variants)
      const method = pick(['PUT', 'GET', 'DELETE'])
      const target = method === 'PUT' ? `${p}/k?value=overwritten` : `${p}/k`
      return { category: 'headers', label: `${method} ${name}`, bytes: req(`${method} ${target} HTTP/1.1`, headers), expect: 1, writes: method !== 'GET' }
    },
    'transfer-coding': (p) => {
      const te = pick(['chunked', 'Chunked', 'gzip, chunked', 'identity, chunked', 'identity', 'gzip', 'chunked, chunked', 'chunked;q=1', 'x-custom', ' chunked', 'CHUNKED', ''])
      const two = r() < 0.15
      const withCl = r() < 0.15
      const body = 'value=overwritten'
      const chunked = body.length.toString(16) + '\r\n' + body + '\r\n0\r\n\r\n'
      const headers = ['Host: sweep', FORM, `Transfer-Encoding: ${te}`, ...(two ? ['Transfer-Encoding: chunked'] : []), ...(withCl ? [`Content-Length: ${chunked.length}`] : [])]
      return { category: 'transfer-coding', label: `TE ${JSON.stringify(te)}${two ? ' +TE chunked' : ''}${withCl ? ' +CL' : ''}`, bytes: req(`${pick(['PUT', 'POST'])} ${p}/k HTTP/1.1`, headers, chunked), expect: 1, writes: true }
    },
    chunking: (p) => {
      const body = 'value=overwritten'
      const kind = pick(['zeros', 'zeros', 'ext', 'upper', 'badhex', 'short', 'long', 'nolast', 'trailer', 'lf', 'split', 'huge', 'space'])
      const hex = body.length.toString(16)
      let chunks: string
      switch (kind) {
        case 'zeros': {
          const z = 1 + int(pick([3, 20, 5000]))
          chunks = '0'.repeat(z) + hex + '\r\n' + body + '\r\n0\r\n\r\n'
          return { category: 'chunking', label: `leading zeros, ${z + hex.length} hex digits`, bytes: req(`PUT ${p}/k HTTP/1.1`, ['Host: sweep', FORM, 'Transfer-Encoding: chunked'], chunks), expect: 1, writes: true }
        }
        case 'ext': chunks = hex + ';name=v\r\n' + body + '\r\n0;x\r\n\r\n'; break
        case 'upper': chunks = hex.toUpperCase() + '\r\n' + body + '\r\n0\r\n\r\n'; break
        case 'badhex': chunks = 'zz\r\n' + body + '\r\n0\r\n\r\n'; break
        case 'short': chunks = (body.length - 3).toString(16) + '\r\n' + body + '\r\n0\r\n\r\n'; break
        case 'long': chunks = (body.length + 3).toString(16) + '\r\n' + body + '\r\n0\r\n\r\n'; break
        case 'nolast': chunks = hex + '\r\n' + body + '\r\n'; break
        case 'trailer': chunks = hex + '\r\n' + body + '\r\n0\r\nX-Trailer: 1\r\n\r\n'; break
        case 'lf': chunks = hex + '\n' + body + '\n0\n\n'; break
        case 'split': chunks = '6\r\nvalue=\r\n' + (body.length - 6).toString(16) + '\r\n' + body.slice(6) + '\r\n0\r\n\r\n'; break
        case 'huge': chunks = 'ffffffffffffffffff\r\n' + body + '\r\n0\r\n\r\n'; break
        default: chunks = hex + ' \r\n' + body + '\r\n0\r\n\r\n'
      }
      return { category: 'chunking', label: kind, bytes: req(`PUT ${p}/k HTTP/1.1`, ['Host: sweep', FORM, 'Transfer-Encoding: chunked'], chunks), expect: 1, writes: true }
    },
    pipelining: (p) => {
      const n = 2 + int(4)
      let bytes = ''
      const ops: string[] = []
      for (let i = 0; i < n; i++) {
        const op = pick(['PUT', 'PUT', 'GET', 'GET', 'DELETE', 'POST', 'HEAD', 'CAS'])
        ops.push(op)
        const v = `p${i}`
        if (op === 'PUT') bytes += form('PUT', `${p}/k`, `value=${v}`)
        else if (op === 'CAS') bytes += form('PUT', `${p}/k?prevValue=p${i - 1}`, `value=${v}`)
        else if (op === 'POST') bytes += form('POST', `${p}/q`, `value=${v}`)
        else bytes += req(`${op} ${p}/k HTTP/1.1`, ['Host: sweep'])
      }
      return { category: 'pipelining', label: ops.join(','), bytes, expect: n, writes: true, methods: ops.map((o) => (o === 'CAS' ? 'PUT' : o)) }
    },
    encodings: (p) => {
      const where = pick(['key', 'value', 'prevValue', 'both'])
      const a = oddText()
      const b = r() < 0.5 ? a : oddText()
      let bytes: string
      const expect = 1
      if (where === 'key') {
        const second = pick(['GET', 'DELETE'])
        bytes = form('PUT', `${p}/${a}`, 'value=first') + req(`${second} ${p}/${b} HTTP/1.1`, ['Host: sweep'])
        return { category: 'encodings', label: `${where} ${a}${a === b ? '' : ' / ' + b}`, bytes, expect: 2, writes: true, methods: ['PUT', second] }
      } else if (where === 'value') {
        bytes = form('PUT', `${p}/k`, `value=${a}`) + req(`DELETE ${p}/k?prevValue=${b} HTTP/1.1`, ['Host: sweep'])
        return { category: 'encodings', label: `${where} ${a}${a === b ? '' : ' / ' + b}`, bytes, expect: 2, writes: true, methods: ['PUT', 'DELETE'] }
      } else if (where === 'prevValue') {
        bytes = form('PUT', `${p}/k?prevValue=${b}`, 'value=swapped')
      } else {
        bytes = form('PUT', `${p}/${a}`, `value=${b}`)
      }
      return { category: 'encodings', label: `${where} ${a}${a === b ? '' : ' / ' + b}`, bytes, expect, writes: true }
    },
    paths: (p) => {
      const tail = pick(['/../k', '//k', '/./k', '/k/', '/k%2Fx', '/k/..', '/_hidden', '/k?', '/k#frag', '/%2e%2e/k', '/k;x', '/' + 'x'.repeat(int(5000)), '/d'.repeat(1 + int(1100)) + '/leaf', '/k/%', '/k/%zz', '/k%00', '/+', '/%20'])
      const method = pick(['PUT', 'GET', 'DELETE', 'POST', 'HEAD'])
      const target = tail.startsWith('/d/d') ? `${p}${tail}` : `${p}${tail}`
      const bytes = method === 'PUT' || method === 'POST' ? form(method, target, 'value=v') : req(`${method} ${target} HTTP/1.1`, ['Host: sweep'])
      return { category: 'paths', label: `${method} $P${tail.length > 40 ? tail.slice(0, 20) + `...(${tail.length})` : tail}`, bytes, expect: 1, writes: method !== 'GET' && method !== 'HEAD' }
    },
    values: (p) => {
      const kind = pick(['empty', 'plus', 'big', 'rawbytes', 'noeq', 'twice', 'octet', 'json-ct', 'semicolon', 'ctl', 'nul', 'no-ct'])
      let body = 'value=v'
      let extra: string[] = []
      let ct = FORM
      switch (kind) {
        case 'empty': body = 'value='; break
        case 'plus': body = 'value=a+b%2Bc'; break
        case 'big': body = 'value=' + 'x'.repeat(int(200_000)); break
        case 'rawbytes': body = 'value=' + String.fromCharCode(...pick(ODD_BYTES)); break
        case 'noeq': body = 'value'; break
        case 'twice': body = 'value=a&value=b'; break
        case 'octet': ct = 'Content-Type: application/octet-stream'; break
        case 'json-ct': ct = 'Content-Type: application/json'; body = '{"value":"j"}'; break
        case 'semicolon': body = 'value=a;b'; break
        case 'ctl': body = 'value=%08%0C%01%7F%E2%80%A8%3C%3E%26'; break
        case 'nul': body = 'value=a%00b'; break
        case 'no-ct': ct = ''; break
      }
      extra = [`Content-Length: ${Buffer.byteLength(body, 'latin1')}`]
      const bytes = req(`${pick(['PUT', 'POST'])} ${p}/k HTTP/1.1`, ['Host: sweep', ...(ct ? [ct] : []), ...extra], body)
      return { category: 'values', label: kind, bytes, expect: 1, writes: true }
    },
    parameters: (p) => {
      const names = ['ttl', 'prevIndex', 'prevExist', 'prevValue', 'recursive', 'dir', 'sorted', 'quorum', 'refresh', 'noValueOnSuccess', 'waitIndex', 'wait', 'stream', 'value']
      const values = ['', '0', '1', '-1', 'true', 'false', 'TRUE', 'maybe', '18446744073709551616', '99999999999', ' 5', '+5', '0x10', '%FF', 'a;b', '%', 't', 'F']
      const n = 1 + int(4)
      const parts: string[] = []
      for (let i = 0; i < n; i++) {
        const name = pick(names)
        if (name === 'wait' || name === 'stream') continue // watches have their own category
        parts.push(`${name}=${pick(values)}`)
      }
      const method = pick(['PUT', 'PUT', 'GET', 'DELETE', 'POST'])
      const q = parts.join(pick(['&', '&', '&&']))
      const bytes = req(`${method} ${p}/k?${q} HTTP/1.1`, ['Host: sweep'])
      return { category: 'parameters', label: `${method} ?${q}`, bytes, expect: 1, writes: method !== 'GET' }
    },
    watches: (p) => {
      const q = pick(['wait=true', 'wait=true&recursive=true', 'wait=true&waitIndex=1', 'wait=true&waitIndex=99999999', 'wait=true&waitIndex=x', 'wait=true&stream=true', 'wait=maybe', 'wait=true&quorum=true', 'wait=true&sorted=true', 'wait=true&waitIndex=18446744073709551616'])
      const method = pick(['GET', 'GET', 'GET', 'PUT', 'DELETE', 'HEAD'])
      return { category: 'watches', label: `${method} ?${q}`, bytes: req(`${method} ${p}/k?${q} HTTP/1.1`, ['Host: sweep']), expect: 1, writes: method !== 'GET' && method !== 'HEAD', watch: method === 'GET' }
    },
    members: () => {
      // Never a body with valid peer URLs: adding a member that never starts would cost the
      // one-member etcd its quorum. Ids are never the real member's.
      const bodies = [
        '['.repeat(1 + int(40_000)),
        '['.repeat(10_001) + ']'.repeat(10_001),
        '{"peerURLs":' + '['.repeat(9_999) + ']'.repeat(9_999) + '}',
        '{"peerURLs":["not a url"]}',
        '{"peerURLs":["http://a:b:c"]}',
        '{"peerURLs":["ftp://127.0.0.1:1"]}',
        '{"peerURLs":["http://127.0.0.1:1/path"]}',
        '{"peerURLs":[]}',
        '{"peerURLs":"http://127.0.0.1:1"}',
        '{"peerURLs":[1]}',
        '{"peerURLs":[null]}',
        'null',
        '{',
        '{"peerURLs":["http://127.0.0.1:1"]',
        '"\\ud800"',
        '{"a":' + '{"a":'.repeat(200) + '1' + '}'.repeat(201),
        '\u00ff\u00fe',
        '',
        'tru',
        '[1,]',
      ]
      const body = pick(bodies)
      const method = pick(['POST', 'POST', 'PUT', 'DELETE'])
      const path = method === 'POST' ? '/v2/members' : `/v2/members/${pick(['zz', '0', 'ffffffffffffffffff', '1234', '%FF', ''])}`
      const ct = pick(['application/json', 'application/json', 'text/plain', 'application/json; charset=utf-8', ''])
      const bytes = req(`${method} ${path} HTTP/1.1`, ['Host: sweep', ...(ct ? [`Content-Type: ${ct}`] : []), `Content-Length: ${Buffer.byteLength(body, 'latin1')}`], body)
      return { category: 'members', label: `${method} ${path} ${ct || '-'} ${body.length > 30 ? body.slice(0, 12) + `...(${body.length})` : body}`, bytes, expect: 1, writes: true }
    },
  }
}

/** The seeded case list: `count` cases, categories in rotation, contents random. */
export function generate(seed: number, count: number, prefix: (i: number) => string): Case[] {
  const r = prng(seed)
  const g = generators(r)
  const out: Case[] = []
  for (let i = 0; i < count; i++) out.push(g[CATEGORIES[i % CATEGORIES.length]!](prefix(i)))
  return out
}

/** What one server did with a case. */
export interface Outcome {
  /** Status codes in order; 'close' = closed without (another) answer; 'wait' = still open. */
  answers: string[]
  /** errorCode of each JSON error answer (0 when none). */
  codes: number[]
  /** Normalised content of the case's prefix afterwards. */
  state: string
  /** The exchange ended by the time limit (a watch, a request missing bytes), not by the server. */
  timedOut?: boolean
}

function summarise(res: WireResult, expect: number): { answers: string[]; codes: number[] } {
  const answers = res.responses.map((x) => String(x.status))
  const codes = res.responses.map((x) => {
    try {
      return (JSON.parse(x.body) as { errorCode?: number }).errorCode ?? 0
    } catch {
      return 0
    }
  })
  if (answers.length < expect) answers.push(res.timedOut ? 'wait' : 'close')
  return { answers, codes }
}

/** `key=value` lines of everything under `prefix` (in-order names and indexes normalised away). */
export async function readState(url: string, prefix: string): Promise<string> {
  const res = await exchange(url, req(`GET ${prefix}?recursive=true&sorted=true HTTP/1.1`, ['Host: sweep', 'Connection: close']), { ms: 10_000, expect: 1 })
  const r = res.responses[0]
  if (!r) return res.timedOut ? '<no answer>' : '<closed>'
  if (r.status === 404) return ''
  if (r.status !== 200) return `<${r.status}>`
  type N = { key?: string; value?: string; dir?: boolean; nodes?: N[] }
  const lines: string[] = []
  const stack: N[] = [(JSON.parse(Buffer.from(r.body, 'latin1').toString('utf8')) as { node: N }).node]
  while (stack.length > 0) {
    const n = stack.pop()!
    const key = (n.key ?? '').slice(prefix.length - '/v2/keys'.length).replace(/\d{20}/g, '<seq>')
    lines.push(n.dir ? `${key}/` : `${key}=${n.value}`)
    for (const c of n.nodes ?? []) stack.push(c)
  }
  return lines.sort().join('\n')
}

/** Runs one case against a server: the exchange, a fire for watches, then the prefix read back. */
export async function runCase(url: string, c: Case, prefix: string, ms: number, signal?: AbortSignal): Promise<Outcome> {
  // Every case starts from the same state: `${prefix}/k` = "orig".
  await exchange(url, form('PUT', `${prefix}/k`, 'value=orig', ['Connection: close']), { ms: 5000, expect: 1 })
  const pending = exchange(url, c.bytes, { ms, expect: c.expect, methods: c.methods ?? [/^[^ \t]*/.exec(c.bytes)![0]], signal })
  if (c.watch) {
    await new Promise((r) => setTimeout(r, 100))
    await exchange(url, form('PUT', `${prefix}/k`, 'value=fired', ['Connection: close']), { ms: 5000, expect: 1 })
  }
  const res = await pending
  const { answers, codes } = summarise(res, c.expect)
  return { answers, codes, state: await readState(url, prefix), timedOut: res.timedOut }
}

export type Verdict =
  | { kind: 'same' }
  | { kind: 'fail'; why: string }
  | { kind: 'diff'; signature: string }
  | { kind: 'known'; why: string }

/**
 * Failures that are understood, cannot be fixed where they arise, and are documented (the
 * compatibility notes). They are counted and printed apart, never folded into 'same'.
 */
const KNOWN: Array<{ category: Category; label: RegExp; etcd: RegExp; why: string }> = []

const cls = (a: string): string => (a === 'close' || a === 'wait' ? a : a[0] + 'xx')

/** Compares raftkv's outcome with etcd's for one case. */
export function judge(c: Case, etcd: Outcome, raft: Outcome): Verdict {
  const v = strictJudge(c, etcd, raft)
  if (v.kind !== 'fail') return v
  const k = KNOWN.find((x) => x.category === c.category && x.label.test(c.label) && x.etcd.test(etcd.answers.join(' ')))
  return k ? { kind: 'known', why: k.why } : v
}

function strictJudge(c: Case, etcd: Outcome, raft: Outcome): Verdict {
  const ea = etcd.answers.join(' ')
  const ra = raft.answers.join(' ')
  for (let i = 0; i < raft.answers.length; i++) {
    const a = raft.answers[i]!
    const e = etcd.answers[i]
    if (a.startsWith('5') && !(e ?? '').startsWith('5')) return { kind: 'fail', why: `raftkv ${a} where etcd answered ${e ?? 'nothing'}` }
    if (a === 'wait' && e !== undefined && e !== 'wait' && !(c.watch && e === '200')) return { kind: 'fail', why: `raftkv did not answer where etcd answered ${e} (hang)` }
  }
  // etcd refused everything, yet the stored data differs: raftkv wrote (or deleted) what etcd did not.
  if (raft.state !== etcd.state && etcd.answers.every((a) => !a.startsWith('2'))) {
    const lines = (t: string): string[] => t.split('\n').filter((l) => l !== '')
    const extra = lines(raft.state).filter((l) => !etcd.state.split('\n').includes(l))
    const missing = lines(etcd.state).filter((l) => !raft.state.split('\n').includes(l))
    return { kind: 'fail', why: `after etcd refused (${ea}) raftkv answered ${ra} and holds ${JSON.stringify(extra.slice(0, 3)).slice(0, 300)}, lacks ${JSON.stringify(missing.slice(0, 3)).slice(0, 300)}` }
  }
  if (ea === ra && etcd.codes.join() === raft.codes.join() && etcd.state === raft.state) return { kind: 'same' }
  const statePart = etcd.state === raft.state ? '' : ' (stored data differs)'
  const codes = (o: Outcome): string => o.answers.map((a, i) => (o.codes[i] ? `${a}/${o.codes[i]}` : a)).join(' ')
  return { kind: 'diff', signature: `etcd ${etcd.answers.map(cls).join(' ')} -> raftkv ${raft.answers.map(cls).join(' ')}: etcd ${codes(etcd)}, raftkv ${codes(raft)}${statePart}` }
}

export interface SweepReport {
  cases: number
  perCategory: Record<Category, { same: number; diff: number; known: number; fail: number }>
  failures: Array<{ seed: number; index: number; category: Category; label: string; why: string }>
  /** Known (documented) failures by reason: count and one example. */
  known: Map<string, { count: number; example: string }>
  /** category + signature -> count and one example label. */
  differences: Map<string, { count: number; example: string }>
}

export function emptyReport(): SweepReport {
  const perCategory = {} as SweepReport['perCategory']
  for (const c of CATEGORIES) perCategory[c] = { same: 0, diff: 0, known: 0, fail: 0 }
  return { cases: 0, perCategory, failures: [], differences: new Map(), known: new Map() }
}

/** Sends seed `seed`'s `count` cases to both servers (one case at a time, both in parallel). */
export async function sweep(
  seed: number,
  count: number,
  urls: { etcd: string; raftkv: string },
  report: SweepReport,
  opts: { ms?: number; patienceMs?: number; alive?: () => Promise<boolean> } = {},
): Promise<void> {
  const ms = opts.ms ?? 2000
  const prefix = (i: number): string => `/v2/keys/sweep/s${seed}/c${i}`
  const cases = generate(seed, count, prefix)
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i]!
    // raftkv gets more patience than etcd (a slow, loaded machine is no hang) unless etcd waited
    // too: then it is cut shortly after etcd's wait ended.
    const stop = new AbortController()
    const raftP = runCase(urls.raftkv, c, prefix(i), opts.patienceMs ?? 8000, stop.signal)
    const etcd = await runCase(urls.etcd, c, prefix(i), ms)
    const timer = etcd.timedOut ? setTimeout(() => stop.abort(), 300) : undefined
    const raft = await raftP
    clearTimeout(timer)
    let v = judge(c, etcd, raft)
    if (v.kind !== 'fail' && opts.alive && !(await opts.alive())) v = { kind: 'fail', why: 'raftkv stopped answering after this case (crash)' }
    report.cases++
    report.perCategory[c.category][v.kind]++
    if (v.kind === 'fail') report.failures.push({ seed, index: i, category: c.category, label: c.label, why: v.why })
    if (v.kind === 'diff' || v.kind === 'known') {
      const [map, key] = v.kind === 'diff' ? [report.differences, `${c.category}: ${v.signature}`] : [report.known, `${c.category}: ${v.why}`]
      const d = map.get(key)
      if (d) d.count++
      else map.set(key, { count: 1, example: c.label })
    }
  }
}

/** The report as text: a table per category, the failures, the differences by signature. */
export function formatReport(report: SweepReport): string {
  const lines: string[] = []
  lines.push(`cases: ${report.cases}, failures: ${report.failures.length}`)
  lines.push('category          same  diff known  fail')
  for (const c of CATEGORIES) {
    const x = report.perCategory[c]
    lines.push(`${c.padEnd(16)} ${[x.same, x.diff, x.known, x.fail].map((n) => String(n).padStart(5)).join(' ')}`)
  }
  for (const f of report.failures) lines.push(`FAIL seed ${f.seed} case ${f.index} [${f.category}] ${f.label}: ${f.why}`)
  for (const [k, d] of report.known) lines.push(`KNOWN ${String(d.count).padStart(4)}  ${k}   e.g. ${d.example}`)
  const diffs = [...report.differences.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))
  if (diffs.length > 0) lines.push('differences (count, category: signature, example):')
  for (const [k, d] of diffs) lines.push(`${String(d.count).padStart(4)}  ${k}   e.g. ${d.example.slice(0, 120)}`)
  return lines.join('\n')
}
