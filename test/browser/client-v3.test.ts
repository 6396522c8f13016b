// The v3 client (ClientV3) bundled for the browser and run in headless Chromium against etcd 3.4
// started with --cors='*', from a page on another origin: KV, a txn, a lease, typed error
// narrowing, bigint IDs, and a watch streamed through the browser's fetch (ReadableStream).
// Skips with a message only when chromium or etcd is missing.

import { existsSync } from 'node:fs'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ETCD_BIN, startCluster, within, type Cluster } from '../client/fixtures.js'
import { CHROMIUM, bundle, launchChromium, servePage } from './page.js'

const test = suite('browser client v3 [etcd]')

if (!existsSync(CHROMIUM) || !existsSync(ETCD_BIN)) {
  console.log(`SKIP test/browser/client-v3.test.ts: needs ${CHROMIUM} and ${ETCD_BIN}`)
  test.skip('chromium or etcd missing', () => {})
} else {
  let cluster: Cluster
  let page: Awaited<ReturnType<typeof servePage>>
  let browser: Awaited<ReturnType<typeof launchChromium>>

  test.before(async () => {
    cluster = await startCluster('etcd', { cors: true })
    page = await servePage(await bundle())
    browser = await launchChromium()
  })
  test.after(async () => {
    await browser?.close()
    await page?.close()
    await cluster?.close()
  })

  test('KV, txn, lease, typed errors and a streamed watch run in the browser', async () => {
    const tab = await browser.context.newPage()
    const errors: string[] = []
    tab.on('pageerror', (e) => errors.push(String(e)))
    await tab.goto(page.url)
    await tab.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true, undefined, { timeout: 10_000 })
    const result = await within(40_000, tab.evaluate(async (endpoints: string[]) => {
      type Sdk = typeof import('../../src/index.js')
      const { ClientV3, LeaseNotFoundError, leaseIdHex } = (window as unknown as { raftkv: Sdk }).raftkv
      const c = new ClientV3({ endpoints, timeout: 5000 })
      const put = await c.put('browser/a', 'hello from chromium')
      const got = await c.get('browser/a')
      const txn = await c.txn({
        compare: [{ key: 'browser/a', target: 'mod', op: '==', modRevision: put.header.revision }],
        success: [{ put: { key: 'browser/b', value: 'txn' } }],
      })
      const lease = await c.grantLease(60)
      await c.put('browser/leased', 'v', { lease: lease.id })
      const leased = await c.get('browser/leased')
      let missing = ''
      try { await c.revokeLease(12345) } catch (e) { missing = e instanceof LeaseNotFoundError ? e.code : `not narrowed: ${String(e)}` }
      // A watch from its creation: three writes, each seen once, in order.
      const w = c.watch('browser/w/', { prefix: true })
      const seen: string[] = []
      const consumed = (async () => {
        for await (const ev of w) {
          if (ev.type === 'put') seen.push(`${ev.kv.keyString}@${ev.revision}`)
          if (seen.length === 3) break
        }
      })()
      const t0 = Date.now()
      while (w.nextRevision === undefined && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20))
      const written: string[] = []
      for (const k of ['x', 'y', 'z']) written.push(`browser/w/${k}@${(await c.put(`browser/w/${k}`, k)).header.revision}`)
      await consumed
      await c.revokeLease(lease.id)
      c.close()
      return {
        value: got?.valueString, version: got?.version, succeeded: txn.succeeded,
        leaseMatches: leased?.lease === lease.id, leaseIsBig: typeof lease.id === 'bigint', hex: leaseIdHex(lease.id), leaseId: lease.id.toString(),
        missing, seen, written,
      }
    }, cluster.endpoints), 'browser script')
    await tab.close()
    assert.equal(errors, [])
    assert.is(result.value, 'hello from chromium')
    assert.is(result.version, 1)
    assert.is(result.succeeded, true)
    assert.is(result.leaseMatches, true)
    assert.is(result.leaseIsBig, true)
    assert.is(result.hex, BigInt(result.leaseId).toString(16))
    assert.is(result.missing, 'LEASE_NOT_FOUND')
    assert.equal(result.seen, result.written)
  })
}

test.run()
