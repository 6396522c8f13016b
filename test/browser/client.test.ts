// The client SDK bundled for the browser (esbuild, platform=browser) and run in headless Chromium
// against each backend on 127.0.0.1 with CORS on: set, get, CAS error narrowing and a watch, from a
// page served on a different origin. Skips with a message only when chromium is missing.

import { existsSync } from 'node:fs'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { backends, startCluster, within, type Cluster } from '../client/fixtures.js'
import { CHROMIUM, bundle, launchChromium, servePage } from './page.js'

if (!existsSync(CHROMIUM)) {
  console.log(`SKIP test/browser/client.test.ts: no chromium at ${CHROMIUM}`)
  const test = suite('browser client')
  test.skip('chromium missing', () => {})
  test.run()
} else {
  const js = await bundle()
  for (const backend of backends()) {
    const test = suite(`browser client [${backend}]`)
    let cluster: Cluster
    let page: Awaited<ReturnType<typeof servePage>>
    let browser: Awaited<ReturnType<typeof launchChromium>>
    let context: import('playwright-core').BrowserContext

    test.before(async () => {
      cluster = await startCluster(backend, { cors: true })
      page = await servePage(js)
      browser = await launchChromium()
      context = browser.context
    })
    test.after(async () => {
      await browser?.close()
      await page?.close()
      await cluster?.close()
    })

    test('set, get, typed errors and a watch run in the browser', async () => {
      const tab = await context.newPage()
      const errors: string[] = []
      tab.on('pageerror', (e) => errors.push(String(e)))
      await tab.goto(page.url)
      await tab.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true, undefined, { timeout: 10_000 })
      const result = await within(30_000, tab.evaluate(async (endpoints: string[]) => {
        type Sdk = typeof import('../../src/index.js')
        const { Client, CompareFailedError, KeyNotFoundError } = (window as unknown as { raftkv: Sdk }).raftkv
        const client = new Client({ endpoints, timeout: 5000 })
        const set = await client.set('/browser/a', 'hello from chromium')
        const get = await client.get('/browser/a')
        let casCode = ''
        try {
          await client.compareAndSwap('/browser/a', 'x', { prevValue: 'wrong' })
        } catch (e) {
          casCode = e instanceof CompareFailedError ? e.code : `not narrowed: ${String(e)}`
        }
        let missing = ''
        try { await client.get('/browser/none') } catch (e) { missing = e instanceof KeyNotFoundError ? e.code : String(e) }
        // A watch started without waitIndex, then writes: all seen once, in order.
        const watch = client.watch('/browser/w', { recursive: true })
        const seen: number[] = []
        const consumed = (async () => {
          for await (const ev of watch) {
            if (ev.type === 'change') seen.push(ev.index)
            if (seen.length === 3) break
          }
        })()
        await new Promise((r) => setTimeout(r, 300))
        const written: number[] = []
        for (const v of ['1', '2', '3']) written.push((await client.set(`/browser/w/k${v}`, v)).node.modifiedIndex)
        await consumed
        client.close()
        return { setAction: set.action, setIndex: set.etcdIndex, modified: set.node.modifiedIndex, value: get.node.value, casCode, missing, seen, written }
      }, cluster.endpoints), 'browser script')
      await tab.close()
      assert.equal(errors, [])
      assert.is(result.setAction, 'set')
      assert.is(result.setIndex, result.modified)
      assert.is(result.value, 'hello from chromium')
      assert.is(result.casCode, 'COMPARE_FAILED')
      assert.is(result.missing, 'KEY_NOT_FOUND')
      assert.equal(result.seen, result.written)
    })

    test.run()
  }
}
