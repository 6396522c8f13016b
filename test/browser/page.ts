// Shared pieces of the browser tests: the SDK bundled for the browser (esbuild, platform=browser),
// a page on its own origin that loads it (so every SDK request is cross-origin), and a headless
// Chromium with a fresh profile.

import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { repoRoot } from '../client/fixtures.js'

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium'

/** Bundles src/index.ts into one browser ES module. */
export async function bundle(): Promise<string> {
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

/** Serves the page and the bundle on its own origin; the page sets `window.raftkv` and `window.ready`. */
export async function servePage(js: string): Promise<{ url: string; close(): Promise<void> }> {
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

/** Headless Chromium with a fresh profile directory; `close()` also removes the profile. */
export async function launchChromium(): Promise<{ context: import('playwright-core').BrowserContext; close(): Promise<void> }> {
  const { chromium } = await import('playwright-core')
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-chromium-'))
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
    timeout: 30_000,
  })
  return {
    context,
    close: async () => {
      await context.close()
      rmSync(userDataDir, { recursive: true, force: true })
    },
  }
}
