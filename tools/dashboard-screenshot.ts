// Regenerates docs/dashboard.png (the README screenshot): a 3-member cluster (child processes) with a
// lock (holder + one waiter), an election and three service instances from the recipes, ~80 s of
// varying read/write load, then headless Chromium on a follower's /dashboard/. Not a test (no
// assertions); run with `node --import tsx tools/dashboard-screenshot.ts` (about 100 s). Kills what it starts.
import path from 'node:path'
import os from 'node:os'
import { mkdtempSync, rmSync } from 'node:fs'
import { chromium } from 'playwright-core'
import { ProcCluster, v2 } from '../test/e2e/procs.js'
import { repoRoot } from '../test/support/paths.js'
import { sleep } from '../test/support/wait.js'
import { Client } from '../src/index.js'
import { Election, Lock, register } from '../recipes/index.js'

const cluster = await ProcCluster.start({ size: 3, heartbeatMs: 100, electionMs: 1000 })
const leader = await cluster.waitLeader()
const served = cluster.members.find((m) => m !== leader)!
const client = new Client({ endpoints: cluster.members.map((m) => m.clientUrl), timeout: 3000 })
const lock = await new Lock(client, '/locks/nightly-report', { ttl: 30, owner: 'worker-7' }).acquire()
const waiter = new Lock(client, '/locks/nightly-report', { ttl: 30, owner: 'worker-9' }).acquire().catch(() => undefined)
const lead = await new Election(client, '/election/scheduler', { ttl: 30, owner: 'sched-a' }).campaign({ addr: '10.0.0.5:8080' })
const regs = [
  await register(client, 'billing', 'i-1', { ttl: 30, data: { addr: '10.0.0.7:9000' } }),
  await register(client, 'billing', 'i-2', { ttl: 30, data: { addr: '10.0.0.8:9000' } }),
  await register(client, 'search', 'i-1', { ttl: 30, data: { addr: '10.0.1.3:7700' } }),
]
await v2(leader.clientUrl, 'PUT', '/v2/keys/config/feature-flags', { value: '{"newCheckout":true,"beta":false}' })
await v2(leader.clientUrl, 'PUT', '/v2/keys/config/max-conns', { value: '512' })
await v2(leader.clientUrl, 'PUT', '/v2/keys/sessions/u-1842', { value: 'token-abc', ttl: '600' })
const t0 = Date.now()
let i = 0
while (Date.now() - t0 < 80_000) {
  const phase = Math.sin((Date.now() - t0) / 9000) + 1.2
  const burst = Math.round(phase * 6)
  const ps = []
  for (let k = 0; k < burst; k++) {
    const m = cluster.members[i++ % 3]!
    ps.push(v2(m.clientUrl, 'PUT', `/v2/keys/metrics/host-${i % 4}/load`, { value: (phase * 0.4).toFixed(2) }))
    ps.push(v2(served.clientUrl, 'GET', `/v2/keys/config/max-conns`))
    ps.push(v2(served.clientUrl, 'GET', `/v2/keys/config/feature-flags`))
  }
  await Promise.all(ps)
  await sleep(200)
}
const profile = mkdtempSync(path.join(os.tmpdir(), 'raftkv-chromium-'))
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  viewport: { width: 1400, height: 980 },
})
const page = ctx.pages()[0] ?? (await ctx.newPage())
await page.goto(served.clientUrl + '/dashboard/')
await page.waitForFunction(() => document.querySelectorAll('#members tbody tr[data-state="leader"]').length === 1)
for (let k = 0; k < 12; k++) { await v2(cluster.members[k % 3]!.clientUrl, 'PUT', `/v2/keys/metrics/host-${k % 4}/load`, { value: String(k / 10) }); await sleep(150) }
await page.click('#tree li[data-key="/config"] > span')
await sleep(400)
await page.click('#tree li[data-key="/config/feature-flags"] > span')
await sleep(2500)
await page.screenshot({ path: path.join(repoRoot, 'docs/dashboard.png'), fullPage: true })
await ctx.close()
await lock.release(); await lead.resign(); for (const r of regs) await r.deregister()
void waiter
await cluster.close()
rmSync(profile, { recursive: true, force: true })
process.exit(0)
