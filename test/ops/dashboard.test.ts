// The live dashboard in headless Chromium against a three-member cluster (child processes): it
// lists three members with exactly one leader, a PUT made through another member shows up in the
// key browser and the event stream, the recipes panel shows a lock holder with its
// fencing token, an election leader and a service instance, and killing the leader shows a new
// one. Screenshots go to test-output/ (gitignored). --dashboard=false turns the page off.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { ProcCluster, v2, type ProcMember } from '../e2e/procs.js'
import { repoRoot } from '../support/paths.js'
import { startServer } from '../../server/index.js'
import { Client } from '../../src/index.js'
import { Election, Lock, register, type LockHandle, type Registration, type Leadership } from '../../recipes/index.js'

const test = suite('ops: dashboard')
const outDir = path.join(repoRoot, 'test-output')
let cluster: ProcCluster
let ctx: BrowserContext
let page: Page
let profile: string
let served: ProcMember
const held: { release(): Promise<void> }[] = []

test.before(async () => {
  cluster = await ProcCluster.start({ size: 3 })
  profile = mkdtempSync(path.join(os.tmpdir(), 'raftkv-chromium-'))
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    viewport: { width: 1400, height: 1000 },
  })
  page = ctx.pages()[0] ?? (await ctx.newPage())
  mkdirSync(outDir, { recursive: true })
})

test.after(async () => {
  for (const h of held) await h.release().catch(() => {})
  await ctx?.close().catch(() => {})
  await cluster?.close()
  if (profile) rmSync(profile, { recursive: true, force: true })
})

async function leaderRows(): Promise<string[]> {
  return page.$$eval('#members tbody tr[data-state="leader"]', (rows) => rows.map((r) => (r as HTMLElement).dataset.name ?? ''))
}

test('three members, exactly one leader, served by a follower', async () => {
  const leader = await cluster.waitLeader()
  served = cluster.members.find((m) => m !== leader)!
  await page.goto(served.clientUrl + '/dashboard', { timeout: 10_000 })
  // Three rows, one leader, two followers (polled: under load a member may answer late once).
  await page.waitForFunction(() => {
    const states = [...document.querySelectorAll('#members tbody tr[data-state]')].map((r) => (r as HTMLElement).dataset.state)
    return states.length === 3 && states.filter((s) => s === 'leader').length === 1 && states.filter((s) => s === 'follower').length === 2
  }, undefined, { timeout: 10_000 })
  assert.equal(await leaderRows(), [leader.name])
  assert.match(await page.textContent('#summary') ?? '', `served by ${served.name}`)
})

test('a PUT through another member appears in the key browser and the event stream', async () => {
  const other = cluster.members.find((m) => m !== served && m.proc)!
  // Warm-up: the watch loop is live once its first event arrived.
  await v2(other.clientUrl, 'PUT', '/v2/keys/warmup', { value: '1' })
  await page.waitForSelector('#events li[data-key="/warmup"]', { timeout: 5000 })
  const key = '/greeting-' + Date.now().toString(36)
  const r = await v2(other.clientUrl, 'PUT', '/v2/keys' + key, { value: 'hello from ' + other.name })
  assert.is(r.status, 201)
  // Both panels follow a watch, so the write shows up without a reload; the bound only keeps a
  // broken watch from hanging the test (a loaded machine may take seconds).
  const [inEvents, inTree] = await Promise.all(
    [`#events li[data-key="${key}"]`, `#tree li[data-key="${key}"]`].map((sel) =>
      page.waitForSelector(sel, { timeout: 15000 }).then(() => true, () => false),
    ),
  )
  assert.ok(inEvents, `event stream did not show ${key}`)
  assert.ok(inTree, `key browser did not show ${key}`)
  assert.match(await page.textContent(`#tree li[data-key="${key}"]`) ?? '', 'hello from')
  // Clicking it shows value and indexes.
  await page.click(`#tree li[data-key="${key}"] > span`)
  await page.waitForFunction((k) => document.querySelector('#keyinfo')?.textContent?.includes(k), key, { timeout: 2000 })
  assert.match(await page.textContent('#keyinfo') ?? '', `createdIndex${r.body.node.createdIndex}`)
})

test('recipes panel: lock holder with fencing token, election leader, service instance', async () => {
  const client = new Client({ endpoints: cluster.members.filter((m) => m.proc).map((m) => m.clientUrl), timeout: 3000 })
  const lock: LockHandle = await new Lock(client, '/locks/nightly-report', { ttl: 30, owner: 'worker-7' }).acquire({ timeout: 5000 })
  held.push(lock)
  const lead: Leadership = await new Election(client, '/election/scheduler', { ttl: 30, owner: 'node-b' }).campaign('10.0.0.5:8080', { timeout: 5000 })
  held.push(lead)
  const reg: Registration = await register(client, 'billing', 'i-1', { ttl: 30, data: { addr: '10.0.0.7:9000' } })
  held.push({ release: () => reg.deregister() })
  await page.waitForSelector('#locks tbody tr[data-key="/locks/nightly-report"]', { timeout: 3000 })
  const lockRow = await page.textContent('#locks tbody tr[data-key="/locks/nightly-report"]') ?? ''
  assert.match(lockRow, 'worker-7')
  assert.match(lockRow, String(lock.token.index))
  await page.waitForSelector('#elections tbody tr[data-key="/election/scheduler"]', { timeout: 3000 })
  assert.match(await page.textContent('#elections tbody tr[data-key="/election/scheduler"]') ?? '', 'node-b')
  await page.waitForSelector('#services tbody tr[data-key="/services/billing/i-1"]', { timeout: 3000 })
  assert.match(await page.textContent('#services tbody tr[data-key="/services/billing/i-1"]') ?? '', '10.0.0.7:9000')
  // A few writes so the rate charts have something to draw.
  for (let i = 0; i < 40; i++) await v2(cluster.members[i % 3]!.clientUrl, 'PUT', `/v2/keys/app/config/k${i % 5}`, { value: String(i) })
  await page.waitForTimeout(2500)
  await page.screenshot({ path: path.join(outDir, 'dashboard.png'), fullPage: true })
})

test('killing the leader shows a new one', async () => {
  const old = await cluster.waitLeader()
  assert.ok(old !== served, 'the dashboard is served by a follower')
  await cluster.kill(old)
  const next = await cluster.waitLeader(10_000, cluster.members.filter((m) => m.proc))
  await page.waitForFunction(
    ([o, n]) => {
      const lead = [...document.querySelectorAll('#members tbody tr[data-state="leader"]')].map((r) => (r as HTMLElement).dataset.name)
      const down = (document.querySelector(`#members tbody tr[data-name="${o}"]`) as HTMLElement | null)?.dataset.state
      return lead.length === 1 && lead[0] === n && down === 'down'
    },
    [old.name, next.name],
    { timeout: 8000 },
  )
  await page.screenshot({ path: path.join(outDir, 'dashboard-after-failover.png'), fullPage: true })
})

test('--dashboard=false: /dashboard is 404, /metrics still served', async () => {
  const s = await startServer({ name: 'nodash', listenClientUrls: ['http://127.0.0.1:0'], dashboard: false })
  try {
    assert.is((await fetch(s.url + '/dashboard/')).status, 404)
    assert.is((await fetch(s.url + '/metrics')).status, 200)
  } finally {
    await s.close()
  }
})

test.run()
