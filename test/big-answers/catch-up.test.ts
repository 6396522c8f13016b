// A member added to a cluster with a big store catches up by snapshot, and the leader goes on
// meanwhile: while the snapshot streams to the new member (through a proxy that passes it at a
// bounded rate, as a slow link would), the leader keeps its term and leadership and answers small
// writes and reads. Everything is counted; nothing is timed.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import http from 'node:http'
import net from 'node:net'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { ProcCluster, type ProcMember } from '../e2e/procs.js'
import { memberUrls } from '../support/procs.js'

const KEYS = 27_500
const SNAPSHOT_COUNT = 5000
const VALUE = 'v'.repeat(1000)
/** Bytes per second the proxy passes on a snapshot connection (a 30 MB snapshot takes ~6 s). */
const SNAPSHOT_RATE = 5 * 1024 * 1024

function request(base: string, method: string, p: string, body?: string, agent?: http.Agent): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }
    const r = http.request(new URL(p, base), { method, headers, agent: agent ?? false }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (text += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }))
      res.on('error', reject)
    })
    r.setTimeout(60_000, () => r.destroy(new Error(`timeout: ${method} ${p}`)))
    r.on('error', reject)
    r.end(body)
  })
}

async function load(m: ProcMember, keys: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 })
  let next = 0
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < keys) {
      const i = next++
      const r = await request(m.clientUrl, 'PUT', `/v2/keys/big/k${i}`, `value=${VALUE}`, agent)
      if (r.status !== 201 && r.status !== 200) throw new Error(`PUT k${i}: ${r.status} ${r.text}`)
    }
  }))
  agent.destroy()
}

/**
 * A TCP proxy to a member's peer port that passes snapshot connections (POST /raft/snapshot) at
 * `rate` bytes/s and everything else as is; it tells when a snapshot starts and is answered.
 */
class PeerProxy {
  snapshotsStarted = 0
  snapshotsAnswered = 0
  snapshotBytes = 0
  private readonly server: net.Server
  private readonly sockets = new Set<net.Socket>()

  private constructor(target: URL, private readonly rate: number) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(Number(target.port), target.hostname)
      this.sockets.add(client).add(upstream)
      let kind: 'unknown' | 'snapshot' | 'other' = 'unknown'
      client.on('data', (chunk: Buffer) => {
        if (kind === 'unknown') {
          kind = chunk.subarray(0, 32).toString('latin1').startsWith('POST /raft/snapshot') ? 'snapshot' : 'other'
          if (kind === 'snapshot') this.snapshotsStarted++
        }
        upstream.write(chunk)
        if (kind !== 'snapshot') return
        this.snapshotBytes += chunk.length
        client.pause()
        setTimeout(() => client.resume(), Math.ceil((chunk.length / this.rate) * 1000))
      })
      upstream.on('data', (chunk: Buffer) => {
        if (kind === 'snapshot' && /^HTTP\/1\.1 2\d\d/.test(chunk.subarray(0, 16).toString('latin1'))) this.snapshotsAnswered++
        client.write(chunk)
      })
      const end = (): void => {
        client.destroy()
        upstream.destroy()
      }
      client.on('close', end).on('error', end)
      upstream.on('close', end).on('error', end)
    })
  }

  static async start(target: string, rate: number): Promise<{ proxy: PeerProxy; url: string }> {
    const proxy = new PeerProxy(new URL(target), rate)
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve))
    const port = (proxy.server.address() as net.AddressInfo).port
    return { proxy, url: `http://127.0.0.1:${port}` }
  }

  get inFlight(): boolean {
    return this.snapshotsStarted > this.snapshotsAnswered
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}

/** The highest index of a snapshot a member logged as saved. */
function savedSnapshotIndex(logFile: string): number {
  let max = 0
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.includes('"saved snapshot"')) continue
    max = Math.max(max, (JSON.parse(line) as { index: number }).index)
  }
  return max
}

test('a member joining a big store catches up by snapshot while the leader keeps leading and answering', async () => {
  const c = await ProcCluster.start({ size: 2, snapshotCount: SNAPSHOT_COUNT })
  let proxy: PeerProxy | undefined
  try {
    let leader = await c.waitLeader(60_000)
    await load(leader, KEYS)
    leader = await c.waitLeader()
    // The leader has written the last snapshot of the load before the new member comes: that one
    // is sent, while the leader is not encoding another.
    const lastSnapshot = Math.floor(KEYS / SNAPSHOT_COUNT) * SNAPSHOT_COUNT
    for (let tries = 0; savedSnapshotIndex(path.join(c.dir, `${leader.name}.log`)) < lastSnapshot; tries++) {
      if (tries > 600) throw new Error(`the leader saved no snapshot at ${lastSnapshot} or later`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const before = await request(leader.clientUrl, 'GET', '/v2/keys/big/k0')
    const termBefore = Number(before.headers['x-raft-term'])

    // The new member listens on its own port and is reached through the proxy.
    const urls = await memberUrls()
    const started = await PeerProxy.start(urls.peerUrl, SNAPSHOT_RATE)
    proxy = started.proxy
    const m: ProcMember & { advertisePeerUrl: string } = {
      name: 'm3', ...urls, advertisePeerUrl: started.url, dataDir: path.join(c.dir, 'm3.etcd'), extraArgs: [],
    }
    const add = await fetch(`${leader.clientUrl}/v2/members`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ peerURLs: [started.url] }),
    })
    assert.is(add.status, 201, await add.text())
    c.members.push(m)
    c.spawn(m, 'existing', c.members.map((x) => `${x.name}=${x === m ? started.url : x.peerUrl}`).join(','))

    // Small writes and reads to the leader, one after another, until the snapshot was answered;
    // counted while it was in flight.
    let writesDuring = 0
    let readsDuring = 0
    let seq = 0
    for (let guard = 0; proxy.snapshotsAnswered === 0; guard++) {
      if (guard > 100_000) throw new Error('the snapshot never completed')
      const w = await request(leader.clientUrl, 'PUT', '/v2/keys/small', `value=${++seq}`)
      assert.ok(w.status === 200 || w.status === 201, `small write answered (${w.status} ${w.text})`)
      const inFlight = proxy.inFlight
      if (inFlight) writesDuring++
      const r = await request(leader.clientUrl, 'GET', '/v2/stats/self')
      assert.is(r.status, 200)
      if (proxy.inFlight) readsDuring++
      if (!inFlight && proxy.snapshotsStarted === 0) await new Promise((resolve) => setTimeout(resolve, 20))
    }
    assert.is(proxy.snapshotsStarted, 1, 'one snapshot was sent')
    assert.ok(proxy.snapshotBytes > (KEYS / 2) * VALUE.length, `the snapshot holds the store (${proxy.snapshotBytes} bytes)`)
    assert.ok(writesDuring >= 5, `the leader answered small writes while the snapshot was sent (${writesDuring})`)
    assert.ok(readsDuring >= 5, `the leader answered small reads while the snapshot was sent (${readsDuring})`)

    // The new member has the store and follows the log after it.
    const last = await request(leader.clientUrl, 'PUT', '/v2/keys/small', 'value=last')
    assert.is(last.status, 200)
    let caughtUp = false
    for (let tries = 0; tries < 600 && !caughtUp; tries++) {
      const r = await request(m.clientUrl, 'GET', '/v2/keys/small').catch(() => undefined)
      caughtUp = r !== undefined && r.status === 200 && JSON.parse(r.text).node.value === 'last'
      if (!caughtUp) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    assert.ok(caughtUp, 'the new member applied the writes after the snapshot')
    const k = await request(m.clientUrl, 'GET', `/v2/keys/big/k${KEYS - 1}`)
    assert.is(k.status, 200, 'the new member has the keys from the snapshot')

    const after = await request(leader.clientUrl, 'GET', '/v2/keys/small')
    assert.is(Number(after.headers['x-raft-term']), termBefore, 'no election happened while the snapshot was sent')
    assert.is((await c.waitLeader()).name, leader.name, 'the same member still leads')
  } finally {
    await proxy?.close()
    await c.close()
  }
})

test.run()
