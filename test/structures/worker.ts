// Worker process of the multi-process data-structure tests: one role per process, configured by the
// RECIPE_CHILD env var (JSON), reporting what it did as JSON lines on stdout.
//   push     pushes `count` strings "<id>-<i>" alternately at both ends (or at `end`)
//   pop      pops alternately at both ends until the list is empty and `<stop>` exists (`ready`
//            after its first attempt)
//   bpop     one blocking pop at `end` (timeout `timeout`), after reporting `waiting`
//   move     moves `from`→`to` from `key` to `dst` until the source is empty and `<stop>` exists
//   float    `count` float increments of `delta` on field `field` of the map at `key`
//   retarget points the reference at `key` to /t/cfg/a, b, c in turn (CAS), updating each target

import { clientFor, type Api } from '../recipes/targets.js'
import { List, Reference, TypedMap, TypedValue, types, type End } from '../../recipes/index.js'

interface Config {
  role: 'push' | 'pop' | 'bpop' | 'move' | 'float' | 'retarget'
  id: string
  endpoints: string[]
  api: Api
  key: string
  dst?: string
  stop?: string
  end?: End
  from?: End
  to?: End
  count?: number
  delta?: number
  field?: string
  timeout?: number
}

const cfg = JSON.parse(process.env.RECIPE_CHILD ?? '{}') as Config
const out = (o: Record<string, unknown>): void => { process.stdout.write(JSON.stringify({ id: cfg.id, ...o }) + '\n') }
// Generous per-request timeout: the box is loaded, and a lost reply would only end in an error here.
const client = clientFor(cfg.api, cfg.endpoints, 10_000)
const other = (e: End): End => (e === 'left' ? 'right' : 'left')

async function stopped(): Promise<boolean> {
  return (await new TypedMap(client, cfg.stop!, types.string).get('now')) !== undefined
}

async function push(): Promise<void> {
  const list = new List(client, cfg.key, types.string)
  let end: End = cfg.end ?? 'left'
  for (let i = 0; i < cfg.count!; i++) {
    await list.push(end, `${cfg.id}-${i}`)
    if (!cfg.end) end = other(end)
  }
  out({ ev: 'done' })
}

async function pop(): Promise<void> {
  const list = new List(client, cfg.key, types.string)
  let end: End = 'right'
  const got: string[] = []
  let ready = false
  for (;;) {
    const v = await list.pop(end)
    if (!ready) { ready = true; out({ ev: 'ready' }) }
    end = other(end)
    if (v !== undefined) { got.push(v); continue }
    if ((await stopped()) && (await list.length()) === 0) break
    await new Promise((r) => setTimeout(r, 20))
  }
  out({ ev: 'done', got })
}

async function bpop(): Promise<void> {
  const list = new List(client, cfg.key, types.string)
  const p = list.blockingPop(cfg.end ?? 'left', { timeout: cfg.timeout ?? 30_000 })
  out({ ev: 'waiting' })
  out({ ev: 'got', value: await p })
}

async function move(): Promise<void> {
  const src = new List(client, cfg.key, types.string)
  const dst = new List(client, cfg.dst!, types.string)
  const moved: string[] = []
  let ready = false
  for (;;) {
    const v = await src.move(dst, cfg.from!, cfg.to!)
    if (!ready) { ready = true; out({ ev: 'ready' }) }
    if (v !== undefined) { moved.push(v); continue }
    if (await stopped()) break
    await new Promise((r) => setTimeout(r, 20))
  }
  out({ ev: 'done', moved })
}

async function float(): Promise<void> {
  const map = new TypedMap(client, cfg.key, types.float)
  for (let i = 0; i < cfg.count!; i++) await map.incrFloat(cfg.field!, cfg.delta!)
  out({ ev: 'done' })
}

async function retarget(): Promise<void> {
  const ref = new Reference(client, cfg.key, types.string)
  let prev = await ref.target()
  for (const name of ['a', 'b', 'c']) {
    const target = `/t/cfg/${name}`
    await new TypedValue(client, target, types.string).set(`${name}-v1`)
    if (!(await ref.retarget(prev, target))) throw new Error(`retarget to ${target} refused`)
    prev = target
    await new Promise((r) => setTimeout(r, 300))
    await new TypedValue(client, target, types.string).set(`${name}-v2`)
    await new Promise((r) => setTimeout(r, 300))
  }
  out({ ev: 'done' })
}

const roles = { push, pop, bpop, move, float, retarget }
roles[cfg.role]().then(
  () => { client.close(); process.exit(0) },
  (err) => { out({ ev: 'error', error: String((err as Error)?.stack ?? err) }); process.exit(1) },
)
