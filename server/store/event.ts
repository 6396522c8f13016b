// StoreEvent: the result of a store operation and the unit the watcher hub and the event history
// hold. Built once per operation; its JSON text is produced lazily once and shared by the write's
// response and every watcher (NODE-2, WATCH-6). No I/O here.

import { goJSON } from './json.js'
import type { Action, NodeJSON } from './types.js'

/** Actions whose responses `noValueOnSuccess` trims to `{"action":...}` (KEYS-18). */
const TRIMMABLE: ReadonlySet<Action> = new Set<Action>(['set', 'create', 'update', 'compareAndSwap'])

/**
 * One store event (ACT-1). `node`/`prevNode` are plain NodeJSON objects in etcd field order; treat
 * them as immutable (they are shared with the history and all watchers).
 */
export class StoreEvent {
  /** The event's index: node.modifiedIndex (0 for a GET of the fresh root). */
  readonly index: number
  /** The node key ('' for the root). */
  readonly key: string
  private text: string | undefined

  constructor(
    readonly action: Action,
    readonly node: NodeJSON,
    readonly prevNode: NodeJSON | undefined,
    /**
     * The store index after the operation: X-Etcd-Index of a write or GET response (HDR-2).
     * Watch responses use Watcher.etcdIndex instead (WATCH-15).
     */
    readonly etcdIndex: number,
    /** A TTL refresh (TTL-5): consumes an index but is never delivered to watchers (WATCH-7). */
    readonly refresh = false,
  ) {
    this.index = node.modifiedIndex ?? 0
    this.key = node.key ?? ''
  }

  /** HTTP status of a write/get response (HDR-4): 201 for create and for a set that created. */
  get status(): 200 | 201 {
    return this.action === 'create' || (this.action === 'set' && this.prevNode === undefined) ? 201 : 200
  }

  /** `{action, node, prevNode?}` in etcd's order (NODE-2). */
  toJSON(): { action: Action; node: NodeJSON; prevNode?: NodeJSON } {
    return this.prevNode === undefined
      ? { action: this.action, node: this.node }
      : { action: this.action, node: this.node, prevNode: this.prevNode }
  }

  /**
   * The exact body etcd writes for this event, with the trailing newline (GEN-7). Cached.
   * With `noValueOnSuccess` a set/create/update/compareAndSwap answers only `{"action":...}`
   * (KEYS-18); other actions are never trimmed.
   */
  body(noValueOnSuccess = false): string {
    if (noValueOnSuccess && TRIMMABLE.has(this.action)) return `{"action":"${this.action}"}\n`
    if (this.text === undefined) this.text = goJSON(this.toJSON()) + '\n'
    return this.text
  }
}
