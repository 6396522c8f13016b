// Worker process for the multi-process recipe tests: one role per process, configured by the
// RECIPE_CHILD env var (JSON), reporting what it did as JSON lines on stdout. Roles: `contend`
// (N rounds on a lock with a fenced resource), `pause-holder` (holds, gets SIGSTOPped by the
// parent, then tries a late write), `candidate` (election), `instance` (service registration).
// `api` picks the v2 Client (default) or the ClientV3.

import { clientFor, type Api } from './targets.js'
import { Election, FencedResource, Lock, register } from '../../recipes/index.js'

interface Config {
  role: 'contend' | 'pause-holder' | 'candidate' | 'instance'
  id: string
  endpoints: string[]
  api?: Api
  key: string
  ttl: number
  rounds?: number
  fair?: boolean
  resource?: string
}

const cfg = JSON.parse(process.env.RECIPE_CHILD ?? '{}') as Config
const out = (o: Record<string, unknown>): void => { process.stdout.write(JSON.stringify({ id: cfg.id, ...o }) + '\n') }
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const stamp = (): number => performance.timeOrigin + performance.now()
const client = clientFor(cfg.api ?? 'v2', cfg.endpoints)

async function contend(): Promise<void> {
  const lock = new Lock(client, cfg.key, { ttl: cfg.ttl, fair: cfg.fair ?? true, owner: cfg.id })
  const res = new FencedResource<{ holder: string; writes: number }>(client, cfg.resource!)
  for (let round = 0; round < (cfg.rounds ?? 1); round++) {
    const h = await lock.acquire({ timeout: 30_000 })
    const start = stamp()
    // Stamp our token first, then do the "work" and write again: a stale holder would be refused.
    await res.claim(h.token)
    await sleep(5 + Math.random() * 20)
    await res.update(h.token, (cur) => ({ holder: cfg.id, writes: (cur?.writes ?? 0) + 1 }))
    const end = stamp()
    // Under load timers run late (state doubtful): then the server must confirm the hold was never lost.
    const held = h.isHeld() || (await h.check())
    out({ ev: 'hold', round, token: h.token.index, start, end, held })
    await h.release()
  }
  out({ ev: 'done' })
}

async function pauseHolder(): Promise<void> {
  const lock = new Lock(client, cfg.key, { ttl: cfg.ttl, owner: cfg.id })
  const h = await lock.acquire({ timeout: 10_000 })
  let lostAt = 0
  h.on('lost', () => { lostAt = stamp() })
  out({ ev: 'acquired', token: h.token.index })
  // The parent SIGSTOPs us here for longer than the TTL.
  await sleep(1000)
  const stateAfterThaw = h.state
  let write: string
  try {
    await new FencedResource(client, cfg.resource!).set(h.token, `late write by ${cfg.id}`)
    write = 'accepted'
  } catch (err) {
    write = (err as Error).name
  }
  for (let i = 0; i < 60 && !h.signal.aborted; i++) await sleep(100)
  out({ ev: 'after-thaw', stateAfterThaw, write, lost: h.signal.aborted, lostAt, finalState: h.state })
  await h.release()
}

async function candidate(): Promise<void> {
  const e = new Election(client, cfg.key, { ttl: cfg.ttl, owner: cfg.id })
  e.on('lost', () => out({ ev: 'lost' }))
  out({ ev: 'campaigning' })
  const lead = await e.campaign({ id: cfg.id })
  out({ ev: 'elected', term: lead.term, at: stamp() })
}

async function instance(): Promise<void> {
  await register(client, cfg.key, cfg.id, { ttl: cfg.ttl, data: { id: cfg.id, pid: process.pid } })
  out({ ev: 'registered' })
}

const roles = { contend, 'pause-holder': pauseHolder, candidate, instance }
const keepAlive = setInterval(() => {}, 60_000)
roles[cfg.role]().then(
  () => { if (cfg.role === 'contend' || cfg.role === 'pause-holder') { clearInterval(keepAlive); client.close(); process.exit(0) } },
  (err) => { out({ ev: 'error', error: String((err as Error)?.stack ?? err) }); process.exit(1) },
)
