// Linearizability checker for a compare-and-set register, Wing-Gong search with Porcupine-style
// memoization of (set of linearized ops, register state), partitioned per key. Pure: no I/O.
//
// Semantics of outcomes:
// - ok:      the op took effect atomically between invoke and return, with the observed result.
// - fail:    a definite failure. A failed CAS is an observation (the value differed at some
//            instant in the interval); any other failed op had no effect and is ignored.
// - unknown: the op may take effect at any instant after invoke, or never. Modelled as returning
//            at +Infinity: it can be placed after every completed op, where it changes nothing
//            anyone observed, which is the same as "never". Unknown reads are dropped.

import type { RegisterEntry } from './history.js'

/** Register state: the value, or null when the key does not exist. */
export type RegisterState = string | null

/** Result of checking one key. */
export interface KeyResult {
  key: string
  ok: boolean
  /** True when the search budget ran out before a verdict (counts as "not proven"). */
  timedOut: boolean
  ops: number
  /** When not linearizable: a human-readable explanation around the op the search could not pass. */
  explanation?: string
}

/** Result of checking a whole history. */
export interface CheckResult {
  ok: boolean
  keys: KeyResult[]
  /** Problems found without search: one modifiedIndex reported with two different values. */
  indexConflicts: string[]
}

export interface CheckOptions {
  /** Initial state of every key (default null: absent). */
  initial?: RegisterState
  /** Upper bound on search steps per key before giving up (default 2,000,000: a few seconds). */
  maxSteps?: number
}

interface Op {
  n: number // dense index 0..count-1 within the key
  e: RegisterEntry
}

interface Node {
  op: Op
  isCall: boolean
  time: number
  match: Node | null // call -> its return node
  prev: Node | null
  next: Node | null
}

/**
 * Applies `e` to `state` under the outcome it had. Returns the next state, or undefined if the
 * op's observed result is impossible from `state`.
 */
export function stepRegister(state: RegisterState, e: RegisterEntry): RegisterState | undefined {
  const op = e.op
  if (e.outcome === 'unknown') {
    // May have happened: a write sets the value; a CAS succeeds iff its compare holds.
    if (op.f === 'write') return op.value
    if (op.f === 'cas') return state === op.expect ? op.value : state
    return state
  }
  if (e.outcome === 'fail') {
    if (op.f === 'cas') return state !== op.expect ? state : undefined
    return state
  }
  switch (op.f) {
    case 'read':
      return state === (e.readValue ?? null) ? state : undefined
    case 'write':
      return op.value
    case 'cas':
      return state === op.expect ? op.value : undefined
  }
}

/** Ops that carry information for the search (others cannot change or observe the state). */
function relevant(e: RegisterEntry): boolean {
  if (e.outcome === 'unknown') return e.op.f !== 'read'
  if (e.outcome === 'fail') return e.op.f === 'cas' && !e.rejected
  return true
}

function describeEntry(e: RegisterEntry): string {
  const op = e.op
  const what =
    op.f === 'read'
      ? `read -> ${e.outcome === 'ok' ? JSON.stringify(e.readValue ?? null) : e.outcome}`
      : op.f === 'write'
        ? `write ${JSON.stringify(op.value)} -> ${e.outcome}`
        : `cas ${JSON.stringify(op.expect)}${op.byIndex !== undefined ? ` (prevIndex ${op.byIndex})` : ''} => ${JSON.stringify(op.value)} -> ${e.outcome}`
  const ret = Number.isFinite(e.returnMs) ? e.returnMs.toFixed(1) : 'inf'
  return `#${e.id} c${e.client}@${e.member} [${e.invokeMs.toFixed(1)}, ${ret}] ${what}${e.detail ? ` (${e.detail})` : ''}`
}

/** Checks the ops of ONE key. */
export function checkKey(key: string, entries: RegisterEntry[], opts: CheckOptions = {}): KeyResult {
  const maxSteps = opts.maxSteps ?? 2_000_000
  const ops: Op[] = entries.filter(relevant).map((e, n) => ({ n, e }))
  // Build the event list: calls and returns sorted by time; at equal times calls first, so that
  // touching intervals count as concurrent (the lenient choice: never a false alarm from ties).
  const events: Node[] = []
  for (const op of ops) {
    const call: Node = { op, isCall: true, time: op.e.invokeMs, match: null, prev: null, next: null }
    const ret: Node = { op, isCall: false, time: op.e.returnMs, match: null, prev: null, next: null }
    call.match = ret
    events.push(call, ret)
  }
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.op.n - b.op.n : a.isCall ? -1 : 1))
  const head: Node = { op: { n: -1, e: undefined as unknown as RegisterEntry }, isCall: false, time: -Infinity, match: null, prev: null, next: null }
  let last = head
  for (const ev of events) {
    last.next = ev
    ev.prev = last
    last = ev
  }

  const lift = (call: Node): void => {
    call.prev!.next = call.next
    if (call.next) call.next.prev = call.prev
    const ret = call.match!
    ret.prev!.next = ret.next
    if (ret.next) ret.next.prev = ret.prev
  }
  const unlift = (call: Node): void => {
    const ret = call.match!
    ret.prev!.next = ret
    if (ret.next) ret.next.prev = ret
    call.prev!.next = call
    if (call.next) call.next.prev = call
  }

  const words = new Uint32Array(Math.ceil(ops.length / 32) + 1)
  const cache = new Set<string>()
  const keyOf = (state: RegisterState): string => `${state === null ? '\u0000' : state}|${words.join(',')}`
  const stack: { call: Node; state: RegisterState }[] = []
  let state: RegisterState = opts.initial ?? null
  let entry = head.next
  let steps = 0
  // For the explanation: the deepest point reached and the return it could not get past.
  let deepest = -1
  let stuckAt: Node | null = null
  let stuckState: RegisterState = null
  let deepestLinearized: number[] = []

  while (head.next !== null) {
    if (++steps > maxSteps) return { key, ok: false, timedOut: true, ops: ops.length }
    if (entry === null) break // cannot happen: a return always precedes the end of a non-empty list
    if (entry.isCall) {
      const next = stepRegister(state, entry.op.e)
      if (next !== undefined) {
        const n = entry.op.n
        words[n >>> 5]! |= 1 << (n & 31)
        const k = keyOf(next)
        if (!cache.has(k)) {
          cache.add(k)
          stack.push({ call: entry, state })
          state = next
          lift(entry)
          entry = head.next
          continue
        }
        words[n >>> 5]! &= ~(1 << (n & 31))
      }
      entry = entry.next
    } else {
      // A return reached before its call was linearized: backtrack.
      if (stack.length > deepest) {
        deepest = stack.length
        stuckAt = entry
        stuckState = state
        deepestLinearized = stack.map((s) => s.call.op.e.id)
      }
      const top = stack.pop()
      if (!top) {
        return { key, ok: false, timedOut: false, ops: ops.length, explanation: explain(key, ops, stuckAt, stuckState, deepestLinearized) }
      }
      state = top.state
      const n = top.call.op.n
      words[n >>> 5]! &= ~(1 << (n & 31))
      unlift(top.call)
      entry = top.call.next
    }
  }
  return { key, ok: true, timedOut: false, ops: ops.length }
}

function explain(key: string, ops: Op[], stuck: Node | null, state: RegisterState, linearized: number[]): string {
  if (!stuck) return `key ${key}: no linearization`
  const e = stuck.op.e
  const done = new Set(linearized)
  // Ops overlapping the stuck op that were not linearized: the candidates the search tried.
  const around = ops
    .map((o) => o.e)
    .filter((o) => o.id !== e.id && !done.has(o.id) && o.invokeMs <= e.returnMs && o.returnMs >= e.invokeMs)
    .slice(0, 8)
  const lines = [
    `key ${key}: not linearizable; longest linearizable prefix has ${linearized.length} ops, ending in state ${JSON.stringify(state)};`,
    `  cannot place: ${describeEntry(e)}`,
    ...around.map((o) => `  concurrent:   ${describeEntry(o)}`),
  ]
  const lastIds = linearized.slice(-3)
  for (const id of lastIds) {
    const o = ops.find((x) => x.e.id === id)
    if (o) lines.push(`  linearized:   ${describeEntry(o.e)}`)
  }
  return lines.join('\n')
}

/**
 * Checks a whole register history: partitions by key and searches each key independently
 * (linearizability is compositional). Also checks that every modifiedIndex seen for a key names
 * one value, which is what makes prevIndex CAS equivalent to a value CAS in the model.
 */
export function checkHistory(entries: RegisterEntry[], opts: CheckOptions = {}): CheckResult {
  const byKey = new Map<string, RegisterEntry[]>()
  for (const e of entries) {
    let l = byKey.get(e.key)
    if (!l) byKey.set(e.key, (l = []))
    l.push(e)
  }
  const keys: KeyResult[] = []
  const indexConflicts: string[] = []
  for (const [key, list] of [...byKey].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    keys.push(checkKey(key, list, opts))
    const seen = new Map<number, string | null>()
    for (const e of list) {
      if (e.outcome !== 'ok' || e.modifiedIndex === undefined) continue
      const v = e.op.f === 'read' ? (e.readValue ?? null) : e.op.value
      const prior = seen.get(e.modifiedIndex)
      if (prior === undefined) seen.set(e.modifiedIndex, v)
      else if (prior !== v) indexConflicts.push(`key ${key}: modifiedIndex ${e.modifiedIndex} reported with ${JSON.stringify(prior)} and ${JSON.stringify(v)} (#${e.id})`)
    }
  }
  return { ok: keys.every((k) => k.ok) && indexConflicts.length === 0, keys, indexConflicts }
}

export { describeEntry }
