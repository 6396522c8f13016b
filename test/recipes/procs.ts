// Test helper for the recipe suites: starts worker processes (test/recipes/child.ts) on loopback,
// reads their JSON-line reports, and kills exactly the processes it started (by pid).

import type { ChildProcess } from 'node:child_process'
import path from 'node:path'
import { repoRoot } from '../support/paths.js'
import { startScript } from '../support/procs.js'

export interface Report { id: string; ev: string; [k: string]: unknown }

export interface Worker {
  id: string
  proc: ChildProcess
  reports: Report[]
  /** Resolves with the first report matching `pred` (also one that already arrived). */
  waitFor(pred: (r: Report) => boolean, ms: number, what?: string): Promise<Report>
  exited: Promise<number | null>
  signal(sig: NodeJS.Signals): void
}

/** Starts `node --import tsx <script>` with RECIPE_CHILD (or env) set. */
export function startWorker(id: string, config: Record<string, unknown>, script = 'test/recipes/child.ts', env: Record<string, string> = {}): Worker {
  const child = startScript(path.join(repoRoot, script), [], { env: { ...process.env, ...env, RECIPE_CHILD: JSON.stringify({ id, ...config }) } })
  const proc = child.proc
  const reports: Report[] = []
  const waiters: { pred: (r: Report) => boolean; resolve: (r: Report) => void }[] = []
  let buf = ''
  proc.stdout!.on('data', (d) => {
    buf += d
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      let r: Report
      try { r = JSON.parse(line) as Report } catch { continue }
      reports.push(r)
      for (const w of [...waiters]) if (w.pred(r)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(r) }
    }
  })
  const exited = child.exited.then((e) => e.code)
  return {
    id, proc, reports, exited,
    waitFor(pred, ms, what = 'report') {
      const found = reports.find(pred)
      if (found) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${id}: no ${what} within ${ms} ms; reports ${JSON.stringify(reports)}; stderr ${child.stderr().slice(-4000)}`)), ms)
        t.unref() // a losing waitFor in a Promise.race must not keep the test process alive
        waiters.push({ pred, resolve: (r) => { clearTimeout(t); resolve(r) } })
      })
    },
    signal(sig) {
      child.signal(sig)
    },
  }
}

/** SIGKILLs every given worker that still runs and waits for them to exit. */
export async function killAll(workers: Worker[]): Promise<void> {
  for (const w of workers) { w.signal('SIGCONT'); w.signal('SIGKILL') }
  await Promise.all(workers.map((w) => w.exited))
}
