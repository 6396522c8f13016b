// Bookkeeping for everything the bench starts: child processes (stopped by pid) and temporary
// directories (removed), on normal exit, on errors and on Ctrl-C. Never kills anything it did
// not spawn itself.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { rmSync } from 'node:fs'

const children = new Set<ChildProcess>()
const dirs = new Set<string>()

/** Spawns a tracked child; it is stopped by cleanup() if still running. */
export function spawnTracked(cmd: string, args: string[], options: SpawnOptions): ChildProcess {
  const child = spawn(cmd, args, options)
  children.add(child)
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
