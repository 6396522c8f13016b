// The snapshot sender's chunking: the chunks join to the data, stay within the size, never split a
// surrogate pair, and come from the snapshot's pieces (a rope is never sliced whole).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { dataChunks } from '../../server/transport/snapshot-sender.js'
import type { Snapshot } from '../../server/raft/types.js'
import { Prng } from '../support/prng.js'

const metadata = { index: 1, term: 1, conf: { voters: ['a'] } }

test('chunks join to the data, within the size, surrogate pairs whole, with or without pieces', () => {
  const p = new Prng(5)
  const alphabet = ['a', '"', 'é', '\u{1F600}', '{', '\u2028']
  for (let round = 0; round < 300; round++) {
    const pieces = Array.from({ length: p.intn(6) }, () => Array.from({ length: p.intn(40) }, () => alphabet[p.intn(alphabet.length)]).join(''))
    const data = pieces.join('')
    const size = 2 + p.intn(9)
    for (const snap of [{ metadata, data }, { metadata, data, pieces }] as Snapshot[]) {
      const chunks = [...dataChunks(snap, size)]
      assert.is(chunks.join(''), data)
      for (const c of chunks) {
        assert.ok(c.length > 0 && c.length <= size)
        assert.is(Buffer.from(c, 'utf8').toString('utf8'), c, 'a chunk is valid UTF-16 on its own')
      }
      if (snap.pieces) assert.ok(chunks.length >= pieces.filter((x) => x.length > 0).length, 'chunks never span two pieces')
    }
  }
})

test('a snapshot with pieces is sent from them: the data itself is not read', () => {
  const pieces = ['{"a":', '1}']
  const snap: Snapshot = { metadata, data: 'not the pieces', pieces }
  assert.equal([...dataChunks(snap, 64)], pieces)
})

test.run()
