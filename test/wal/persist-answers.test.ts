// A leader settles the requests of entries that were already durable, then persists the next
// batch with a blocking fdatasync. The answers of those requests are chains of promise jobs (the
// handler awaits the backend, which awaits the driver): all of them must reach their sockets
// before the fdatasync holds the thread, not after a write they do not depend on.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { realIo, type WalIo } from '../../server/wal/io.js'
import { openDurableStorage } from '../../server/wal/storage.js'
import { cleanup, entries, tempDir } from './helpers.js'

const META = { memberId: 'aaaaaaaaaaaaaaaa', clusterId: 'bbbbbbbbbbbbbbbb' }

test('requests settled before a persist are answered before its blocking fdatasync', async () => {
  const dir = tempDir()
  try {
    let answered = 0
    const answeredAtSync: number[] = []
    const io: WalIo = {
      ...realIo,
      fdatasyncSync(fd) {
        answeredAtSync.push(answered)
        realIo.fdatasyncSync(fd)
      },
    }
    const ds = openDurableStorage(dir, { metadata: META, io, syncMode: 'blocking', warn: () => {} })
    await ds.persist({ hardState: { term: 1, vote: META.memberId, commit: 0 }, entries: entries(1, 1), mustSync: true })
    answeredAtSync.length = 0

    let settle!: () => void
    const settled = new Promise<void>((resolve) => (settle = resolve))
    // As deep as an HTTP handler's answer: the waiter, the backend, the handler, the response.
    const answer = async (): Promise<void> => {
      await settled
      await null
      await null
      await null
      await null
      answered++
    }
    const answers = [answer(), answer(), answer()]
    settle()
    await ds.persist({ hardState: { term: 1, vote: META.memberId, commit: 1 }, entries: entries(2, 4), mustSync: true })
    await Promise.all(answers)

    assert.equal(answeredAtSync, [3], 'every settled answer ran before the one fdatasync of the batch')
    await ds.close()
  } finally {
    cleanup(dir)
  }
})

test.run()
