// Type tests of the client SDK's public API (run with `tsd --files 'test/types/*.test-d.ts'`):
// result types, error narrowing by instanceof and by `code`, the watch element type, and option
// combinations the types reject.

import { expectAssignable, expectError, expectNotAssignable, expectType } from 'tsd'
import {
  Client, CompareFailedError, EtcdError, KeyNotFoundError, NodeExistsError, OutcomeUnknownError, RaftkvError,
  isRetryable,
  type Action, type ErrorCode, type JSONResponse, type Member, type Node, type Response, type SetOptions,
  type StoreStats, type WatchChange, type WatchEvent, type WatchResync,
} from '../../src/index.js'

const client = new Client({ endpoints: ['http://127.0.0.1:2379'], timeout: 1000, retry: { retries: 2, guardedWrites: true } })
expectError(new Client({}))
expectError(new Client({ endpoints: ['http://x'], timeout: '1s' }))

// ---- results ----
expectType<Promise<Response>>(client.get('/a', { recursive: true, sorted: true, quorum: true }))
expectType<Promise<Response>>(client.set('/a', 'v', { ttl: 10 }))
expectType<Promise<Node[]>>(client.list('/dir'))
expectType<Promise<JSONResponse<{ n: number }>>>(client.getJSON<{ n: number }>('/j'))
expectType<Promise<Member[]>>(client.members())
expectType<Promise<StoreStats>>(client.stats.store())
expectType<Promise<boolean>>(client.health())
expectType<Promise<void>>(client.removeMember('8e9e05c52164694d'))

declare const res: Response
expectType<Action>(res.action)
expectType<Node>(res.node)
expectType<Node | undefined>(res.prevNode)
expectType<number>(res.etcdIndex)
expectType<number>(res.raftIndex)
expectType<number>(res.raftTerm)
expectType<string>(res.clusterId)
expectType<string | undefined>(res.node.value)
expectType<Node[] | undefined>(res.node.nodes)
expectError(client.set('/a', 42))

// ---- option combinations ----
expectAssignable<SetOptions>({ prevExist: false, ttl: 5 })
expectAssignable<SetOptions>({ prevExist: true, prevValue: 'x', prevIndex: 3 })
expectAssignable<SetOptions>({ refresh: true, ttl: 5, prevExist: true })
// create (prevExist: false) ignores conditions on the server: the types refuse the combination
expectNotAssignable<SetOptions>({ prevExist: false, prevIndex: 3 })
expectNotAssignable<SetOptions>({ prevExist: false, prevValue: 'x' })
// refresh needs a ttl
expectNotAssignable<SetOptions>({ refresh: true })
expectError(client.compareAndSwap('/a', 'v', {}))
expectError(client.compareAndDelete('/a', { ttl: 3 }))
expectError(client.get('/a', { wait: true }))
expectError(client.refresh('/a'))

// ---- errors: narrowing by instanceof and by code ----
declare const err: unknown
if (err instanceof KeyNotFoundError) {
  expectType<'KEY_NOT_FOUND'>(err.code)
  expectType<number>(err.errorCode)
  expectType<string | undefined>(err.detail)
  expectType<number>(err.index)
  expectType<number>(err.status)
}
if (err instanceof EtcdError) {
  expectType<ErrorCode>(err.code)
}
if (err instanceof RaftkvError) {
  expectType<ErrorCode>(err.code)
  if (err.code === 'OUTCOME_UNKNOWN') expectType<'OUTCOME_UNKNOWN'>(err.code)
  expectNotAssignable<ErrorCode>('NOT_A_CODE')
}
expectAssignable<EtcdError>(new CompareFailedError({ errorCode: 101, message: 'Compare failed', index: 1 }, 412))
expectAssignable<RaftkvError>(new NodeExistsError({ errorCode: 105, message: 'Key already exists', index: 1 }, 412))
expectNotAssignable<EtcdError>(new OutcomeUnknownError('m', 'http://x'))
expectType<boolean>(isRetryable(err))

// ---- watch element type ----
const w = client.watch('/a', { recursive: true, waitIndex: 7 })
expectAssignable<AsyncIterable<WatchEvent>>(w)
expectError(client.watch('/a', { waitIndex: '7' }))
async function consume(): Promise<void> {
  for await (const ev of client.watch('/a')) {
    expectType<WatchEvent>(ev)
    if (ev.type === 'change') {
      expectType<WatchChange>(ev)
      expectType<Action>(ev.action)
      expectType<number>(ev.index)
    } else {
      expectType<WatchResync>(ev)
      expectType<Node | undefined>(ev.node)
      expectType<number>(ev.etcdIndex)
    }
  }
}
void consume
