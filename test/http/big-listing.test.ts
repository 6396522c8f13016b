// Big directory listings are encoded a slice at a time: the slices equal goJSON's text, depth is
// no limit, and on a 3-member cluster a leader serving several large recursive listings keeps its
// leadership and answers a small write before the listings end.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import http from 'node:http'
import { GoJSONEncoder, goJSON } from '../../server/store/index.js'
import { ProcCluster, type ProcMember } from '../e2e/procs.js'
import { Prng } from '../support/prng.js'

function joinSlices(value: unknown, maxChars: number): string {
  const enc = new GoJSONEncoder(value)
  let out = ''
  for (let guard = 0; !enc.done; guard++) {
    out += enc.next(maxChars)
    if (guard > 1e6) throw new Error('encoder does not finish')
  }
  return out
}

function randomValue(rand: () => number, depth: number): unknown {
  const pick = Math.floor(rand() * (depth > 4 ? 4 : 7))
  const str = (): string => ['', 'a', '<b>&', '\u2028x\u2029', '\b\f\n"\\', 'é✓', 'k'.repeat(Math.floor(rand() * 50))][Math.floor(rand() * 7)]
  switch (pick) {
    case 0: return str()
    case 1: return Math.floor(rand() * 1e9)
    case 2: return rand() < 0.5
    case 3: return null
    case 4: return Array.from({ length: Math.floor(rand() * 5) }, () => (rand() < 0.1 ? undefined : randomValue(rand, depth + 1)))
    default: {
      const o: Record<string, unknown> = {}
      for (let i = Math.floor(rand() * 5); i > 0; i--) o[str() + i] = rand() < 0.1 ? undefined : randomValue(rand, depth + 1)
      return o
    }
  }
}

test('slices joined equal goJSON for random values and any slice size', () => {
  const prng = new Prng(7)
  const rand = (): number => prng.float()
  for (let i = 0; i < 2000; i++) {
    const v = randomValue(rand, 0)
    const want = goJSON(v)
    for (const size of [1, 5, 64, 1 << 16]) assert.is(joinSlices(v, size), want, `value ${i}, slice ${size}`)
  }
})

test('a listing 5000 directories deep encodes (JSON.stringify alone overflows the stack)', () => {
  let node: Record<string, unknown> = { key: '/d', value: 'leaf', modifiedIndex: 1, createdIndex: 1 }
  for (let i = 0; i < 5000; i++) node = { key: '/d', dir: true, nodes: [node], modifiedIndex: 1, createdIndex: 1 }
  const text = joinSlices({ action: 'get', node }, 1 << 16)
  assert.ok(text.startsWith('{"action":"get","node":{"key":"/d","dir":true,"nodes":[{'))
  assert.is(text.split('"nodes":[').length - 1, 5000)
})

function request(m: ProcMember, method: string, path: string, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; bytes: number }> {
  return new Promise((resolve, reject) => {
    const u = new URL(path, m.clientUrl)
    const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }
    const r = http.request(u, { method, headers, agent: false }, (res) => {
      let bytes = 0
      res.on('data', (d: Buffer) => (bytes += d.length))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes }))
      res.on('error', reject)
    })
    r.setTimeout(60_000, () => r.destroy(new Error(`timeout: ${method} ${path}`)))
    r.on('error', reject)
    r.end(body)
  })
}

async function load(m: ProcMember, keys: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 })
  let next = 0
  const value = 'v'.repeat(200)
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < keys) {
      const i = next++
      await new Promise<void>((resolve, reject) => {
        const r = http.request(new URL(`/v2/keys/big/k${i}`, m.clientUrl), { method: 'PUT', agent, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
          res.resume()
          res.on('end', () => (res.statusCode === 200 || res.statusCode === 201 ? resolve() : reject(new Error(`PUT k${i}: ${res.statusCode}`))))
        })
        r.setTimeout(20_000, () => r.destroy(new Error(`timeout: PUT k${i}`)))
        r.on('error', reject)
        r.end(`value=${value}`)
      })
    }
  }))
  agent.destroy()
}

test('a leader serving big listings keeps leadership and answers a small write before they end', async () => {
  const c = await ProcCluster.start({ size: 3 })
  try {
    let leader = await c.waitLeader()
    const keys = 30_000
    await load(leader, keys)
    leader = await c.waitLeader()
    const before = await request(leader, 'GET', '/v2/keys/big/k0')
    const termBefore = Number(before.headers['x-raft-term'])

    // Several listings of ~10 MB each at once; a write and small reads go to the same member.
    let listingsDone = 0
    const listings = Array.from({ length: 5 }, () => request(leader, 'GET', '/v2/keys/big?recursive=true').then((r) => { listingsDone++; return r }))
    let writeAnsweredWith = -1
    const write = request(leader, 'PUT', '/v2/keys/small', 'value=1').then((r) => { writeAnsweredWith = listingsDone; return r })
    let smallReadsDuringListings = 0
    const reads = (async () => {
      while (listingsDone < 5) {
        await request(leader, 'GET', '/v2/stats/self')
        if (listingsDone < 5) smallReadsDuringListings++
      }
    })()
    const results = await Promise.all(listings)
    const w = await write
    await reads
    for (const r of results) {
      assert.is(r.status, 200)
      assert.ok(r.bytes > keys * 200, `listing has every key (${r.bytes} bytes)`)
    }
    assert.is(w.status, 201)
    assert.ok(writeAnsweredWith < 5, `the write was answered before the listings ended (answered after ${writeAnsweredWith} of 5)`)
    assert.ok(smallReadsDuringListings >= 1, `small reads were answered while the listings ran (${smallReadsDuringListings})`)

    const after = await request(leader, 'GET', '/v2/keys/small')
    assert.is(Number(after.headers['x-raft-term']), termBefore, 'no election happened during the listings')
    assert.is((await c.waitLeader()).name, leader.name, 'the same member still leads')
  } finally {
    await c.close()
  }
})

test.run()
