// Durability through the real member: a raftkv process (server/cli.ts) takes writes with a small
// --snapshot-count, is killed with SIGKILL, and restarts from its data dir with every acknowledged
// key (same modifiedIndex) and the next index continuing where it left off; etcd's data-dir layout
// is on disk. Exercises the WAL + snapshotter as the server wires them (openDurableStorage).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { cleanup, tempDir } from './helpers.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

function startMember(dataDir: string, client: number, peer: number, log: string[]): ChildProcess {
  const c = `http://127.0.0.1:${client}`
  const p = `http://127.0.0.1:${peer}`
  const args = ['--import', 'tsx', path.join(root, 'server/cli.ts'), '--name', 'n1', '--data-dir', dataDir,
    '--listen-client-urls', c, '--advertise-client-urls', c, '--listen-peer-urls', p,
    '--initial-advertise-peer-urls', p, '--initial-cluster', `n1=${p}`, '--snapshot-count', '40']
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout!.on('data', (d) => log.push(String(d)))
  child.stderr!.on('data', (d) => log.push(String(d)))
  return child
}

async function waitReady(url: string, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    try {
      const r = await fetch(`${url}/v2/keys/`)
      if (r.ok) return
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`member at ${url} not ready in ${ms} ms`)
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())))
}

test('a SIGKILLed member restarts from its data dir with every acknowledged write', async () => {
  const base = tempDir('member')
  const dataDir = path.join(base, 'n1.etcd')
  const [client, peer] = [await freePort(), await freePort()]
  const url = `http://127.0.0.1:${client}`
  const log: string[] = []
  let child = startMember(dataDir, client, peer, log)
  try {
    await waitReady(url, 15_000)
    const acked = new Map<string, number>()
    for (let i = 1; i <= 130; i++) {
      const r = await fetch(`${url}/v2/keys/k${i}`, { method: 'PUT', body: new URLSearchParams({ value: `v${i}` }) })
      assert.is(r.status, 201)
      acked.set(`k${i}`, ((await r.json()) as { node: { modifiedIndex: number } }).node.modifiedIndex)
    }
    child.kill('SIGKILL')
    await exited(child)
    assert.ok(fs.readdirSync(path.join(dataDir, 'member', 'wal')).some((n) => /^[0-9a-f]{16}-[0-9a-f]{16}\.wal$/.test(n)))
    assert.ok(fs.readdirSync(path.join(dataDir, 'member', 'snap')).some((n) => /^[0-9a-f]{16}-[0-9a-f]{16}\.snap$/.test(n)), 'snapshots taken')

    child = startMember(dataDir, client, peer, log)
    await waitReady(url, 15_000)
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
    console.error(log.join('').split('\n').slice(-30).join('\n'))
    throw e
  } finally {
    child.kill('SIGKILL')
    await exited(child)
    cleanup(base)
  }
})

test.run()
