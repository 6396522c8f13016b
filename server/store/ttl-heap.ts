// Min-heap of nodes with a TTL, ordered by (expiration, createdIndex, key) so that expiry order is
// a pure function of the tree (the same on every replica and after a snapshot restore). Each node
// remembers its heap slot, so update and remove are O(log n). No I/O.

/** What the heap needs from a node. `heapIndex` is owned by the heap (-1 when not in it). */
export interface TtlItem {
  readonly path: string
  readonly createdIndex: number
  expireMs: number | undefined
  heapIndex: number
}

function less(a: TtlItem, b: TtlItem): boolean {
  const ea = a.expireMs as number
  const eb = b.expireMs as number
  if (ea !== eb) return ea < eb
  // Ties: creation order; nodes created by one write (parents and leaf) by key.
  if (a.createdIndex !== b.createdIndex) return a.createdIndex < b.createdIndex
  return a.path < b.path
}

export class TtlHeap<T extends TtlItem> {
  private readonly items: T[] = []

  get size(): number {
    return this.items.length
  }

  /** The node that expires first, or undefined. */
  top(): T | undefined {
    return this.items[0]
  }

  /** Adds a node whose expireMs is set and which is not in the heap. */
  push(n: T): void {
    n.heapIndex = this.items.length
    this.items.push(n)
    this.up(n.heapIndex)
  }

  /** Restores order after n.expireMs changed. */
  update(n: T): void {
    if (n.heapIndex < 0) return this.push(n)
    if (!this.up(n.heapIndex)) this.down(n.heapIndex)
  }

  /** Removes n if present. */
  remove(n: T): void {
    const i = n.heapIndex
    if (i < 0) return
    const last = this.items.pop() as T
    n.heapIndex = -1
    if (last !== n) {
      this.items[i] = last
      last.heapIndex = i
      if (!this.up(i)) this.down(i)
    }
  }

  private swap(i: number, j: number): void {
    const a = this.items[i]
    const b = this.items[j]
    this.items[i] = b
    this.items[j] = a
    a.heapIndex = j
    b.heapIndex = i
  }

  private up(i: number): boolean {
    const start = i
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!less(this.items[i], this.items[p])) break
      this.swap(i, p)
      i = p
    }
    return i !== start
  }

  private down(i: number): void {
    const n = this.items.length
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) return
      const r = l + 1
      const m = r < n && less(this.items[r], this.items[l]) ? r : l
      if (!less(this.items[m], this.items[i])) return
      this.swap(i, m)
      i = m
    }
  }
}
