// Request-path helpers with Go net/http semantics: percent-decoding of the path (GEN-3), cleaning
// and the 301 redirect target (GEN-2), key derivation (KEYS-1). Pure functions, no I/O.

import { cleanKey } from '../store/node.js'
import { FormError, InvalidUtf8Error, unescapeComponent } from './form.js'

/** Thrown for a path Go's URL parser rejects (bad `%` escape); answered `400 Bad Request`. */
export class BadPathError extends Error {}

/**
 * Thrown for a path whose escapes decode to bytes that are not UTF-8. Go keeps such keys as
 * bytes; a JavaScript string cannot, and decoding them to U+FFFD would make different keys one.
 */
export class NonUtf8PathError extends Error {}

/** Decodes `%XX` escapes of a raw path (`+` stays a plus). Throws BadPathError or NonUtf8PathError. */
export function decodePath(raw: string): string {
  if (raw.indexOf('%') < 0) return raw
  try {
    return unescapeComponent(raw, false)
  } catch (e) {
    if (e instanceof FormError) throw new BadPathError(e.message)
    if (e instanceof InvalidUtf8Error) throw new NonUtf8PathError('path is not valid UTF-8')
    throw e
  }
}

/** Go's path.Clean: lexical `.`/`..` resolution, repeated slashes collapsed, no trailing slash. */
export function cleanLexical(p: string): string {
  if (p === '') return '.'
  const rooted = p.charCodeAt(0) === 47
  const parts = p.split('/')
  const out: string[] = []
  for (const seg of parts) {
    if (seg === '' || seg === '.') continue
    if (seg === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop()
      else if (!rooted) out.push('..')
      continue
    }
    out.push(seg)
  }
  const joined = out.join('/')
  if (rooted) return '/' + joined
  return joined === '' ? '.' : joined
}

/** Go's ServeMux cleanPath: rooted, cleaned, trailing slash kept (GEN-2). */
export function cleanPath(p: string): string {
  if (p === '') return '/'
  if (p.charCodeAt(0) !== 47) p = '/' + p
  let np = cleanLexical(p)
  if (p.charCodeAt(p.length - 1) === 47 && np !== '/') np += '/'
  return np
}

/** True when cleanPath(p) !== p, decided cheaply for the common clean case. */
export function needsCleaning(p: string): boolean {
  if (p.charCodeAt(0) !== 47) return true
  if (p.indexOf('//') < 0 && p.indexOf('/.') < 0) return false
  return cleanPath(p) !== p
}

// Characters Go leaves unescaped in a path (url.shouldEscape with encodePath).
const PATH_SAFE = /^[A-Za-z0-9\-_.~$&+,/:;=@]*$/

/** Go's url.PathEscape-like escaping of a decoded path for a Location header. */
export function escapePath(p: string): string {
  if (PATH_SAFE.test(p)) return p
  let out = ''
  for (const b of Buffer.from(p, 'utf8')) {
    const ch = String.fromCharCode(b)
    out += b < 0x80 && PATH_SAFE.test(ch) ? ch : '%' + b.toString(16).toUpperCase().padStart(2, '0')
  }
  return out
}

/** Go's html.EscapeString subset used by http.Redirect. */
export function htmlEscape(s: string): string {
  return s.replace(/[&'<>"]/g, (c) => (c === '&' ? '&amp;' : c === "'" ? '&#39;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&#34;'))
}

/**
 * The store key for a decoded request path below `/v2/keys` (KEYS-1): rooted, cleaned, without
 * a trailing slash; the root is `/`. Same rule as the store's own key cleaning, so it is reused.
 */
export function keyFromPath(rest: string): string {
  return cleanKey(rest)
}
