// Acceptance test of the v2 auth API (spec section 18, MEM-9, HDR-1, ERR-4): a fresh member is
// recorded (test/fixtures/recorder.ts, auth section) and compared with the golden etcd 3.4
// transcripts (11-auth.json): every one of the 59 cases must match. Run over a Raft member (auth
// changes replicated through the log), over the in-memory backend (member-local auth state) and
// over an https client listener.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startServer, type RunningServer } from '../../server/index.js'
import { recordAndCompare as record, withFreshMember } from '../fixtures/replay.js'
import { makePki } from './tls-fixture.js'

const test = suite('auth golden transcripts')

function recordAndCompare(server: RunningServer, o: { insecure?: boolean } = {}): Promise<void> {
  return record(server.url, 'auth', '59 passed, 0 failed', o)
}

test('record --only auth against a fresh Raft member: 59 passed, 0 failed', () => withFreshMember('raft', recordAndCompare))

test('the same 59 cases over the in-memory single-member backend', () => withFreshMember('in-memory', recordAndCompare))

test('the same 59 cases over an https client listener (certificate not verified)', async () => {
  const pki = makePki()
  const server = await startServer({
    name: 'rec1',
    listenClientUrls: ['https://127.0.0.1:0'],
    cors: ['*'],
    clientTls: { certFile: pki.server.cert, keyFile: pki.server.key, trustedCaFile: '', clientCertAuth: false },
  })
  try {
    assert.match(server.url, /^https:/)
    await recordAndCompare(server, { insecure: true })
  } finally {
    await server.close()
    pki.close()
  }
})

test.run()
