// describe.ts: the one-line renderers used in simulation traces (golden strings).
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { describeEntries, describeMessage, describeReady, shortId } from '../../server/raft/describe.js'
import { newMessage } from '../../server/raft/message.js'
import { EntryType, MessageType, Role } from '../../server/raft/types.js'

const d = suite('describe')
const A = '0000000000000001'
const B = '000000000000000b'

d('ids are shortened; NONE is "-"', () => {
  assert.is(shortId(A), '1')
  assert.is(shortId(B), 'b')
  assert.is(shortId(''), '-')
})

d('messages render the fields that matter for their type', () => {
  const app = newMessage(MessageType.App, A, B, 3)
  app.logTerm = 2
  app.index = 5
  app.commit = 4
  app.entries = [{ term: 3, index: 6, type: EntryType.Normal, data: 'x' }]
  assert.is(describeMessage(app), "1->b App t3 lt2 i5 c4 [3/6 'x']")
  const rej = newMessage(MessageType.AppResp, B, A, 3)
  rej.reject = true
  rej.index = 5
  rej.rejectHint = 3
  rej.logTerm = 1
  assert.is(describeMessage(rej), 'b->1 AppResp t3 reject i5 hint3 lt1')
  const vote = newMessage(MessageType.VoteResp, B, A, 3)
  assert.is(describeMessage(vote), 'b->1 VoteResp t3 granted')
})

d('long entry lists are summarised; no-ops and conf changes are marked', () => {
  const ents = [1, 2, 3, 4].map((i) => ({ term: 1, index: i, type: EntryType.Normal, data: i === 1 ? '' : `e${i}` }))
  assert.is(describeEntries(ents), "[1/1 noop .. 1/4 'e4' (4)]")
  assert.is(describeEntries([{ term: 1, index: 1, type: EntryType.ConfChange, data: '{"type":"add","id":"1"}' }]), '[1/1 cc:{"type":"add","id":"1"}]')
})

d('a Ready renders as one line', () => {
  const line = describeReady({
    softState: { lead: A, role: Role.Leader }, hardState: { term: 2, vote: A, commit: 7 },
    entries: [], committedEntries: [], messages: [newMessage(MessageType.Heartbeat, A, B, 2)],
    readStates: [{ index: 7, context: 'r1' }], mustSync: true,
  })
  assert.is(line, 'ss=leader/1 hs=t2,v1,c7 msgs=1 reads=7:r1 sync')
})

d.run()
