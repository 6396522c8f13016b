// Keys-API parameter handling without a server: Go-compatible query/form parsing (PARAM-1, -2,
// -8), booleans and integers (PARAM-3..5), the PARAM-9 validation order, and the store commands
// built for PUT/POST/DELETE (ACT-2 inputs).
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { FormError, newParams, parseMediaType, parseQueryInto, unescapeComponent } from '../../server/http/form.js'
import { parseGoBool, parseGoUint, parseKeyRequest, MAX_KEY_BYTES, type KeyMethod } from '../../server/http/keys.js'
import { StoreError } from '../../server/store/errors.js'

const form = suite('form parsing (Go net/url)')

form('plus is a space, %XX decodes UTF-8, pairs without = have an empty value', () => {
  const p = newParams()
  parseQueryInto('value=Hello+world&x=%C3%A9%E2%9C%93&flag&=empty', p)
  assert.is(p.value, 'Hello world')
  assert.is(p.x, 'é✓')
  assert.is(p.flag, '')
  assert.is(p[''], 'empty')
})

form('first value wins; earlier sources (the body) win over later ones (the query)', () => {
  const p = newParams()
  parseQueryInto('value=frombody', p)
  parseQueryInto('value=a&value=b&other=1', p)
  assert.is(p.value, 'frombody')
  assert.is(p.other, '1')
})

form('bad escapes fail with Go text, after parsing the rest', () => {
  const p = newParams()
  assert.throws(() => parseQueryInto('a=1&value=%zz&b=2', p), (e: Error) => e instanceof FormError && e.message === 'invalid URL escape "%zz"')
  assert.is(p.a, '1')
  assert.is(p.b, '2')
  assert.throws(() => unescapeComponent('abc%4'), (e: Error) => e.message === 'invalid URL escape "%4"')
  assert.throws(() => unescapeComponent('%'), (e: Error) => e.message === 'invalid URL escape "%"')
})

form('a pair with a semicolon is skipped and reported (Go 1.17+), even after an escape error', () => {
  const p = newParams()
  assert.throws(() => parseQueryInto('value=1;x=2&b=3', p), (e: Error) => e.message === 'invalid semicolon separator in query')
  assert.is(p.value, undefined)
  assert.is(p.b, '3')
  assert.throws(() => parseQueryInto('a=%zz&c=1;2', newParams()), (e: Error) => e.message === 'invalid semicolon separator in query')
})

form('Content-Type parsing follows mime.ParseMediaType', () => {
  assert.equal(parseMediaType('application/x-www-form-urlencoded'), { mediaType: 'application/x-www-form-urlencoded' })
  assert.equal(parseMediaType(' Application/X-WWW-Form-Urlencoded ; charset="utf-8"'), { mediaType: 'application/x-www-form-urlencoded' })
  assert.equal(parseMediaType('text/plain;'), { mediaType: 'text/plain' })
  assert.is(parseMediaType('application/x-www-form-urlencoded;;').error, 'mime: invalid media parameter')
  assert.is(parseMediaType('text/plain; a=1; a=2').error, 'mime: duplicate parameter name')
  assert.is(parseMediaType('').error, 'mime: no media type')
  assert.is(parseMediaType('text/').error, 'mime: expected token after slash')
  assert.is(parseMediaType('text plain').error, 'mime: expected slash after first token')
  assert.is(parseMediaType('text').error, undefined)
})

form('__proto__ and friends are ordinary names', () => {
  const p = newParams()
  parseQueryInto('__proto__=x&constructor=y', p)
  assert.is(p['__proto__'], 'x')
  assert.is(p.constructor as unknown as string, 'y')
})

form.run()

const values = suite('booleans and integers')

values('ParseBool accepts exactly Go forms', () => {
  for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.is(parseGoBool(t), true, t)
  for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.is(parseGoBool(f), false, f)
  for (const bad of ['', 'yes', 'tRUE', ' true', 'maybe']) assert.is(parseGoBool(bad), undefined, bad)
})

values('ParseUint: decimal digits only, up to 2^64-1', () => {
  assert.is(parseGoUint('0'), 0)
  assert.is(parseGoUint('0042'), 42)
  assert.is(parseGoUint('18446744073709551615'), 18446744073709551615)
  for (const bad of ['', '-1', '+1', '1.5', 'abc', '1e3', ' 1', '18446744073709551616', '1'.repeat(21)]) assert.is(parseGoUint(bad), undefined, bad)
})

values.run()

const req = suite('parseKeyRequest (PARAM-3..9)')

function params(q: string) {
  const p = newParams()
  parseQueryInto(q, p)
  return p
}
function errOf(method: KeyMethod, q: string): { code: number; cause: string; index: number } {
  try {
    parseKeyRequest(method, '/k', params(q))
  } catch (e) {
    assert.ok(e instanceof StoreError)
    return { code: e.errorCode, cause: e.cause, index: e.index }
  }
  throw new Error('expected an error for ' + q)
}

req('each bad parameter gives etcd code and cause, index 0', () => {
  assert.equal(errOf('PUT', 'prevIndex=abc'), { code: 203, cause: 'invalid value for "prevIndex"', index: 0 })
  assert.equal(errOf('GET', 'waitIndex=-1'), { code: 203, cause: 'invalid value for "waitIndex"', index: 0 })
  assert.equal(errOf('GET', 'recursive=maybe'), { code: 209, cause: 'invalid value for "recursive"', index: 0 })
  assert.equal(errOf('GET', 'sorted='), { code: 209, cause: 'invalid value for "sorted"', index: 0 })
  assert.equal(errOf('PUT', 'wait=true'), { code: 209, cause: '"wait" can only be used with GET requests', index: 0 })
  assert.equal(errOf('HEAD', 'wait=true'), { code: 209, cause: '"wait" can only be used with GET requests', index: 0 })
  assert.equal(errOf('PUT', 'prevValue='), { code: 201, cause: '"prevValue" cannot be empty', index: 0 })
  assert.equal(errOf('PUT', 'noValueOnSuccess=x'), { code: 209, cause: 'invalid value for "noValueOnSuccess"', index: 0 })
  assert.equal(errOf('PUT', 'ttl=abc'), { code: 202, cause: 'invalid value for "ttl"', index: 0 })
  assert.equal(errOf('PUT', 'ttl=-1'), { code: 202, cause: 'invalid value for "ttl"', index: 0 })
  assert.equal(errOf('PUT', 'ttl=99999999999'), { code: 202, cause: 'invalid value for "ttl"', index: 0 })
  assert.equal(errOf('PUT', 'prevExist=maybe'), { code: 209, cause: 'invalid value for prevExist', index: 0 })
  assert.equal(errOf('PUT', 'refresh=maybe'), { code: 209, cause: 'invalid value for refresh', index: 0 })
  assert.equal(errOf('PUT', 'refresh=true&ttl=5&value=x'), { code: 211, cause: 'A value was provided on a refresh', index: 0 })
  assert.equal(errOf('PUT', 'refresh=true'), { code: 212, cause: 'No TTL value set', index: 0 })
  assert.equal(errOf('PUT', 'refresh=true&ttl='), { code: 212, cause: 'No TTL value set', index: 0 })
})

req('validation order follows PARAM-9', () => {
  assert.is(errOf('GET', 'recursive=maybe&prevIndex=abc').code, 203)
  assert.is(errOf('GET', 'waitIndex=x&recursive=maybe').cause, 'invalid value for "waitIndex"')
  assert.is(errOf('GET', 'stream=x&recursive=y').cause, 'invalid value for "recursive"')
  assert.is(errOf('PUT', 'quorum=x&wait=true').cause, 'invalid value for "quorum"')
  assert.is(errOf('PUT', 'wait=true&prevValue=').code, 209)
  assert.is(errOf('PUT', 'prevValue=&ttl=x').code, 201)
  assert.is(errOf('PUT', 'ttl=x&prevExist=x').code, 202)
  assert.is(errOf('PUT', 'prevExist=x&refresh=x').cause, 'invalid value for prevExist')
})

req('all parameters are validated on every method, even where meaningless', () => {
  assert.is(errOf('DELETE', 'ttl=abc').code, 202)
  assert.is(errOf('GET', 'refresh=true').code, 212)
  assert.is(errOf('POST', 'prevIndex=x').code, 203)
})

req('empty ttl means no TTL; refresh=false is like absent; unknown parameters are ignored', () => {
  const r = parseKeyRequest('PUT', '/k', params('ttl=&refresh=false&foo=bar&value=v'))
  assert.equal(r.command, { op: 'set', key: '/k', value: 'v' })
})

req('PUT builds a set command carrying every condition', () => {
  const r = parseKeyRequest('PUT', '/a/b/', params('value=x&ttl=0&dir=true&prevExist=false&prevValue=p&prevIndex=7&noValueOnSuccess=1'))
  assert.equal(r.command, { op: 'set', key: '/a/b', value: 'x', dir: true, ttlSeconds: 0, prevExist: false, prevValue: 'p', prevIndex: 7, noValueOnSuccess: true })
  assert.is(r.noValueOnSuccess, true)
  const refresh = parseKeyRequest('PUT', '/r', params('refresh=true&ttl=5&prevExist=true'))
  assert.equal(refresh.command, { op: 'set', key: '/r', value: '', ttlSeconds: 5, refresh: true, prevExist: true })
})

req('POST ignores conditions; DELETE keeps conditions, dir and recursive', () => {
  assert.equal(parseKeyRequest('POST', '/q', params('value=j&prevExist=true&prevValue=z&ttl=9')).command, { op: 'post', key: '/q', value: 'j', ttlSeconds: 9 })
  assert.equal(parseKeyRequest('DELETE', '/d', params('recursive=true&dir=true&prevValue=v&prevIndex=3&prevExist=false')).command, {
    op: 'delete', key: '/d', dir: true, recursive: true, prevValue: 'v', prevIndex: 3,
  })
  assert.equal(parseKeyRequest('DELETE', '/d', params('prevIndex=0')).command, { op: 'delete', key: '/d' })
})

req('reads carry their flags and no command; keys are derived per KEYS-1', () => {
  const r = parseKeyRequest('GET', '//a/./b/../c/', params('wait=true&waitIndex=12&recursive=1&stream=true&sorted=T&quorum=f'))
  assert.is(r.command, undefined)
  assert.is(r.key, '/a/c')
  assert.equal([r.wait, r.waitIndex, r.recursive, r.stream, r.sorted, r.quorum], [true, 12, true, true, true, false])
  assert.is(parseKeyRequest('GET', '', params('')).key, '/')
  assert.is(parseKeyRequest('GET', '/', params('')).key, '/')
})

req('over-long keys are refused before the store (documented limit)', () => {
  const long = '/' + 'k'.repeat(MAX_KEY_BYTES)
  assert.throws(() => parseKeyRequest('PUT', long, params('value=1')), (e: Error) => e instanceof StoreError && e.errorCode === 209)
  assert.is(parseKeyRequest('PUT', '/' + 'k'.repeat(MAX_KEY_BYTES - 1), params('value=1')).key.length, MAX_KEY_BYTES)
})

req.run()
