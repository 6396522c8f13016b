// afterPromiseJobs: what the WAL awaits before a blocking fdatasync, which no answer already
// settled depends on. Answers are promise chains whose last step hands bytes to a socket in a
// nextTick (Node's HTTP response uncorks its socket that way).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { afterPromiseJobs } from '../../server/promise-jobs.js'

/** An answer as deep as a handler's: waiter, backend, handler, then the response's tick. */
function answer(settled: Promise<void>, log: string[], name: string): Promise<void> {
  return (async () => {
    await settled
    await null
    await null
    await null
    process.nextTick(() => log.push(name))
  })()
}

for (const from of ['a plain callback (setImmediate)', 'a promise job'] as const) {
  test(`from ${from}: every settled answer's socket write runs first`, async () => {
    const log: string[] = []
    let settle!: () => void
    const settled = new Promise<void>((resolve) => (settle = resolve))
    const answers = [answer(settled, log, 'a1'), answer(settled, log, 'a2'), answer(settled, log, 'a3')]
    const after = async (): Promise<void> => {
      settle()
      await afterPromiseJobs()
      log.push('fdatasync')
    }
    await new Promise<void>((resolve, reject) => {
      const run = (): void => void after().then(resolve, reject)
      if (from === 'a promise job') void Promise.resolve().then(run)
      else setImmediate(run)
    })
    await Promise.all(answers)
    assert.equal(log, ['a1', 'a2', 'a3', 'fdatasync'])
  })
}

test.run()
