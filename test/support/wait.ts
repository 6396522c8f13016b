// Bounded waiting: every wait in a test has a deadline and says what it waited for.

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Rejects after `ms` (naming `what`) unless `p` settles first, so a test can never hang. */
export function within<T>(ms: number, p: Promise<T>, what = 'operation'): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

/**
 * Polls `probe` every `everyMs` until it returns something other than undefined or false, and
 * resolves with that value. A probe that throws counts as "not yet". Rejects after `ms`, with the
 * last error when there was one.
 */
export async function until<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, ms = 5000, what = 'condition', everyMs = 10): Promise<T> {
  const deadline = Date.now() + ms
  let last: unknown
  for (;;) {
    try {
      const v = await probe()
      if (v !== undefined && v !== false) return v
    } catch (err) {
      last = err
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${ms} ms: ${what}${last === undefined ? '' : ` (last error: ${String(last)})`}`)
    await sleep(everyMs)
  }
}

/** Runs `act` every `everyMs` until `done()` holds (act first runs when it does not yet); bounded by `ms`. */
export async function repeatUntil(act: () => void, done: () => boolean, ms: number, what: string, everyMs = 20): Promise<void> {
  await until(() => {
    if (done()) return true
    act()
    return false
  }, ms, what, everyMs)
}
