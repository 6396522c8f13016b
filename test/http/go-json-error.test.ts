// Go encoding/json syntax-error wording for /v2/members bodies (MEM-4); expected strings were
// observed from etcd 3.4.23 (see test/compat/etcd-diff.test.ts for the live comparison).
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { goJsonSyntaxError } from '../../server/http/go-json-error.js'

const test = suite('Go JSON syntax errors')

test('valid documents give no error', () => {
  for (const ok of ['{}', '[]', ' {"peerURLs":["http://a:1"]} ', '1', '-0.5e+3', '"\\u00e9\\n"', 'null', 'true', '[1,{"a":[]}]']) {
    assert.is(goJsonSyntaxError(ok), undefined, ok)
  }
})

test('truncated and malformed documents give Go text', () => {
  const cases: [string, string][] = [
    ['', 'unexpected end of JSON input'],
    ['{"peerURLs":', 'unexpected end of JSON input'],
    ['nope', "invalid character 'o' in literal null (expecting 'u')"],
    ['tru', "invalid character ' ' in literal true (expecting 'e')"],
    ['1.', "invalid character ' ' after decimal point in numeric literal"],
    ['1ex', "invalid character 'x' in exponent of numeric literal"],
    ['01', "invalid character '1' after top-level value"],
    ['{"a":1,}', "invalid character '}' looking for beginning of object key string"],
    ['[1 2]', "invalid character '2' after array element"],
    ['{"a" 1}', "invalid character '1' after object key"],
    ['{"a":1 "b":2}', `invalid character '"' after object key:value pair`],
    ["'x'", "invalid character '\\'' looking for beginning of value"],
    ['"a\tb"', "invalid character '\\t' in string literal"],
    ['"\\u12g4"', "invalid character 'g' in \\u hexadecimal character escape"],
  ]
  for (const [doc, msg] of cases) assert.is(goJsonSyntaxError(doc), msg, doc)
})

test.run()
