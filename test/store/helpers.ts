// Shared helpers for the store tests: typed unwrapping of apply() results and a fixed clock.
import * as assert from 'uvu/assert'
import { Store, StoreError, StoreEvent, type Command } from '../../server/store/index.js'

/** 2027-01-15T08:00:00Z: a fixed "now" (tests never read a real clock). */
export const T0 = 1_800_000_000_000

/** Applies and asserts success. */
export function ok(s: Store, cmd: Command, now = T0): StoreEvent {
  const r = s.apply(cmd, now)
  if (!(r instanceof StoreEvent)) assert.unreachable(`expected an event, got ${r instanceof StoreError ? r.body() : String(r)}`)
  return r as StoreEvent
}

/** Applies and asserts a StoreError with the given code; returns it. */
export function fail(s: Store, cmd: Command, code: number, now = T0): StoreError {
  const r = s.apply(cmd, now)
  if (!(r instanceof StoreError)) assert.unreachable(`expected error ${code}, got ${r instanceof StoreEvent ? r.body() : String(r)}`)
  assert.is((r as StoreError).errorCode, code)
  return r as StoreError
}

/** get() that returns the thrown StoreError instead of throwing. */
export function getErr(s: Store, key: string, now = T0): StoreError {
  try {
    s.get(key, {}, now)
  } catch (e) {
    assert.instance(e, StoreError)
    return e as StoreError
  }
  return assert.unreachable('expected an error') as never
}

/** Parsed body of an event or error (exact JSON text as etcd writes it). */
export function json(x: StoreEvent | StoreError): unknown {
  return JSON.parse(x.body())
}

export function set(s: Store, key: string, value: string, extra: Partial<Extract<Command, { op: 'set' }>> = {}, now = T0): StoreEvent {
  return ok(s, { op: 'set', key, value, ...extra }, now)
}
