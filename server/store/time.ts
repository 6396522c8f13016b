// Time formatting for node JSON without touching a clock: RFC 3339 with nanoseconds as Go's
// time.RFC3339Nano prints it (NODE-1) and the rounded-up remaining TTL (NODE-5). Pure functions.

const MS_PER_DAY = 86_400_000

/** Days since 1970-01-01 -> [year, month 1..12, day 1..31] (proleptic Gregorian; H. Hinnant's civil_from_days). */
function civilFromDays(z: number): [number, number, number] {
  z += 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1
  const m = mp < 10 ? mp + 3 : mp - 9
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d]
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0')
}

/**
 * `ms` since the epoch as UTC RFC 3339 with up to 9 fractional digits, trailing zeros trimmed and
 * no fraction when it is zero (Go RFC3339Nano), e.g. `2026-11-25T15:25:58.18049Z`. A fractional
 * `ms` is honoured to whole microseconds: a double holding ms since 1970 cannot carry nanoseconds.
 */
export function formatRFC3339Nano(ms: number): string {
  let wholeMs = Math.floor(ms)
  let subMsNs = Math.round((ms - wholeMs) * 1e3) * 1e3
  if (subMsNs >= 1e6) {
    wholeMs += 1
    subMsNs -= 1e6
  }
  const days = Math.floor(wholeMs / MS_PER_DAY)
  let rest = wholeMs - days * MS_PER_DAY
  const [y, mo, d] = civilFromDays(days)
  const h = Math.floor(rest / 3_600_000)
  rest -= h * 3_600_000
  const mi = Math.floor(rest / 60_000)
  rest -= mi * 60_000
  const s = Math.floor(rest / 1000)
  const nanos = (rest - s * 1000) * 1e6 + subMsNs
  let frac = ''
  if (nanos !== 0) frac = '.' + pad(nanos, 9).replace(/0+$/, '')
  return `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${frac}Z`
}

/**
 * NODE-5: ceil((expiration - now) / 1 s) as etcd computes it (Go truncating division plus one when
 * a positive remainder is left, i.e. ceil for both signs). The difference is first rounded to whole
 * microseconds so float noise on fractional-millisecond times cannot turn 100 s into 101.
 */
export function remainingTtlSeconds(expireMs: number, nowMs: number): number {
  const us = Math.round((expireMs - nowMs) * 1000)
  const ttl = Math.ceil(us / 1e6)
  return ttl === 0 ? 0 : ttl // normalise -0
}
