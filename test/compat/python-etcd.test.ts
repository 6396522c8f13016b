// Real-client compatibility: python-etcd (system /usr/bin/python3) against a fresh raftkv member:
// write, read, delete, test_and_set, errors, append, watch/eternal_watch, etcd.Lock, cluster info.
// The checks live in python-etcd-client.py; this file runs it and asserts each check passed.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { waitReady } from '../http/raw-client.js'
import { startServer } from '../../server/index.js'

const script = fileURLToPath(new URL('./python-etcd-client.py', import.meta.url))
const test = suite('python-etcd compatibility')

test('python-etcd client: every check passes', async () => {
  const server = await startServer({ name: 'py1', listenClientUrls: ['http://127.0.0.1:0'] })
  await waitReady(server.url)
  try {
    const r = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn('/usr/bin/python3', [script, server.url], { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      child.stdout.on('data', (d) => (out += d))
      child.stderr.on('data', (d) => (out += d))
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
      child.on('error', reject)
      child.on('close', (code) => {
        clearTimeout(timer)
        resolve({ code, out })
      })
    })
    assert.is(r.code, 0, r.out)
    for (const name of ['write-read', 'errors', 'test_and_set', 'dirs-ttl', 'append', 'delete', 'watch', 'lock', 'cluster']) {
      assert.ok(r.out.includes(`ok ${name}\n`), `check ${name} missing:\n${r.out}`)
    }
    assert.ok(r.out.includes('done'), r.out)
  } finally {
    await server.close()
  }
})

test.run()
