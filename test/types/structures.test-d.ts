// Type tests of the data structures: the element type flows from the codec through List<T>,
// TypedMap<K, V>, TypedSet<T>, TypedValue<T> and Reference<T>; increments exist only for int
// (bigint) and float (number) values; field names are checked against K.

import { expectError, expectType } from 'tsd'
import { Client, ClientV3 } from '../../src/index.js'
import { List, Reference, TypedMap, TypedSet, TypedValue, types, type Deref } from '../../recipes/index.js'

const v2 = new Client({ endpoints: 'http://127.0.0.1:2379' })
const v3 = new ClientV3({ endpoints: 'http://127.0.0.1:2379' })

interface Job { id: number; name: string }

for (const c of [v2, v3]) {
  const ints = new List(c, '/l', types.int)
  expectType<List<bigint>>(ints)
  expectType<Promise<bigint | undefined>>(ints.popLeft())
  expectType<Promise<bigint>>(ints.blockingPop('right', { timeout: 1000 }))
  expectType<Promise<bigint[]>>(ints.range(0, -1))
  expectError(ints.pushRight('1'))
  expectError(ints.pushRight(1))
  const jobs = new List(c, '/jobs', types.json<Job>())
  expectType<Promise<Job | undefined>>(jobs.at(0))
  expectType<Promise<Job | undefined>>(jobs.move(new List(c, '/done', types.json<Job>()), 'left', 'right'))
  expectError(jobs.move(ints, 'left', 'right'))
  expectError(jobs.pop('middle'))

  const stats = new TypedMap<'hits' | 'misses', bigint>(c, '/stats', types.int)
  expectType<Promise<bigint>>(stats.incr('hits', 1))
  expectType<Promise<bigint | undefined>>(stats.get('misses'))
  expectType<Promise<['hits' | 'misses', bigint][]>>(stats.entries())
  expectType<AsyncGenerator<bigint | undefined, void, undefined>>(stats.watchField('hits'))
  expectError(stats.get('other'))
  expectError(stats.incrFloat('hits', 0.5))
  const temps = new TypedMap<string, number>(c, '/temps', types.float)
  expectType<Promise<number>>(temps.incrFloat('t1', 0.5))
  expectError(temps.incr('t1'))
  const names = new TypedMap<string, string>(c, '/names', types.string)
  expectError(names.incr('a'))
  expectError(names.set('a', 1))

  expectType<Promise<boolean>>(new TypedSet(c, '/s', types.string).add('x'))
  expectError(new TypedSet(c, '/s', types.string).add(1))
  expectType<Promise<Uint8Array | undefined>>(new TypedValue(c, '/b', types.bytes).get())

  const ref = new Reference(c, '/current', types.json<Job>())
  expectType<Promise<Deref<Job>>>(ref.deref())
  expectType<Job>((await ref.deref()).value)
  expectType<Promise<boolean>>(ref.retarget(undefined, '/jobs/1'))
  expectType<AsyncGenerator<{ target: string | undefined; value: Job | undefined }, void, undefined>>(ref.follow())
}
expectError(new List('http://127.0.0.1:2379', '/l', types.int))
