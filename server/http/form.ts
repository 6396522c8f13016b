// URL query and x-www-form-urlencoded parsing with Go's net/url semantics (PARAM-1, PARAM-2,
// PARAM-8): `+` is a space, a bad `%` escape is an error naming the escape, pairs without `=` have
// an empty value, and for every name only the first value is kept. Pure functions, no I/O.
// Unlike Go, decoded text must be UTF-8: JavaScript strings cannot hold arbitrary bytes, and
// decoding invalid bytes to U+FFFD would make different byte strings (keys, values) the same.
import { isUtf8 } from 'node:buffer'

/** Parameter name -> first value seen. Created with a null prototype (no `__proto__` surprises). */
export type Params = Record<string, string>

/** Thrown (and caught by the keys handler) for unparsable input; message is Go's text. */
export class FormError extends Error {}

/** Thrown by unescapeComponent when the decoded bytes are not valid UTF-8. */
export class InvalidUtf8Error extends Error {}

/** A fresh, empty parameter map. */
export function newParams(): Params {
  return Object.create(null) as Params
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102)
}

function hexVal(c: number): number {
  return c <= 57 ? c - 48 : (c | 0x20) - 87
}

/** Go's strconv.Quote for the short ASCII-ish strings that appear in escape errors. */
function goQuote(s: string): string {
  return JSON.stringify(s)
}

/**
 * Decodes one query component (Go `url.QueryUnescape`; with `plusIsSpace` false, Go's path
 * unescaping, where `+` stays a plus). `binary`: `s` holds one byte per character (a body read
 * as latin1) rather than text. Throws FormError on a malformed escape and InvalidUtf8Error when
 * the decoded bytes are not UTF-8.
 */
export function unescapeComponent(s: string, plusIsSpace = true, binary = false): string {
  const pct = s.indexOf('%')
  if (pct < 0 && !(binary && NON_ASCII.test(s))) return !plusIsSpace || s.indexOf('+') < 0 ? s : s.replace(/\+/g, ' ')
  const src = Buffer.from(s, binary ? 'latin1' : 'utf8')
  const out = Buffer.allocUnsafe(src.length)
  let n = 0
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!
    if (c === 37 /* % */) {
      if (i + 2 >= src.length || !isHex(src[i + 1]!) || !isHex(src[i + 2]!)) {
        throw new FormError('invalid URL escape ' + goQuote(src.subarray(i, i + 3).toString('utf8')))
      }
      out[n++] = (hexVal(src[i + 1]!) << 4) | hexVal(src[i + 2]!)
      i += 2
    } else if (c === 43 /* + */ && plusIsSpace) {
      out[n++] = 32
    } else {
      out[n++] = c
    }
  }
  const bytes = out.subarray(0, n)
  if (!isUtf8(bytes)) throw new InvalidUtf8Error('not valid UTF-8')
  return bytes.toString('utf8')
}

const NON_ASCII = /[^\x00-\x7f]/

/**
 * Adds the pairs of a raw query/form string to `into`, keeping existing (earlier) values. Like Go
 * (1.17+, as etcd 3.4.23 is built), it skips bad pairs, keeps parsing, and throws at the end: the
 * first escape error, except that a pair containing `;` always reports `invalid semicolon
 * separator in query`. A value that is not UTF-8 is kept as U+FFFD (so typed parameters fail their
 * own checks) and its name added to `invalid`; a name that is not UTF-8 names no parameter and is
 * skipped. `binary`: `raw` holds one byte per character (see unescapeComponent).
 */
export function parseQueryInto(raw: string, into: Params, invalid?: Set<string>, binary = false): void {
  if (raw.length === 0) return
  let error: FormError | undefined
  let start = 0
  while (start <= raw.length) {
    let end = raw.indexOf('&', start)
    if (end < 0) end = raw.length
    if (end > start) {
      const semi = raw.indexOf(';', start)
      if (semi >= 0 && semi < end) {
        error = new FormError('invalid semicolon separator in query')
      } else {
        const eq = raw.indexOf('=', start)
        const hasEq = eq >= 0 && eq < end
        try {
          const name = unescapeComponent(raw.slice(start, hasEq ? eq : end), true, binary)
          let value = ''
          try {
            if (hasEq) value = unescapeComponent(raw.slice(eq + 1, end), true, binary)
          } catch (e) {
            if (!(e instanceof InvalidUtf8Error)) throw e
            value = '\ufffd'
            if (!(name in into)) invalid?.add(name)
          }
          if (!(name in into)) into[name] = value
        } catch (e) {
          // A name that is not UTF-8 names no parameter: the pair is skipped.
          if (!(e instanceof InvalidUtf8Error)) {
            if (!(e instanceof FormError)) throw e
            error ??= e
          }
        }
      }
    }
    start = end + 1
  }
  if (error) throw error
}

// --- Content-Type parsing (Go mime.ParseMediaType, as used by Request.ParseForm) ---

function isTokenChar(c: number): boolean {
  // RFC 1521 token: printable ASCII except space and tspecials ()<>@,;:\"/[]?=
  return c > 0x20 && c < 0x7f && '()<>@,;:\\"/[]?='.indexOf(String.fromCharCode(c)) < 0
}

function tokenEnd(s: string, i: number): number {
  while (i < s.length && isTokenChar(s.charCodeAt(i))) i++
  return i
}

function skipSpace(s: string, i: number): number {
  while (i < s.length && /\s/.test(s[i]!)) i++
  return i
}

/** End of a parameter value (token or quoted string) starting at i, or -1 when there is none. */
function valueEnd(s: string, i: number): number {
  if (s[i] !== '"') {
    const e = tokenEnd(s, i)
    return e > i ? e : -1
  }
  for (let j = i + 1; j < s.length; j++) {
    const c = s[j]
    if (c === '"') return j + 1
    if (c === '\\') j++
  }
  return -1
}

/**
 * Go's mime.ParseMediaType reduced to what form parsing needs: the lower-cased media type and the
 * error text Go reports for a malformed header (which etcd turns into 210, PARAM-8).
 */
export function parseMediaType(v: string): { mediaType: string; error?: string } {
  const semi = v.indexOf(';')
  const mediaType = (semi < 0 ? v : v.slice(0, semi)).trim().toLowerCase()
  const typEnd = tokenEnd(mediaType, 0)
  if (typEnd === 0) return { mediaType, error: 'mime: no media type' }
  if (typEnd < mediaType.length) {
    if (mediaType[typEnd] !== '/') return { mediaType, error: 'mime: expected slash after first token' }
    const subEnd = tokenEnd(mediaType, typEnd + 1)
    if (subEnd === typEnd + 1) return { mediaType, error: 'mime: expected token after slash' }
    if (subEnd < mediaType.length) return { mediaType, error: 'mime: unexpected content after media subtype' }
  }
  if (semi < 0) return { mediaType }
  const seen = new Set<string>()
  let i = semi
  for (;;) {
    i = skipSpace(v, i)
    if (i >= v.length) break
    // consumeMediaParam: ';' space* token space* '=' space* value
    let j = i
    let ok = v[j] === ';'
    let name = ''
    if (ok) {
      j = skipSpace(v, j + 1)
      const e = tokenEnd(v, j)
      name = v.slice(j, e).toLowerCase()
      ok = e > j
      j = skipSpace(v, e)
      ok = ok && v[j] === '='
      if (ok) {
        j = skipSpace(v, j + 1)
        const ve = valueEnd(v, j)
        ok = ve >= 0
        j = ve
      }
    }
    if (!ok) {
      if (v.slice(i).trim() === ';') break // trailing semicolons are ignored
      return { mediaType, error: 'mime: invalid media parameter' }
    }
    if (seen.has(name)) return { mediaType, error: 'mime: duplicate parameter name' }
    seen.add(name)
    i = j
  }
  return { mediaType }
}
