// One member per data dir. A member locks its data dir (and --wal-dir) before it reads or writes
// anything in it and holds the lock until it exits; a second member on the same dir is refused
// with the holder's pid.
//
// Node has no flock(), and the lock libraries on npm either need a native build or judge a lock
// stale by its age (a member killed with kill -9 would then block restarts for seconds). So:
// - Linux: the lock is an abstract unix socket named after the dir's device and inode. Binding it
//   is exclusive on the machine (per network namespace) and the kernel releases it the moment the
//   holder dies, kill -9 and power loss included. A second starter connects to it to learn the pid.
// - Every platform: a lock file `raftkv.lock` in the dir with the holder's pid, host, boot id and
//   process start time, created atomically (link of a complete file). It tells people (and other
//   hosts on a shared file system) who holds the dir. A file whose holder is gone (other boot, dead
//   pid, pid reused by another process) is stale and taken over at once; a file written on another
//   host is never judged stale, as its pid cannot be checked from here.
// - Linux: the dir's files must not be open for writing by another process (/proc/<pid>/fd), which
//   also catches a writer that does not use this lock.
import { createServer, connect, type Server } from 'node:net'
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { hostname, uptime } from 'node:os'
import path from 'node:path'
import { StartupError, errnoWords } from './startup-error.js'

export const LOCK_FILE = 'raftkv.lock'

/** What the lock file holds. */
interface LockInfo {
  pid: number
  host: string
  /** /proc/sys/kernel/random/boot_id (Linux); '' elsewhere. */
  bootId: string
  /** Boot time in seconds since the epoch (every platform; rounded, compared with slack). */
  bootTime: number
  /** Process start time in clock ticks since boot (/proc/<pid>/stat field 22); -1 when unknown. */
  startTicks: number
}

export interface DataDirLock {
  /** The locked dir as given. */
  readonly dir: string
  /** True when the dir was missing or empty when locked: a failed start may remove what it wrote. */
  readonly wasEmpty: boolean
  /**
   * Releases the lock. `restore`: the start failed, so leave the dir as it was found (removes the
   * dir if this start created it, or what it wrote into a dir that was empty).
   */
  release(opts?: { restore?: boolean }): Promise<void>
}

const isLinux = process.platform === 'linux'

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
}

/** Field 22 of /proc/<pid>/stat (start time in ticks since boot); undefined when unavailable. */
function processStartTicks(pid: number | 'self'): number | undefined {
  const stat = readText(`/proc/${pid}/stat`)
  if (stat === undefined) return undefined
  // comm (field 2) is in parentheses and may hold spaces or ')': split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(rest[19])
  return Number.isFinite(ticks) ? ticks : undefined
}

function myLockInfo(): LockInfo {
  return {
    pid: process.pid,
    host: hostname(),
    bootId: readText('/proc/sys/kernel/random/boot_id')?.trim() ?? '',
    bootTime: Math.round(Date.now() / 1000 - uptime()),
    startTicks: processStartTicks('self') ?? -1,
  }
}

function parseLockInfo(text: string | undefined): LockInfo | undefined {
  if (text === undefined) return undefined
  try {
    const v = JSON.parse(text) as Partial<LockInfo>
    if (typeof v.pid !== 'number' || typeof v.host !== 'string') return undefined
    return { pid: v.pid, host: v.host, bootId: v.bootId ?? '', bootTime: v.bootTime ?? 0, startTicks: v.startTicks ?? -1 }
  } catch {
    return undefined
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** 'stale' when the lock file's holder is certainly gone; otherwise why it must be respected. */
function judge(holder: LockInfo, me: LockInfo): 'stale' | 'alive' | 'other-host' {
  if (holder.host !== me.host) return 'other-host'
  if (holder.bootId !== '' && me.bootId !== '') {
    if (holder.bootId !== me.bootId) return 'stale'
  } else if (Math.abs(holder.bootTime - me.bootTime) > 30) {
    return 'stale'
  }
  if (!isAlive(holder.pid)) return 'stale'
  const ticks = processStartTicks(holder.pid)
  if (holder.startTicks >= 0 && ticks !== undefined && ticks !== holder.startTicks) return 'stale' // pid reused
  return 'alive'
}

/** Linux: binds the abstract socket for (dev, ino); undefined when another process holds it. */
function bindLockSocket(name: string): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer((sock) => sock.end(JSON.stringify({ pid: process.pid }) + '\n'))
    server.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' ? resolve(undefined) : reject(e)))
    server.listen({ path: name }, () => {
      server.unref() // the lock must not keep the process alive
      resolve(server)
    })
  })
}

/** Asks the holder of the abstract socket for its pid. */
function askHolderPid(name: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    let text = ''
    const sock = connect({ path: name })
    const done = (pid: number | undefined): void => {
      clearTimeout(timer)
      sock.destroy()
      resolve(pid)
    }
    const timer = setTimeout(() => done(undefined), 3000)
    sock.setEncoding('utf8')
    sock.on('data', (d: string) => (text += d))
    sock.on('end', () => {
      try {
        const pid = (JSON.parse(text) as { pid?: unknown }).pid
        done(typeof pid === 'number' ? pid : undefined)
      } catch {
        done(undefined)
      }
    })
    sock.on('error', () => done(undefined))
  })
}

/** Creates the lock file atomically (link of a complete temp file); false if one exists. */
function createLockFile(dir: string, flag: string, file: string, info: LockInfo): boolean {
  const tmp = path.join(dir, `.${LOCK_FILE}.${process.pid}.tmp`)
  try {
    const fd = openSync(tmp, 'w', 0o644)
    try {
      writeSync(fd, JSON.stringify(info) + '\n')
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    linkSync(tmp, file)
    return true
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw new StartupError(flag, dir, `not writable: ${errnoWords(e)}`)
  } finally {
    rmSync(tmp, { force: true })
  }
}

/** Linux: another process holding a file of `dir` open for writing, if any. */
function otherWriter(dir: string): { pid: number; file: string } | undefined {
  if (!isLinux) return undefined
  const prefix = dir.endsWith('/') ? dir : dir + '/'
  let pids: string[]
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
  } catch {
    return undefined
  }
  for (const pid of pids) {
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue // gone, or not ours to see
    }
    for (const fd of fds) {
      let target: string
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`)
      } catch {
        continue
      }
      if (!target.startsWith(prefix)) continue
      const flags = /^flags:\s*([0-7]+)/m.exec(readText(`/proc/${pid}/fdinfo/${fd}`) ?? '')?.[1]
      if (flags !== undefined && (parseInt(flags, 8) & 3) !== 0) return { pid: Number(pid), file: path.relative(dir, target) }
    }
  }
  return undefined
}

/** Checks, creates if missing, and locks `dir` (the value of --`flag`). Throws StartupError. */
export async function lockDataDir(dir: string, flag = 'data-dir'): Promise<DataDirLock> {
  let created: string | undefined
  try {
    if (!statSync(dir).isDirectory()) throw new StartupError(flag, dir, 'not a directory')
  } catch (e) {
    if (e instanceof StartupError) throw e
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOTDIR') throw new StartupError(flag, dir, 'a parent of it is not a directory')
    if (code !== 'ENOENT') throw new StartupError(flag, dir, `cannot be read: ${errnoWords(e)}`)
    try {
      created = mkdirSync(dir, { recursive: true })
    } catch (e2) {
      const c2 = (e2 as NodeJS.ErrnoException).code
      throw new StartupError(flag, dir, c2 === 'ENOTDIR' || c2 === 'EEXIST' ? 'a parent of it is not a directory' : `cannot be created: ${errnoWords(e2)}`)
    }
  }
  const undoCreate = (): void => {
    if (created) rmSync(created, { recursive: true, force: true })
  }
  try {
    const real = realpathSync(dir)
    const st = statSync(real)
    let socket: Server | undefined
    if (isLinux) {
      const name = `\0raftkv-data-dir/${st.dev}/${st.ino}`
      socket = await bindLockSocket(name)
      if (!socket) {
        const pid = await askHolderPid(name)
        throw new StartupError(flag, dir, `in use by another raftkv member${pid ? ` (pid ${pid})` : ''}`)
      }
    }
    const closeSocket = (): Promise<void> => new Promise((r) => (socket ? socket.close(() => r()) : r()))
    try {
      const file = path.join(real, LOCK_FILE)
      const me = myLockInfo()
      let acquired = false
      for (let attempt = 0; attempt < 3 && !acquired; attempt++) {
        if (createLockFile(real, flag, file, me)) {
          acquired = true
          break
        }
        const holder = parseLockInfo(readText(file))
        // A lock file is linked complete; one that does not parse is damaged, not being written.
        const verdict = holder ? judge(holder, me) : 'stale'
        if (verdict === 'other-host') {
          throw new StartupError(flag, dir, `locked by pid ${holder!.pid} on host ${holder!.host}; if no raftkv member runs there on this dir, delete ${path.join(dir, LOCK_FILE)}`)
        }
        if (verdict === 'alive') throw new StartupError(flag, dir, `in use by another raftkv member (pid ${holder!.pid})`)
        rmSync(file, { force: true }) // left by a member that died; safe on Linux, where the socket is ours
      }
      if (!acquired) throw new StartupError(flag, dir, 'could not take the lock (another member is starting on it?)')
      const writer = otherWriter(real)
      if (writer) {
        rmSync(file, { force: true })
        throw new StartupError(flag, dir, `${writer.file} is open for writing by another process (pid ${writer.pid})`)
      }
      let entries: string[]
      try {
        entries = readdirSync(real)
      } catch (e) {
        rmSync(file, { force: true })
        throw new StartupError(flag, dir, `cannot be read: ${errnoWords(e)}`)
      }
      const wasEmpty = entries.filter((e) => e !== LOCK_FILE && !e.startsWith(`.${LOCK_FILE}.`)).length === 0
      // process.exit() skips release(): drop the file on the way out (the kernel drops the socket).
      removeOnExit(file, true)
      let released = false
      return {
        dir,
        wasEmpty,
        async release(opts = {}) {
          if (released) return
          released = true
          removeOnExit(file, false)
          if (opts.restore && created) undoCreate()
          else if (opts.restore && wasEmpty) for (const e of readdirSync(real)) rmSync(path.join(real, e), { recursive: true, force: true })
          else removeIfOurs(file)
          await closeSocket()
        },
      }
    } catch (e) {
      await closeSocket()
      throw e
    }
  } catch (e) {
    undoCreate()
    throw e
  }
}

/** Lock files of this process, removed when it exits (one listener for every member it runs). */
const heldFiles = new Set<string>()
let exitHookInstalled = false

function removeOnExit(file: string, add: boolean): void {
  if (!add) {
    heldFiles.delete(file)
    return
  }
  heldFiles.add(file)
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.on('exit', () => {
      for (const f of heldFiles) removeIfOurs(f)
    })
  }
}

function removeIfOurs(file: string): void {
  const holder = parseLockInfo(readText(file))
  if (holder?.pid === process.pid && holder.host === hostname()) {
    try {
      unlinkSync(file)
    } catch {
      // already gone
    }
  }
}

/**
 * Locks a separate --wal-dir. The WAL is created by renaming a finished temp dir over this path, so
 * nothing else may live in it and its inode changes: it is locked by name (the parent's device and
 * inode, plus its own name) with the socket only (Linux), and refused when one of its files is open
 * for writing by another process. Throws StartupError.
 */
export async function lockWalDir(dir: string, flag = 'wal-dir'): Promise<DataDirLock> {
  let existed = true
  let wasEmpty = true
  try {
    if (!statSync(dir).isDirectory()) throw new StartupError(flag, dir, 'not a directory')
    wasEmpty = readdirSync(dir).length === 0
  } catch (e) {
    if (e instanceof StartupError) throw e
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOTDIR') throw new StartupError(flag, dir, 'a parent of it is not a directory')
    if (code !== 'ENOENT') throw new StartupError(flag, dir, `cannot be read: ${errnoWords(e)}`)
    existed = false
  }
  const parent = path.dirname(path.resolve(dir))
  let createdParent: string | undefined
  try {
    createdParent = mkdirSync(parent, { recursive: true })
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new StartupError(flag, dir, code === 'ENOTDIR' || code === 'EEXIST' ? 'a parent of it is not a directory' : `cannot be created: ${errnoWords(e)}`)
  }
  const undoParent = (): void => {
    if (createdParent) rmSync(createdParent, { recursive: true, force: true })
  }
  let socket: Server | undefined
  try {
    if (isLinux) {
      const pst = statSync(realpathSync(parent))
      const name = `\0raftkv-wal-dir/${pst.dev}/${pst.ino}/${path.basename(path.resolve(dir))}`
      socket = await bindLockSocket(name)
      if (!socket) {
        const pid = await askHolderPid(name)
        throw new StartupError(flag, dir, `in use by another raftkv member${pid ? ` (pid ${pid})` : ''}`)
      }
    }
    const writer = existed ? otherWriter(realpathSync(dir)) : undefined
    if (writer) throw new StartupError(flag, dir, `${writer.file} is open for writing by another process (pid ${writer.pid})`)
  } catch (e) {
    await new Promise<void>((r) => (socket ? socket.close(() => r()) : r()))
    undoParent()
    throw e
  }
  let released = false
  return {
    dir,
    wasEmpty: !existed || wasEmpty,
    async release(opts = {}) {
      if (released) return
      released = true
      if (opts.restore) {
        if (createdParent) undoParent()
        else if (!existed) rmSync(dir, { recursive: true, force: true })
        else if (wasEmpty) for (const e of readdirSync(dir)) rmSync(path.join(dir, e), { recursive: true, force: true })
      }
      await new Promise<void>((r) => (socket ? socket.close(() => r()) : r()))
    },
  }
}
