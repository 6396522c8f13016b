// Three raftkv processes started with the etcd command lines of the usual 3-member local cluster
// (the seed's flags, on free ports) form one cluster: same member ids as etcd would derive, a
// write on one member is read on the others, the cluster survives one member stopping.
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { formatId, initialIds } from '../../server/ids.js'
import { reservePorts } from '../support/ports.js'
import { startRaftkv, type Child } from '../support/procs.js'
import { removeDir, tempDir } from '../support/tmp.js'
import { until } from '../support/wait.js'

interface Proc {
  name: string
  child: Child
  out: () => string
  exited: Promise<number | null>
}

const procs: Proc[] = []
const dir = tempDir('cluster')

function start(name: string, args: string[]): Proc {
  const child = startRaftkv(args, { env: { PATH: process.env.PATH ?? '' } })
  const p = { name, child, out: () => child.output(), exited: child.exited.then((e) => e.code) }
  procs.push(p)
  return p
}

const c = suite('cli cluster')

c.after(async () => {
  if (process.env.SHOW_LOGS) for (const p of procs) console.log(`---- ${p.name}\n${p.out().split('\n').slice(-40).join('\n')}`)
  await Promise.all(procs.map((p) => p.child.kill()))
  removeDir(dir)
})

c('the seed command lines form a 3-member cluster that replicates and survives one member stopping', async () => {
  const ports = await reservePorts(6)
  const client = (i: number): string => `http://127.0.0.1:${ports[i]}`
  const peer = (i: number): string => `http://127.0.0.1:${ports[3 + i]}`
  const cluster = [0, 1, 2].map((i) => `etcd${i + 1}=${peer(i)}`).join(',')
  for (const i of [0, 1, 2]) {
    start(`etcd${i + 1}`, [
      '-name', `etcd${i + 1}`,
      '-data-dir', join(dir, `etcd${i + 1}`),
      '-advertise-client-urls', client(i),
      '-listen-client-urls', client(i),
      '-initial-advertise-peer-urls', peer(i),
      '-listen-peer-urls', peer(i),
      '-initial-cluster-token', 'etcd-cluster-1',
      '-initial-cluster', cluster,
      '-initial-cluster-state', 'new',
    ])
  }
  for (const p of procs) await until(() => (p.out().includes('ready to serve client requests') ? true : undefined), 20_000, `${p.name} ready`)

  // ids as etcd derives them from the same flags (MEM-8), and the same view on every member
  const want = initialIds([0, 1, 2].map((i) => ({ name: `etcd${i + 1}`, peerUrls: [peer(i)] })), 'etcd-cluster-1')
  for (const i of [0, 1, 2]) {
    const res = await until(async () => {
      const r = await fetch(`${client(i)}/v2/members`)
      const body = (await r.json()) as { members: { id: string; name: string; clientURLs: string[] }[] }
      return body.members.length === 3 && body.members.every((m) => m.name !== '') ? { r, body } : undefined
    }, 20_000, `members on etcd${i + 1}`)
    assert.is(res.r.headers.get('x-etcd-cluster-id'), formatId(want.clusterId))
    assert.equal(
      res.body.members.map((m) => [m.name, m.id]).sort(),
      want.members.map((m) => [m.name, formatId(m.id)]).sort(),
    )
  }

  const put = await until(async () => {
    const r = await fetch(`${client(0)}/v2/keys/greeting`, { method: 'PUT', body: new URLSearchParams({ value: 'hello' }) })
    return r.status === 201 || r.status === 200 ? r : undefined
  }, 20_000, 'first write')
  assert.ok(put)
  for (const i of [1, 2]) {
    const v = await until(async () => {
      const body = (await (await fetch(`${client(i)}/v2/keys/greeting`)).json()) as { node?: { value: string } }
      return body.node?.value
    }, 10_000, `read on etcd${i + 1}`)
    assert.is(v, 'hello')
  }

  // one member stops cleanly; the other two keep a quorum
  procs[2]!.child.signal('SIGTERM')
  assert.is(await procs[2]!.exited, 0)
  const r2 = await until(async () => {
    const r = await fetch(`${client(1)}/v2/keys/after?quorum=true`, { method: 'PUT', body: new URLSearchParams({ value: 'still' }) })
    return r.status === 201 || r.status === 200 ? r : undefined
  }, 20_000, 'write with two members')
  assert.ok(r2)
  const got = await until(async () => {
    const body = (await (await fetch(`${client(0)}/v2/keys/after?quorum=true`)).json()) as { node?: { value: string } }
    return body.node?.value
  }, 10_000, 'quorum read')
  assert.is(got, 'still')

  for (const p of procs.slice(0, 2)) p.child.signal('SIGTERM')
  assert.equal(await Promise.all(procs.slice(0, 2).map((p) => p.exited)), [0, 0])
})

c.run()
