// URL query and x-www-form-urlencoded parsing with Go's net/url semantics (PARAM-1, PARAM-2,
// PARAM-8): `+` is a space, a bad `%` escape is an error naming the escape, pairs without `=` have
// an empty value, and for every name only the first value is kept. Pure functions, no I/O.

/** Parameter name -> first value seen. Created with a null prototype (no `__proto__` surprises). */
export type Params = Record<string, string>

/** Thrown (and caught by the keys handler) for unparsable input; message is Go's text. */
export class FormError extends Error {}

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
 * Decodes one query component (Go `url.QueryUnescape`). Throws FormError on a malformed escape.
 * Invalid UTF-8 produced by escapes becomes U+FFFD.
 */
export function unescapeComponent(s: string): string {
  const pct = s.indexOf('%')
  if (pct < 0) return s.indexOf('+') < 0 ? s : s.replace(/\+/g, ' ')
  const src = Buffer.from(s, 'utf8')
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
    } else if (c === 43 /* + */) {
      out[n++] = 32
    } else {
      out[n++] = c
    }
  }
  return out.toString('utf8', 0, n)
}

/**
 * Adds the pairs of a raw query/form string to `into`, keeping existing (earlier) values. Like Go,
 * it keeps parsing after a bad pair and reports the first error at the end (by throwing).
 */
export function parseQueryInto(raw: string, into: Params): void {
  if (raw.length === 0) return
  let firstError: FormError | undefined
  let start = 0
  while (start <= raw.length) {
    let end = raw.indexOf('&', start)
    if (end < 0) end = raw.length
    if (end > start) {
      const eq = raw.indexOf('=', start)
      const hasEq = eq >= 0 && eq < end
      try {
        const name = unescapeComponent(raw.slice(start, hasEq ? eq : end))
        const value = hasEq ? unescapeComponent(raw.slice(eq + 1, end)) : ''
        if (!(name in into)) into[name] = value
      } catch (e) {
        if (!(e instanceof FormError)) throw e
        firstError ??= e
      }
    }
    start = end + 1
  }
  if (firstError) throw firstError
}
