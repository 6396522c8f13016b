// Bookkeeping for everything the bench starts: child processes (stopped by pid) and temporary
// directories (removed), on normal exit, on errors and on Ctrl-C. Never kills anything it did
// not spawn itself.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { appendFileSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'

const children = new Set<ChildProcess>()
const dirs = new Set<string>()

let pidFile: string | null = null

/**
 * Records this bench's pid, and from then on every child's pid, in `<workDir>/bench.pids`, so a
 * later run can clean up after one that was killed with SIGKILL (see sweepStale).
 */
export function recordPids(workDir: string): void {
  pidFile = join(workDir, 'bench.pids')
  appendFileSync(pidFile, `bench ${process.pid}\n`)
}

/** Whether `pid` runs (a zombie, killed but not yet reaped, counts as gone). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

/**
 * Removes work dirs (`<tmp>/<prefix>*`) of earlier bench runs whose bench process is gone, after
 * SIGKILLing the servers that run reported and that still run from that very dir (checked in
 * /proc/<pid>/cmdline, so a reused pid is never hit). Dirs without a pid file (older versions)
 * are removed once 30 minutes old. Returns what it removed.
 */
export function sweepStale(tmp: string, prefix: string, own: string): string[] {
  const removed: string[] = []
  let names: string[] = []
  try { names = readdirSync(tmp).filter((n) => n.startsWith(prefix)) } catch { return removed }
  for (const n of names) {
    const dir = join(tmp, n)
    if (dir === own) continue
    try {
      let lines: string[] | null = null
      try { lines = readFileSync(join(dir, 'bench.pids'), 'utf8').split('\n').filter((l) => l !== '') } catch { /* none */ }
      if (lines === null) {
        if (Date.now() - statSync(dir).mtimeMs < 30 * 60_000) continue
      } else {
        const bench = lines.find((l) => l.startsWith('bench '))
        if (bench === undefined || isAlive(Number(bench.slice(6)))) continue
        for (const l of lines.filter((x) => x.startsWith('server '))) {
          const pid = Number(l.slice(7))
          try {
            if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) process.kill(pid, 'SIGKILL')
          } catch { /* gone */ }
        }
      }
      rmSync(dir, { recursive: true, force: true })
      removed.push(dir)
    } catch { /* raced with its owner: leave it */ }
  }
  return removed
}

/** Spawns a tracked child; it is stopped by cleanup() if still running. */
export function spawnTracked(cmd: string, args: string[], options: SpawnOptions): ChildProcess {
  const child = spawn(cmd, args, options)
  children.add(child)
  if (pidFile !== null && child.pid !== undefined) try { appendFileSync(pidFile, `server ${child.pid}\n`) } catch { /* best effort */ }
  child.once('exit', () => children.delete(child))
  return child
}

/** Registers a directory to remove at cleanup (unless `keep`). */
export function trackDir(dir: string): void {
  dirs.add(dir)
}

/** Whether the child is still running. */
export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null
}

/**
 * Stops one child: SIGTERM, then SIGKILL after `graceMs` (a profiled node process needs time to
 * write its .cpuprofile on exit). Resolves when it has exited.
 */
export function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (!isRunning(child) || child.pid === undefined) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      try { process.kill(child.pid!, 'SIGKILL') } catch { /* already gone */ }
    }, graceMs)
    child.once('exit', () => { clearTimeout(timer); resolve() })
    try { process.kill(child.pid!, 'SIGTERM') } catch { clearTimeout(timer); resolve() }
  })
}

/** Stops every tracked child (in parallel) and removes tracked directories unless `keep`. */
export async function cleanup(keep = false): Promise<void> {
  await Promise.all([...children].map((c) => stopChild(c)))
  if (!keep) for (const d of dirs) rmSync(d, { recursive: true, force: true })
  dirs.clear()
}

/** Last-resort synchronous cleanup (process 'exit'): SIGKILL by pid, remove directories. */
export function cleanupSync(keep = false): void {
  for (const c of children) {
    if (c.pid !== undefined && isRunning(c)) try { process.kill(c.pid, 'SIGKILL') } catch { /* gone */ }
  }
  if (!keep) for (const d of dirs) rmSync(d, { recursive: true, force: true })
}

/** On SIGINT/SIGTERM: stop children, remove directories, exit 130. */
export function installSignalHandlers(keep: () => boolean, onSignal?: () => void): void {
  let stopping = false
  const handler = (sig: NodeJS.Signals): void => {
    if (stopping) return
    stopping = true
    onSignal?.()
    process.stderr.write(`\n${sig}: stopping servers and removing data dirs...\n`)
    void cleanup(keep()).finally(() => process.exit(130))
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  process.on('exit', () => cleanupSync(keep()))
}
