// e2e: etcd v2 discovery (DISC-1..4, CLI-5). Three raftkv processes started at once with only
// `--discovery <url>` (the URL is a directory in a real etcd 3.4's v2 keys API, or in a raftkv
// member's) form one cluster; a fourth with the same URL is refused with "discovery: cluster is
// full" and a non-zero exit; a restarted member ignores --discovery; a member whose data dir was
// lost is not let back in under its old registration (duplicate id). Plus the client's error paths
// (no size key, unreachable service) in-process.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, readFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { v2 } from './procs.js'
import { joinDiscoveryCluster, DiscoveryError, registrationValue } from '../../server/cluster/discovery.js'
import { memberId } from '../../server/ids.js'
import { deadUrl } from '../support/ports.js'
import { memberUrls, startEtcdServer, startRaftkv, waitOk, type Child } from '../support/procs.js'
import { removeDir, tempDir } from '../support/tmp.js'
import { sleep } from '../support/wait.js'

const dir = tempDir('disc')

interface Proc { child: Child; exited: Promise<number | null>; log: string }

function launched(child: Child, log: string): Proc {
  return { child, exited: child.exited.then((e) => e.code), log }
}

async function kill(p: Proc | undefined): Promise<void> {
  if (p) await p.child.kill()
}

/** A single-member etcd 3.4 with the v2 API, as the discovery service. */
async function startEtcd(): Promise<{ url: string; p: Proc }> {
  const log = path.join(dir, 'etcd-disc.log')
  const etcd = await startEtcdServer(dir, { name: 'etcd-disc', logFile: log })
  return { url: etcd.url, p: launched(etcd.child, log) }
}

interface Member { name: string; clientUrl: string; peerUrl: string; dataDir: string; p?: Proc }

async function newMember(name: string): Promise<Member> {
  return { name, ...(await memberUrls()), dataDir: path.join(dir, `${name}.etcd`) }
}

function startMember(m: Member, args: string[]): Proc {
  const log = path.join(dir, `${m.name}.log`)
  m.p = launched(startRaftkv([
    '--name', m.name, '--data-dir', m.dataDir,
    '--listen-client-urls', m.clientUrl, '--advertise-client-urls', m.clientUrl,
    '--listen-peer-urls', m.peerUrl, '--initial-advertise-peer-urls', m.peerUrl,
    '--heartbeat-interval', '50', '--election-timeout', '500',
    ...args,
  ], { logFile: log }), log)
  return m.p
}

async function leaderOf(m: Member): Promise<string> {
  try {
    const r = await v2(m.clientUrl, 'GET', '/v2/stats/self', undefined, 1000)
    return r.status === 200 ? String(r.body.leaderInfo?.leader ?? '') : ''
  } catch {
    return ''
  }
}

/** Waits until every member lists `size` members and all agree on one leader. */
async function waitFormed(ms: Member[], size: number, timeoutMs = 45_000): Promise<{ members: any[]; leader: string }> {
  const until = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < until) {
    try {
      const lists = await Promise.all(ms.map((m) => v2(m.clientUrl, 'GET', '/v2/members', undefined, 1000)))
      const leads = await Promise.all(ms.map(leaderOf))
      last = JSON.stringify({ sizes: lists.map((l) => l.body?.members?.length), leads })
      if (lists.every((l) => l.status === 200 && l.body.members.length === size && l.body.members.every((x: any) => x.name !== '')) &&
          leads[0] && leads.every((l) => l === leads[0])) {
        return { members: lists[0]!.body.members, leader: leads[0]! }
      }
    } catch (e) {
      last = String(e)
    }
    await sleep(100)
  }
  throw new Error(`cluster of ${size} not formed within ${timeoutMs} ms: ${last} (logs in ${dir})`)
}

async function expectExit(p: Proc, timeoutMs = 15_000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined
  const t = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)))
  const r = await Promise.race([p.exited, t])
  clearTimeout(timer)
  if (r === 'timeout') throw new Error(`process did not exit within ${timeoutMs} ms (log ${p.log})`)
  return r
}

const members: Member[] = []
let etcd: { url: string; p: Proc } | undefined

test.after(async () => {
  for (const m of members) await kill(m.p)
  await kill(etcd?.p)
  if (process.env.KEEP_E2E) console.error(`discovery logs kept in ${dir}`)
  else removeDir(dir)
})

test('3 members started with only --discovery (etcd as the service) form one cluster; a 4th is refused; restart ignores --discovery', async () => {
  etcd = await startEtcd()
  const durl = `${etcd.url}/v2/keys/discovery/tok-${Date.now().toString(36)}`
  const put = await v2(etcd.url, 'PUT', new URL(durl).pathname + '/_config/size', { value: '3' })
  assert.is(put.status, 201)

  for (const n of ['d1', 'd2', 'd3']) members.push(await newMember(n))
  for (const m of members) startMember(m, ['--discovery', durl])
  const formed = await waitFormed(members, 3)
  assert.equal(formed.members.map((x: any) => x.name).sort(), ['d1', 'd2', 'd3'])
  // Member ids use the discovery URL as the cluster token (as etcd).
  for (const m of members) {
    const x = formed.members.find((y: any) => y.name === m.name)
    assert.is(x.id, memberId([m.peerUrl], durl).replace(/^0+/, ''))
    assert.equal(x.peerURLs, [m.peerUrl])
  }
  // One cluster: a write through one member is read through another.
  const w = await v2(members[0]!.clientUrl, 'PUT', '/v2/keys/disc-check', { value: 'ok' })
  assert.is(w.status, 201)
  const r = await v2(members[2]!.clientUrl, 'GET', '/v2/keys/disc-check?quorum=true')
  assert.is(r.body.node?.value, 'ok')
  // The registrations etcd holds: <id hex> = name=peerURL.
  const reg = await v2(etcd.url, 'GET', new URL(durl).pathname)
  const values = (reg.body.node.nodes as any[]).map((n) => n.value).sort()
  assert.equal(values, members.map((m) => registrationValue(m.name, [m.peerUrl])).sort())

  // A 4th member with the same URL: refused before registering, non-zero exit, etcd's message.
  const late = await newMember('d4')
  const lateProxy = await newMember('d5')
  const p4 = startMember(late, ['--discovery', durl, '--discovery-fallback', 'exit'])
  const p5 = startMember(lateProxy, ['--discovery', durl]) // default fallback 'proxy': no proxy mode, exits
  members.push(late, lateProxy)
  const [c4, c5] = await Promise.all([expectExit(p4), expectExit(p5)])
  assert.ok(c4 !== 0 && c4 !== null, `exit code ${c4}`)
  assert.ok(c5 !== 0 && c5 !== null, `exit code ${c5}`)
  assert.match(readFileSync(p4.log, 'utf8'), 'discovery: cluster is full')
  const log5 = readFileSync(p5.log, 'utf8')
  assert.match(log5, 'discovery: cluster is full')
  assert.match(log5, 'no proxy mode')
  const reg2 = await v2(etcd.url, 'GET', new URL(durl).pathname)
  assert.is(reg2.body.node.nodes.length, 3, 'the refused members did not register')
  assert.not.ok(existsSync(path.join(late.dataDir, 'member', 'wal')), 'no WAL for a refused member')

  // CLI-5: a restarted member ignores --discovery (here an unreachable one) and rejoins.
  const m2 = members[1]!
  await kill(m2.p)
  startMember(m2, ['--discovery', `${await deadUrl()}/v2/keys/discovery/gone`])
  await waitFormed(members.slice(0, 3), 3)
  const r2 = await v2(m2.clientUrl, 'GET', '/v2/keys/disc-check?quorum=true')
  assert.is(r2.body.node?.value, 'ok')

  // DISC-4: the same member with its data dir gone must not re-register under its old id.
  const m3 = members[2]!
  await kill(m3.p)
  removeDir(m3.dataDir)
  const p3 = startMember(m3, ['--discovery', durl])
  const c3 = await expectExit(p3)
  assert.ok(c3 !== 0 && c3 !== null, `exit code ${c3}`)
  assert.match(readFileSync(p3.log, 'utf8'), 'discovery: found duplicate id')
})

test('a raftkv member serves as the discovery service (DISC-1)', async () => {
  const svc = await newMember('svc')
  members.push(svc)
  startMember(svc, [])
  await waitOk(`${svc.clientUrl}/v2/keys/`)
  const dpath = `/v2/keys/_etcd/registry/tok-${Date.now().toString(36)}`
  assert.is((await v2(svc.clientUrl, 'PUT', `${dpath}/_config/size`, { value: '2' })).status, 201)
  const pair = [await newMember('r1'), await newMember('r2')]
  members.push(...pair)
  // Staggered: the first waits (watch) until the second registers.
  startMember(pair[0]!, ['--discovery', svc.clientUrl + dpath])
  await sleep(1500)
  startMember(pair[1]!, ['--discovery', svc.clientUrl + dpath])
  const formed = await waitFormed(pair, 2)
  assert.equal(formed.members.map((x: any) => x.name).sort(), ['r1', 'r2'])
  assert.match(readFileSync(pair[0]!.p!.log, 'utf8'), /waiting for 1 more member/)
})

test('discovery client errors: no size key, unreachable service (bounded retries)', async () => {
  const log = { info: () => {}, warn: () => {} }
  const url = `${etcd!.url}/v2/keys/discovery/nosize-${Date.now().toString(36)}`
  try {
    await joinDiscoveryCluster({ url, id: memberId(['http://127.0.0.1:1'], url), name: 'x', peerUrls: ['http://127.0.0.1:1'], log })
    assert.unreachable()
  } catch (e) {
    assert.instance(e, DiscoveryError)
    assert.is((e as DiscoveryError).code, 'size-not-found')
  }
  // A port we hold that drops every connection: "free" ports can be taken by parallel tests.
  const dropper = net.createServer((sock) => sock.destroy())
  await new Promise<void>((r) => dropper.listen(0, '127.0.0.1', r))
  const dead = `http://127.0.0.1:${(dropper.address() as net.AddressInfo).port}/v2/keys/discovery/t`
  const started = Date.now()
  let warned = 0
  try {
    await joinDiscoveryCluster({
      url: dead, id: memberId(['http://127.0.0.1:1'], dead), name: 'x', peerUrls: ['http://127.0.0.1:1'],
      log: { info: () => {}, warn: () => { warned++ } }, maxRetries: 3, retryBaseMs: 20,
    })
    assert.unreachable()
  } catch (e) {
    assert.instance(e, DiscoveryError)
    assert.is((e as DiscoveryError).code, 'too-many-retries')
    assert.match((e as Error).message, 'discovery: too many retries')
  }
  dropper.close()
  assert.is(warned, 3)
  assert.ok(Date.now() - started < 5000)
})

test.run()
