// Acceptance test of the HTTP v2 API of one member: a fresh in-process member (port 0, --cors '*')
// is recorded (test/fixtures/recorder.ts) and compared with the golden etcd 3.4 transcripts in
// test/fixtures/transcripts. Every case of the single-member sections must match.
import { suite } from 'uvu'
import type { RunningServer } from '../../server/index.js'
import { recordAndCompare as record, withFreshMember } from '../fixtures/replay.js'

const SECTIONS = 'misc,keys,params,ttl,cas,dirs,order,hidden,stats,watch'

const test = suite('single-member golden transcripts')

function recordAndCompare(server: RunningServer): Promise<void> {
  return record(server.url, SECTIONS, '174 passed, 0 failed')
}

test(`record ${SECTIONS} against a fresh member: 174 passed, 0 failed`, () => withFreshMember('raft', recordAndCompare))

// The HTTP layer alone, over the in-memory single-member backend: separates HTTP regressions
// from consensus ones when the test above fails.
test('the same 174 cases over the in-memory single-member backend', () => withFreshMember('in-memory', recordAndCompare))

test.run()
