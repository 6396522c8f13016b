// The client SDK bundled for the browser (esbuild, platform=browser) and run in headless Chromium
// against each backend on 127.0.0.1 with CORS on: set, get, CAS error narrowing and a watch, from a
// page served on a different origin. Skips with a message only when chromium is missing.

import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { backends, repoRoot, startCluster, within, type Cluster } from '../client/fixtures.js'

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium'

/** Bundles src/index.ts into one browser ES module. */
async function bundle(): Promise<string> {
  const esbuild = await import('esbuild')
  const out = await esbuild.build({
    entryPoints: [path.join(repoRoot, 'src/index.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    write: false,
    logLevel: 'silent',
  })
  return out.outputFiles[0]!.text
}

/** Serves the page and the bundle on its own origin (so every SDK request is cross-origin). */
async function servePage(js: string): Promise<{ url: string; close(): Promise<void> }> {
  const html = '<!doctype html><meta charset="utf-8"><title>raftkv sdk</title><script type="module">import * as raftkv from "/raftkv.js"; window.raftkv = raftkv; window.ready = true</script>'
  const server = http.createServer((req, res) => {
    if (req.url === '/raftkv.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js)
    else res.writeHead(200, { 'content-type': 'text/html' }).end(html)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()) }),
  }
}

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
    let context: import('playwright-core').BrowserContext
    let userDataDir: string

    test.before(async () => {
      cluster = await startCluster(backend, { cors: true })
      page = await servePage(js)
      const { chromium } = await import('playwright-core')
      userDataDir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-chromium-'))
      context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
          '--disable-sync', '--no-first-run', '--disable-quic'],
        timeout: 30_000,
      })
    })
    test.after(async () => {
      await context?.close()
      await page?.close()
      await cluster?.close()
      if (userDataDir) rmSync(userDataDir, { recursive: true, force: true })
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
