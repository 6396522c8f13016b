// Process helpers for the operations tests: spawn raftkv (or npm) as a user would, collect its
// output, find its descendants, wait for conditions with a bound. Every child is remembered and
// killed by pid (its process group when it has one) at the end of a suite.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const ROOT = new URL('../..', import.meta.url).pathname
export const CLI = join(ROOT, 'server/cli.ts')

export interface Proc {
  child: ChildProcess
  pid: number
  out: () => string
  err: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** The process group leader when spawned detached. */
  group: boolean
}

const live = new Set<Proc>()
/** Process groups started here: their members may outlive the leader (an orphaned server). */
const groups = new Set<number>()
const dirs: string[] = []

export function spawnProc(cmd: string, args: string[], opts: SpawnOptions & { group?: boolean } = {}): Proc {
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.group ?? false,
    ...opts,
  })
  let out = ''
  let err = ''
  child.stdout?.on('data', (c) => (out += String(c)))
  child.stderr?.on('data', (c) => (err += String(c)))
  const p: Proc = {
    child,
    pid: child.pid!,
    out: () => out,
    err: () => err,
    group: opts.group ?? false,
    exited: new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        live.delete(p)
        resolve({ code, signal })
      }),
    ),
  }
  live.add(p)
  if (p.group) groups.add(p.pid)
  return p
}

/** raftkv from the sources, as `node --import tsx server/cli.ts ...args`. */
export function raftkv(args: string[], opts: SpawnOptions & { group?: boolean } = {}): Proc {
  return spawnProc(process.execPath, ['--import', 'tsx', CLI, ...args], opts)
}

/** Kills every child still running (SIGKILL, whole group when detached) and removes temp dirs. */
export async function cleanup(): Promise<void> {
  for (const p of [...live]) {
    for (const pid of descendants(p.pid)) tryKill(pid, 'SIGKILL')
    if (p.group) tryKill(-p.pid, 'SIGKILL')
    tryKill(p.pid, 'SIGKILL')
  }
  for (const g of groups) tryKill(-g, 'SIGKILL')
  groups.clear()
  await Promise.all([...live].map((p) => within(p.exited, 5000, 'child exit').catch(() => undefined)))
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
}

export function tryKill(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, signal)
    return true
  } catch {
    return false
  }
}

export function alive(pid: number): boolean {
  if (!tryKill(pid, 0)) return false
  // A zombie (exited, not yet reaped) is not running.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

/** Every descendant pid of `pid` (Linux /proc). */
export function descendants(pid: number): number[] {
  const parent = new Map<number, number>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      parent.set(Number(name), ppid)
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = []
  const walk = (p: number): void => {
    for (const [child, pp] of parent) {
      if (pp === p) {
        out.push(child)
        walk(child)
      }
    }
  }
  walk(pid)
  return out
}

export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)))
  try {
    return await Promise.race([p, t])
  } finally {
    clearTimeout(timer)
  }
}

export async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  for (;;) {
    try {
      if (await cond()) return
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** True when nothing listens on 127.0.0.1:port (binding it succeeds). */
export async function portFree(port: number): Promise<boolean> {
  const s = createServer()
  const ok = await new Promise<boolean>((resolve) => {
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => resolve(true))
  })
  if (ok) await new Promise((r) => s.close(r))
  return ok
}

export function tempDir(prefix = 'raftkv-ops-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix))
  dirs.push(d)
  return d
}

/** Flags of a one-member cluster on the given ports and data dir. */
export function memberFlags(dataDir: string, client: number, peer: number, name = 'default'): string[] {
  const c = `http://127.0.0.1:${client}`
  const p = `http://127.0.0.1:${peer}`
  return [
    '--name', name, '--data-dir', dataDir,
    '--listen-client-urls', c, '--advertise-client-urls', c,
    '--listen-peer-urls', p, '--initial-advertise-peer-urls', p,
    '--initial-cluster', `${name}=${p}`,
  ]
}

/**
 * A digest of a directory tree: names, modes, and each file's size, mtime and contents ('' when
 * missing). Directory mtimes are left out: a lock file created and removed again changes them.
 */
export function treeDigest(dir: string): string {
  const h = createHash('sha256')
  const walk = (d: string, rel: string): void => {
    for (const name of readdirSync(d).sort()) {
      const full = join(d, name)
      const st = statSync(full)
      h.update(st.isDirectory() ? `${rel}/${name}/ ${st.mode}\n` : `${rel}/${name} ${st.mode} ${st.size} ${st.mtimeMs}\n`)
      if (st.isDirectory()) walk(full, `${rel}/${name}`)
      else if (st.isFile()) h.update(readFileSync(full))
    }
  }
  try {
    const st = statSync(dir)
    h.update(`${st.mode}\n`)
    if (st.isDirectory()) walk(dir, '')
    else h.update(readFileSync(dir))
  } catch {
    return ''
  }
  return h.digest('hex')
}

/** Resolves once the member answers a quorum read on `url`. */
export async function waitServing(url: string, ms = 30_000): Promise<void> {
  await waitFor(async () => (await fetch(`${url}/v2/keys/?quorum=true`)).status === 200, ms, `${url} serving`)
}
