// `node --expose-gc --import tsx bench/listing.ts [keys]`: in one process, a store of N keys of
// 256 B in one directory, listed recursively (plain and sorted) two ways: rendered whole first
// (Store.get, then GoJSONEncoder slices: what GET did before) and lazily (Store.list slices).
// Reports the longest synchronous piece (what holds the event loop), the total encoding time and
// the heap the rendered copy takes per listing. Asserts nothing.
import { GoJSONEncoder, Listing, Store } from '../server/store/index.js'

const N = Number(process.argv[2] ?? 300_000)
const SLICE = 64 * 1024
const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => {})
const s = new Store()
const v = 'v'.repeat(256)
for (let i = 0; i < N; i++) s.apply({ op: 'set', key: `/big/k${(i * 7919) % N}`, value: v }, 0)

for (const sorted of [false, true]) {
  gc()
  const before = process.memoryUsage().heapUsed
  let t = performance.now()
  const ev = s.get('/big', { recursive: true, sorted }, 0)
  const renderMs = performance.now() - t
  const copyMiB = (process.memoryUsage().heapUsed - before) / 1048576
  const enc = new GoJSONEncoder(ev.toJSON())
  let longest = renderMs
  let total = renderMs
  while (!enc.done) {
    t = performance.now()
    enc.next(SLICE)
    const d = performance.now() - t
    longest = Math.max(longest, d)
    total += d
  }
  console.log(`rendered whole, sorted=${sorted}: longest piece ${longest.toFixed(1)} ms (the render), total ${total.toFixed(0)} ms, copy ${copyMiB.toFixed(0)} MiB per listing`)
  gc()
  const l = s.list('/big', { recursive: true, sorted }, 0) as Listing
  longest = 0
  total = 0
  let slices = 0
  while (!l.done) {
    t = performance.now()
    l.next(SLICE)
    const d = performance.now() - t
    longest = Math.max(longest, d)
    total += d
    slices++
  }
  l.close()
  console.log(`lazy listing,   sorted=${sorted}: longest piece ${longest.toFixed(1)} ms, total ${total.toFixed(0)} ms in ${slices} slices`)
}
