// A big listing over HTTP on a live member: a reader that holds the answer back while keys are
// updated and deleted still gets the state at the answer's X-Etcd-Index, and a reader that goes
// away mid-answer leaves nothing behind in the store (the listing is closed).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import http from 'node:http'
import { startServer, type RunningServer } from '../../server/index.js'
import type { Store } from '../../server/store/index.js'
import { waitReady } from '../http/raw-client.js'

// 20 MB: more than the socket buffers hold, so the listing waits for its reader.
const KEYS = 2000
const VALUE = 'x'.repeat(10_000)

function put(base: string, key: string, value: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = http.request(new URL(`/v2/keys${key}`, base), { method: 'PUT', agent: false, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    r.on('error', reject)
    r.end(`value=${value}`)
  })
}

function del(base: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = http.request(new URL(`/v2/keys${key}`, base), { method: 'DELETE', agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    r.on('error', reject)
    r.end()
  })
}

/** Opens a listing and returns once its headers arrived, with the response paused. */
function openListing(base: string, path: string): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const r = http.request(new URL(path, base), { agent: false }, (res) => {
      res.pause()
      resolve(res)
    })
    r.on('error', reject)
    r.end()
  })
}

function readAll(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    res.setEncoding('utf8')
    res.on('data', (d: string) => (text += d))
    res.on('end', () => resolve(text))
    res.on('error', reject)
    res.resume()
  })
}

const records = (s: RunningServer): number => (s.backend.store as unknown as Store).listingRecords

async function loaded(): Promise<RunningServer> {
  const s = await startServer({ name: 'big', listenClientUrls: ['http://127.0.0.1:0'] })
  await waitReady(s.url)
  for (let i = 0; i < KEYS; i += 50) {
    await Promise.all(Array.from({ length: 50 }, (_, j) => put(s.url, `/d/k${i + j}`, VALUE)))
  }
  return s
}

test('a held-back listing is the state at its X-Etcd-Index though keys change meanwhile', async () => {
  const s = await loaded()
  try {
    for (const query of ['?recursive=true', '?recursive=true&sorted=true']) {
      const res = await openListing(s.url, `/v2/keys/${query}`)
      assert.is(res.statusCode, 200)
      assert.is(res.headers['transfer-encoding'], 'chunked', 'a big listing is sent in slices')
      const index = Number(res.headers['x-etcd-index'])
      // While the listing waits for its reader: updates, deletes and new keys.
      for (let i = 0; i < 100; i++) {
        assert.is(await put(s.url, `/d/k${i}`, 'new'), 200)
        assert.is(await del(s.url, `/d/k${KEYS - 1 - i}`), 200)
        assert.is(await put(s.url, `/d/added${i}`, 'new'), 201)
      }
      assert.ok(records(s) > 0, 'the store keeps what the open listing needs')
      const body = JSON.parse(await readAll(res)) as { node: { nodes: { key: string; nodes?: { key: string; value: string; modifiedIndex: number }[] }[] } }
      const d = body.node.nodes.find((n) => n.key === '/d')!
      const listed = d.nodes!
      assert.is(listed.length, KEYS, `every key that existed at ${index}, none added since`)
      for (const n of listed) {
        assert.is(n.value, VALUE, `${n.key} as it was at ${index}`)
        assert.ok(n.modifiedIndex <= index)
      }
      if (query.includes('sorted')) {
        const keys = listed.map((n) => n.key)
        assert.equal(keys, [...keys].sort(), 'sorted by key')
      }
      // Put the store back for the next round.
      for (let i = 0; i < 100; i++) {
        await put(s.url, `/d/k${i}`, VALUE)
        await put(s.url, `/d/k${KEYS - 1 - i}`, VALUE)
        await del(s.url, `/d/added${i}`)
      }
      assert.is(records(s), 0, 'nothing kept once the listing ended')
    }
  } finally {
    await s.close()
  }
})

test('a reader that goes away mid-listing leaves no records behind', async () => {
  const s = await loaded()
  try {
    const res = await openListing(s.url, '/v2/keys/d?recursive=true')
    await put(s.url, '/d/k1', 'new')
    assert.ok(records(s) > 0)
    res.destroy()
    for (let tries = 0; records(s) > 0; tries++) {
      if (tries > 500) assert.unreachable('the listing of a gone reader was never closed')
      // Writes keep going; each would add a record while the listing stayed open.
      await put(s.url, '/d/k2', String(tries))
    }
    assert.is(records(s), 0)
  } finally {
    await s.close()
  }
})

test.run()
