// The `members` section of the golden transcripts (MEM-*) recorded against a fresh raftkv member and compared with the
// golden etcd transcripts. Its last cases add a member that never starts, so the member loses
// quorum and must answer as etcd does (writes time out with errorCode 300, /health 503).
import { test } from 'uvu'
import { startServer } from '../../server/index.js'
import { recordAndCompare } from '../fixtures/replay.js'

test('record --only members against a fresh member: 24 passed, 0 failed', async () => {
  const server = await startServer({ name: 'rec1', listenClientUrls: ['http://127.0.0.1:0'], cors: ['*'] })
  try {
    await recordAndCompare(server.url, 'members', '24 passed, 0 failed')
  } finally {
    await server.close()
  }
})

test.run()
