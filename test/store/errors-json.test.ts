// ERR table and body format, Go-compatible JSON (GEN-7) and time formatting (NODE-1, NODE-5).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { StoreError, ERROR_TABLE, goJSON, formatRFC3339Nano, remainingTtlSeconds } from '../../server/store/index.js'

test('ERR-1 body is {errorCode,message,cause,index} + newline; cause omitted when empty', () => {
  assert.is(new StoreError(100, '/k/message', 6).body(), '{"errorCode":100,"message":"Key not found","cause":"/k/message","index":6}\n')
  assert.is(new StoreError(102, '', 49).body(), '{"errorCode":102,"message":"Not a file","index":49}\n')
  assert.is(JSON.stringify(new StoreError(209, 'invalid value for "wait"')), '{"errorCode":209,"message":"Invalid field","cause":"invalid value for \\"wait\\"","index":0}')
})

test('ERR-2 codes, HTTP statuses and fixed messages as etcd emits them', () => {
  const want: [number, number, string][] = [
    [100, 404, 'Key not found'], [101, 412, 'Compare failed'], [102, 403, 'Not a file'], [104, 400, 'Not a directory'],
    [105, 412, 'Key already exists'], [107, 400, 'Root is read only'], [108, 403, 'Directory not empty'],
    [110, 401, 'The request requires user authentication'], [201, 400, 'PrevValue is Required in POST form'],
    [202, 400, 'The given TTL in POST form is not a number'], [203, 400, 'The given index in POST form is not a number'],
    [209, 400, 'Invalid field'], [210, 400, 'Invalid POST form'], [211, 400, 'Value provided on refresh'],
    [212, 400, 'A TTL must be provided on refresh'], [300, 500, 'Raft Internal Error'],
    [401, 400, 'The event in requested index is outdated and cleared'],
  ]
  for (const [code, status, message] of want) {
    const e = new StoreError(code, 'x', 0)
    assert.equal([e.status, e.message], [status, message], String(code))
    assert.equal(ERROR_TABLE[code], [status, message])
  }
})

test('ERR-3 codes etcd defines but never emits are known (400 unless noted)', () => {
  assert.equal(ERROR_TABLE[103], [400, 'Reached the max number of peers in the cluster'])
  assert.equal(ERROR_TABLE[301], [500, 'During Leader Election'])
  assert.equal(ERROR_TABLE[400], [400, 'watcher is cleared due to etcd recovery'])
  assert.instance(new StoreError(100), Error)
})

test('ERR-1 StoreError is cheap (no stack capture) and leaves Error.stackTraceLimit unchanged', () => {
  const before = Error.stackTraceLimit
  const e = new StoreError(101, '[a != b]', 3)
  assert.is(Error.stackTraceLimit, before)
  assert.is(e.name, 'StoreError')
  assert.is(e.message, 'Compare failed')
})

test('GEN-7 goJSON escapes <, >, &, U+2028/9 and backspace/formfeed like Go; keeps other non-ASCII raw', () => {
  assert.is(goJSON({ v: '<a&b>' }), '{"v":"\\u003ca\\u0026b\\u003e"}')
  assert.is(goJSON('\u2028\u2029'), '"\\u2028\\u2029"')
  assert.is(goJSON('\b\f\n\r\t\u0001'), '"\\u0008\\u000c\\n\\r\\t\\u0001"')
  assert.is(goJSON('é ✓ 𝄞'), '"é ✓ 𝄞"')
  assert.is(goJSON('\\b\\f'), '"\\\\b\\\\f"', 'escaped backslash followed by b/f stays')
  assert.is(goJSON('plain'), '"plain"')
})

test('NODE-1 expiration is RFC3339Nano: UTC, trailing zeros trimmed, no fraction when whole', () => {
  assert.is(formatRFC3339Nano(0), '1970-01-01T00:00:00Z')
  assert.is(formatRFC3339Nano(1_800_000_000_000), '2027-01-15T08:00:00Z')
  assert.is(formatRFC3339Nano(1_800_000_000_180), '2027-01-15T08:00:00.18Z')
  assert.is(formatRFC3339Nano(1_800_000_000_000.5), '2027-01-15T08:00:00.0005Z')
  assert.is(formatRFC3339Nano(1_800_000_000_999.9996), '2027-01-15T08:00:01Z')
  assert.is(formatRFC3339Nano(951_782_400_000), '2000-02-29T00:00:00Z')
  assert.is(formatRFC3339Nano(4_107_542_399_999), '2100-02-28T23:59:59.999Z')
  // Agrees with the platform formatter (used here only, never in the store) on whole milliseconds.
  for (let ms = 0; ms < 5e12; ms += 123_456_789_013) {
    const iso = new Date(ms).toISOString().replace(/\.?0*Z$/, 'Z')
    assert.is(formatRFC3339Nano(ms), iso, String(ms))
  }
})

test('NODE-5 remaining ttl is ceil(seconds) for both signs, robust to float noise', () => {
  const now = 1_764_084_812_131.848
  assert.is(remainingTtlSeconds(now + 100_000, now), 100)
  assert.is(remainingTtlSeconds(now + 99_000.001, now), 100)
  assert.is(remainingTtlSeconds(now + 1, now), 1)
  assert.is(remainingTtlSeconds(now, now), 0)
  assert.is(Object.is(remainingTtlSeconds(now - 500, now), 0), true)
  assert.is(remainingTtlSeconds(now - 1500, now), -1)
})

test.run()
