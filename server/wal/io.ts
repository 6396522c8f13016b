// The few file operations the write paths of the WAL and the snapshotter use, behind an interface
// so tests can inject ENOSPC / EIO at the exact call (disk-full and failing-disk tests). Production
// uses realIo. Must not: buffer, retry or swallow errors (the caller decides what a failure means).

import fs from 'node:fs'
import { constants } from 'node:os'

export interface WalIo {
  /** Writes all of buf at pos (looping over short writes). */
  write(fd: number, buf: Buffer, pos: number): Promise<void>
  writeSync(fd: number, buf: Buffer, pos: number): void
  fdatasync(fd: number): Promise<void>
  fdatasyncSync(fd: number): void
}

function writeOnce(fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.write(fd, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n)))
  })
}

export const realIo: WalIo = {
  async write(fd, buf, pos) {
    let done = 0
    while (done < buf.length) done += await writeOnce(fd, buf, done, buf.length - done, pos + done)
  },
  writeSync(fd, buf, pos) {
    let done = 0
    while (done < buf.length) done += fs.writeSync(fd, buf, done, buf.length - done, pos + done)
  },
  fdatasync(fd) {
    return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())))
  },
  fdatasyncSync(fd) {
    fs.fdatasyncSync(fd)
  },
}

// ---- fault injection (tests only) ----

/** Where a disk fault hits: which writer, which operation, which error, from when on. */
export interface IoFault {
  /** The WAL's or the snapshotter's file operations. */
  target: 'wal' | 'snap'
  op: 'write' | 'fdatasync'
  /** A system error code: EIO, ENOSPC, EDQUOT, EROFS. */
  errno: string
  /** Calls of `op` that still succeed before the first failure. Default 0. */
  after?: number
  /** Fail only once this file exists (the test arms the fault when it wants it). */
  armFile?: string
}

const MESSAGES: Record<string, string> = {
  EIO: 'i/o error',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
}

/**
 * Parses `<wal|snap>:<write|fdatasync>:<ERRNO>[:after=N][:when=<file>]`, the form of the test-only
 * RAFTKV_TEST_FAULT variable, e.g. `wal:fdatasync:EIO:when=/tmp/t/arm`. Throws on anything else.
 */
export function parseIoFault(spec: string): IoFault {
  const [target, op, errno, ...rest] = spec.split(':')
  if ((target !== 'wal' && target !== 'snap') || (op !== 'write' && op !== 'fdatasync') || !errno || !(errno in MESSAGES)) {
    throw new Error(`bad fault spec "${spec}": want <wal|snap>:<write|fdatasync>:<${Object.keys(MESSAGES).join('|')}>[:after=N][:when=<file>]`)
  }
  const fault: IoFault = { target, op, errno }
  for (const part of rest) {
    // `when=` takes the rest of the spec: a path may contain ':'.
    if (part.startsWith('when=')) {
      fault.armFile = [part.slice(5), ...rest.slice(rest.indexOf(part) + 1)].join(':')
      break
    }
    const m = /^after=(\d+)$/.exec(part)
    if (!m) throw new Error(`bad fault spec "${spec}": unknown part "${part}"`)
    fault.after = Number(m[1])
  }
  return fault
}

/**
 * `base` with `fault` injected: once armed and past `after` calls, every call of the faulty
 * operation fails with a Node-style system error (code, errno, syscall), as a full or failing disk
 * keeps failing. Other operations pass through.
 */
export function faultyIo(fault: IoFault, base: WalIo = realIo): WalIo {
  let calls = 0
  const fails = (): boolean => {
    if (fault.armFile !== undefined && !fs.existsSync(fault.armFile)) return false
    return ++calls > (fault.after ?? 0)
  }
  const error = (syscall: string): Error =>
    Object.assign(new Error(`${fault.errno}: ${MESSAGES[fault.errno]}, ${syscall}`), {
      code: fault.errno,
      errno: -((constants.errno as Record<string, number>)[fault.errno] ?? 5),
      syscall,
    })
  if (fault.op === 'write') {
    return {
      ...base,
      write: (fd, buf, pos) => (fails() ? Promise.reject(error('write')) : base.write(fd, buf, pos)),
      writeSync: (fd, buf, pos) => {
        if (fails()) throw error('write')
        base.writeSync(fd, buf, pos)
      },
    }
  }
  return {
    ...base,
    fdatasync: (fd) => (fails() ? Promise.reject(error('fdatasync')) : base.fdatasync(fd)),
    fdatasyncSync: (fd) => {
      if (fails()) throw error('fdatasync')
      base.fdatasyncSync(fd)
    },
  }
}
