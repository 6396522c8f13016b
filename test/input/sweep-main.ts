// `npm run sweep -- --seeds 5 [--count 330] [--first 1]`: the differential bad-input sweep
// (test/input/sweep.ts) over several seeds against a fresh raftkv member and a fresh etcd 3.4
// (ETCD_BIN, default /usr/bin/etcd). Prints the counts per category, every failure and every
// difference from etcd by signature; exits 1 when a case failed.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startServer } from '../../server/index.js'
import { startEtcdServer } from '../support/procs.js'
import { emptyReport, formatReport, sweep } from './sweep.js'

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : dflt
}

const seeds = arg('seeds', 5)
const count = arg('count', 330)
const first = arg('first', 1)
const dir = mkdtempSync(path.join(tmpdir(), 'raftkv-sweep-'))
const etcd = await startEtcdServer(dir)
const raftkv = await startServer({ listenClientUrls: ['http://127.0.0.1:0'], dataDir: path.join(dir, 'raftkv') })
await raftkv.ready()
const report = emptyReport()
const alive = async (): Promise<boolean> => {
  try {
    return (await fetch(raftkv.url + '/version', { signal: AbortSignal.timeout(5000) })).status === 200
  } catch {
    return false
  }
}
try {
  for (let s = first; s < first + seeds; s++) {
    const t0 = Date.now()
    await sweep(s, count, { etcd: etcd.url, raftkv: raftkv.url }, report, { ms: 1000, alive })
    console.error(`seed ${s}: ${count} cases in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  }
} finally {
  await raftkv.close()
  await etcd.child.kill()
  rmSync(dir, { recursive: true, force: true })
}
console.log(`seeds ${first}..${first + seeds - 1}, ${count} cases each`)
console.log(formatReport(report))
process.exit(report.failures.length > 0 ? 1 : 0)
