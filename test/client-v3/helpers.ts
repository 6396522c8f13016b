// Small helpers of the v3 client tests.

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Polls `cond` until it holds; throws after `ms` and stops polling (so a failed test can exit). */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string, everyMs = 10): Promise<void> {
  const until = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`${what} did not happen within ${ms} ms`)
    await sleep(everyMs)
  }
}
