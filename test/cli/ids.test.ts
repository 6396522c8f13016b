// Member and cluster ids must equal etcd's, or a raftkv member could never sit next to the
// ids a user has seen from etcd (and golden transcripts). Values recorded from etcd 3.4.23.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { clusterId, formatId, initialIds, isNodeId, memberId, parseId } from '../../server/ids.js'

const ids = suite('ids')

ids('single default member (etcd defaults) matches etcd 3.4', () => {
  const id = memberId(['http://localhost:2380'], 'etcd-cluster')
  assert.is(id, '8e9e05c52164694d')
  assert.is(clusterId([id]), 'cdf818194e3a8c32')
})

ids('three-member cluster from the seed command line matches etcd 3.4', () => {
  const r = initialIds(
    [
      { name: 'etcd1', peerUrls: ['http://127.0.0.1:2380'] },
      { name: 'etcd2', peerUrls: ['http://127.0.0.1:2381'] },
      { name: 'etcd3', peerUrls: ['http://127.0.0.1:2382'] },
    ],
    'etcd-cluster-1',
  )
  assert.equal(r.members.map((m) => m.id), ['bf9071f4639c75cc', 'e7b968b9fb1bc003', '19ac17627e3e396f'])
  assert.is(r.clusterId, 'c76dfb96de16906b')
})

ids('several peer URLs are sorted before hashing (order given does not matter)', () => {
  assert.is(memberId(['http://127.0.0.1:23803', 'http://10.0.0.5:2380'], 'tok'), '5f4c3b7fc49c3b97')
  assert.is(memberId(['http://10.0.0.5:2380', 'http://127.0.0.1:23803'], 'tok'), '5f4c3b7fc49c3b97')
  assert.is(clusterId(['5f4c3b7fc49c3b97']), 'ea68cbdef56af1b9')
})

ids('cluster id does not depend on member order; token changes member ids', () => {
  assert.is(clusterId(['e7b968b9fb1bc003', '19ac17627e3e396f', 'bf9071f4639c75cc']), 'c76dfb96de16906b')
  assert.is.not(memberId(['http://localhost:2380'], 'other'), '8e9e05c52164694d')
})

ids('a runtime-added member mixes in the time, so the same URL gets a new id', () => {
  const a = memberId(['http://127.0.0.1:2390'], 'etcd-cluster', 1700000000)
  const b = memberId(['http://127.0.0.1:2390'], 'etcd-cluster', 1700000001)
  assert.ok(isNodeId(a) && isNodeId(b))
  assert.is.not(a, b)
})

ids('wire form drops leading zeros (HDR-1); parseId accepts it back', () => {
  assert.is(formatId('00ab000000000001'), 'ab000000000001')
  assert.is(formatId('8e9e05c52164694d'), '8e9e05c52164694d')
  assert.is(parseId('ab000000000001'), '00ab000000000001')
  assert.is(parseId('8E9E05C52164694D'), '8e9e05c52164694d')
  assert.is(parseId('xyz'), undefined)
  assert.is(parseId('12345678901234567'), undefined)
  assert.is(parseId(''), undefined)
})

ids.run()
