// Test helper: raw bytes to an HTTP server on one connection and the responses that came back,
// parsed (Content-Length, chunked, or until close). Nothing is normalised on the way out, so
// malformed request lines, duplicate headers and odd chunking reach the server as written.
import net from 'node:net'
import tls from 'node:tls'

export interface WireResponse {
  status: number
  reason: string
  headers: Record<string, string>
  body: string
}

export interface WireResult {
  responses: WireResponse[]
  /** The server closed the connection (rather than our timeout ending the exchange). */
  closed: boolean
  /** Nothing at all came back before the close or the timeout. */
  silent: boolean
  /** No close within the time: a watch still waiting, or a hang. */
  timedOut: boolean
  raw: string
}

export interface ExchangeOptions {
  ms?: number
  expect?: number
  methods?: string[]
  signal?: AbortSignal
  /** Write the bytes `piece` at a time (1: byte by byte), each after a pause of `gapMs` (0: a turn of the event loop). */
  piece?: number
  gapMs?: number
  /** For an https URL: what the client trusts. */
  tls?: tls.ConnectionOptions
}

/**
 * Writes `bytes` on a fresh connection to `url` and waits for `expect` complete responses (then
 * closes), for the server to close, or for `ms` (or `signal`). Bytes are latin1 when given as a string.
 */
export function exchange(url: string, bytes: string | Buffer, opts: ExchangeOptions = {}): Promise<WireResult> {
  const u = new URL(url)
  const ms = opts.ms ?? 3000
  return new Promise((resolve) => {
    const sock = u.protocol === 'https:' ? tls.connect({ port: Number(u.port), host: u.hostname, ...opts.tls }) : net.connect(Number(u.port), u.hostname)
    let got = Buffer.alloc(0)
    let closed = false
    let timedOut = false
    let settled = false
    const finish = (): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      sock.destroy()
      const raw = got.toString('latin1')
      resolve({ responses: parseResponses(raw, true, opts.methods), closed, silent: got.length === 0, timedOut, raw })
    }
    const giveUp = (): void => {
      timedOut = true
      finish()
    }
    const timer = setTimeout(giveUp, ms)
    // Aborting ends the exchange the way the timeout does.
    opts.signal?.addEventListener('abort', giveUp, { once: true })
    sock.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d])
      if (opts.expect !== undefined && parseResponses(got.toString('latin1'), false, opts.methods).length >= opts.expect) finish()
    })
    sock.on('close', () => {
      closed = true
      finish()
    })
    sock.on('error', () => {
      closed = true
      finish()
    })
    const data = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes
    if (opts.piece === undefined) {
      sock.write(data)
      return
    }
    // One write per piece, each its own segment, with a pause between them.
    sock.setNoDelay(true)
    const piece = opts.piece
    const pause = (): Promise<void> => new Promise((r) => (opts.gapMs ? setTimeout(r, opts.gapMs) : setImmediate(r)))
    void (async () => {
      for (let at = 0; at < data.length && !settled; at += piece) {
        sock.write(data.subarray(at, at + piece))
        await pause()
      }
    })()
  })
}

/**
 * Complete responses in `raw`. A trailing incomplete one is left out, except at `end` (the
 * exchange is over): then a body that runs to the close, or a cut chunked body, is kept as is.
 * `methods`: the requests' methods in order, when known (an answer to HEAD has no body).
 */
export function parseResponses(raw: string, end = false, methods: string[] = []): WireResponse[] {
  const out: WireResponse[] = []
  let pos = 0
  while (pos < raw.length) {
    const headEnd = raw.indexOf('\r\n\r\n', pos)
    if (headEnd < 0) break
    const lines = raw.slice(pos, headEnd).split('\r\n')
    const m = /^HTTP\/\d\.\d (\d{3}) ?(.*)$/.exec(lines[0] ?? '')
    if (!m) break
    const headers: Record<string, string> = {}
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':')
      if (c > 0) headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim()
    }
    let p = headEnd + 4
    let body = ''
    if (methods[out.length] === 'HEAD') {
      // no body, whatever the headers announce
    } else if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      let complete = false
      for (;;) {
        const e = raw.indexOf('\r\n', p)
        if (e < 0) break
        const size = parseInt(raw.slice(p, e), 16)
        if (Number.isNaN(size)) break
        if (size === 0) {
          const end = raw.indexOf('\r\n', e + 2)
          if (end < 0) break
          p = end + 2
          complete = true
          break
        }
        if (e + 2 + size > raw.length) break
        body += raw.slice(e + 2, e + 2 + size)
        p = e + 2 + size + 2
      }
      if (!complete) {
        if (end) out.push({ status: Number(m[1]), reason: m[2]!, headers, body })
        return out
      }
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length'])
      if (p + n > raw.length) break
      body = raw.slice(p, p + n)
      p += n
    } else if (m[1]!.startsWith('1') || m[1] === '204' || m[1] === '304') {
      // no body
    } else {
      // Delimited by the close of the connection.
      if (!end) break
      body = raw.slice(p)
      p = raw.length
    }
    out.push({ status: Number(m[1]), reason: m[2]!, headers, body })
    pos = p
  }
  return out
}

/** A request in wire form: the head's lines joined with CRLF, the blank line, then the body. */
export function request(head: string, body = ''): string {
  return head.split('\n').join('\r\n') + '\r\n\r\n' + body
}
