// Durability through the real member: a raftkv process (server/cli.ts) takes writes with a small
// --snapshot-count, is killed with SIGKILL, and restarts from its data dir with every acknowledged
// key (same modifiedIndex) and the next index continuing where it left off; etcd's data-dir layout
// is on disk. Exercises the WAL + snapshotter as the server wires them (openDurableStorage).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { cleanup, tempDir } from './helpers.js'
import { loopbackUrl, reservePort } from '../support/ports.js'
import { memberFlags, startRaftkv, waitOk, type Child } from '../support/procs.js'

function startMember(dataDir: string, client: number, peer: number): Child {
  const flags = memberFlags({ name: 'n1', dataDir, clientUrl: loopbackUrl(client), peerUrl: loopbackUrl(peer), initialCluster: `n1=${loopbackUrl(peer)}` })
  return startRaftkv([...flags, '--snapshot-count', '40'])
}

test('a SIGKILLed member restarts from its data dir with every acknowledged write', async () => {
  const base = tempDir('member')
  const dataDir = path.join(base, 'n1.etcd')
  const [client, peer] = [await reservePort(), await reservePort()]
  const url = `http://127.0.0.1:${client}`
  let child = startMember(dataDir, client, peer)
  try {
    await waitOk(`${url}/v2/keys/`, 15_000)
    const acked = new Map<string, number>()
    for (let i = 1; i <= 130; i++) {
      const r = await fetch(`${url}/v2/keys/k${i}`, { method: 'PUT', body: new URLSearchParams({ value: `v${i}` }) })
      assert.is(r.status, 201)
      acked.set(`k${i}`, ((await r.json()) as { node: { modifiedIndex: number } }).node.modifiedIndex)
    }
    await child.kill()
    assert.ok(fs.readdirSync(path.join(dataDir, 'member', 'wal')).some((n) => /^[0-9a-f]{16}-[0-9a-f]{16}\.wal$/.test(n)))
    assert.ok(fs.readdirSync(path.join(dataDir, 'member', 'snap')).some((n) => /^[0-9a-f]{16}-[0-9a-f]{16}\.snap$/.test(n)), 'snapshots taken')

    child = startMember(dataDir, client, peer)
    await waitOk(`${url}/v2/keys/`, 15_000)
    for (const [k, idx] of acked) {
      const r = await fetch(`${url}/v2/keys/${k}`)
      assert.is(r.status, 200, `${k} after restart`)
      const body = (await r.json()) as { node: { value: string; modifiedIndex: number } }
      assert.is(body.node.value, `v${k.slice(1)}`)
      assert.is(body.node.modifiedIndex, idx)
    }
    const last = Math.max(...acked.values())
    // The first write after the restart may wait for the member to lead again.
    let r: Response | undefined
    for (let tries = 0; tries < 50; tries++) {
      r = await fetch(`${url}/v2/keys/after`, { method: 'PUT', body: new URLSearchParams({ value: 'x' }) })
      if (r.status === 201) break
      await new Promise((res) => setTimeout(res, 100))
    }
    assert.is(r!.status, 201)
    assert.ok(((await r!.json()) as { node: { modifiedIndex: number } }).node.modifiedIndex > last)
  } catch (e) {
    console.error(child.output().split('\n').slice(-30).join('\n'))
    throw e
  } finally {
    await child.kill()
    cleanup(base)
  }
})

test.run()
