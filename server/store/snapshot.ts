// Store snapshot format (CONS-4): the tree with absolute expirations, the etcd index and the
// retained event history, as compact deterministic JSON. Pure data conversion; no I/O.

import { StoreEvent } from './event.js'
import { Node } from './node.js'
import type { Action, NodeJSON } from './types.js'

/** One tree node; directories have `d` (children in insertion order), files `v`. */
interface SnapNode {
  /** name (last path segment) */
  k: string
  /** createdIndex, modifiedIndex */
  c: number
  m: number
  v?: string
  /** expiration, ms since the epoch */
  e?: number
  d?: SnapNode[]
}

/** One history event exactly as it was delivered (node JSON included, ttl as computed then). */
interface SnapEvent {
  a: Action
  n: NodeJSON
  p?: NodeJSON
  i: number
  /** refresh (TTL-5): kept for index continuity, never delivered */
  r?: 1
}

export interface SnapshotV1 {
  version: 1
  index: number
  root: SnapNode[]
  history: SnapEvent[]
}

function encodeChildren(d: Node): SnapNode[] {
  const out: SnapNode[] = []
  for (const n of (d.children as Map<string, Node>).values()) {
    const o: SnapNode = { k: n.name, c: n.createdIndex, m: n.modifiedIndex }
    if (n.children === null) o.v = n.value
    if (n.expireMs !== undefined) o.e = n.expireMs
    if (n.children !== null) o.d = encodeChildren(n)
    out.push(o)
  }
  return out
}

/** Serialises a store state. Equal states give byte-equal output. */
export function encodeSnapshot(root: Node, index: number, events: StoreEvent[]): string {
  const snap: SnapshotV1 = {
    version: 1,
    index,
    root: encodeChildren(root),
    history: events.map((e) => {
      const o: SnapEvent = { a: e.action, n: e.node, i: e.etcdIndex }
      if (e.prevNode !== undefined) o.p = e.prevNode
      if (e.refresh) o.r = 1
      return o
    }),
  }
  return JSON.stringify(snap)
}

/** Parses and checks the version. Throws on anything but version 1. */
export function decodeSnapshot(s: string): SnapshotV1 {
  const snap = JSON.parse(s) as SnapshotV1
  if (snap === null || typeof snap !== 'object' || snap.version !== 1) {
    throw new Error(`unsupported store snapshot version ${String((snap as { version?: unknown } | null)?.version)}`)
  }
  return snap
}

/** Rebuilds the tree under a new root; `onTtl` is called for every node with an expiration. */
export function buildTree(list: SnapNode[], onTtl: (n: Node) => void): Node {
  const root = new Node('/', '', null, 0, 0, '', new Map(), undefined)
  const fill = (parent: Node, items: SnapNode[]): void => {
    const children = parent.children as Map<string, Node>
    const base = parent.path === '/' ? '' : parent.path
    for (const o of items) {
      const isDir = o.d !== undefined
      const n = new Node(base + '/' + o.k, o.k, parent, o.c, o.m, isDir ? '' : (o.v ?? ''), isDir ? new Map() : null, o.e)
      children.set(o.k, n)
      if (o.e !== undefined) onTtl(n)
      if (o.d !== undefined) fill(n, o.d)
    }
  }
  fill(root, list)
  return root
}

/** The history events, oldest first. */
export function decodeEvents(snap: SnapshotV1): StoreEvent[] {
  return snap.history.map((o) => new StoreEvent(o.a, o.n, o.p, o.i, o.r === 1))
}
